"""Block tests: every rtl/ component in Amaranth's simulator against its hwsim twin.

Inputs come from the shared table :mod:`hwsim.edge_cases` (each failure names its case) and,
for formats of 8 bits or less, from exhaustive sweeps. Raw integers are compared, never floats.
"""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.sim import Simulator

from hwsim import twins
from hwsim.config import Activation, EngineConfig, config_from_dict, load_config
from hwsim.edge_cases import CASES, Domain, named_values
from hwsim.formats import FixedFormat, Overflow, Rounding, requantize
from rtl.activation import ActivationUnit
from rtl.argmax import Argmax
from rtl.arith import shape_of
from rtl.error import OutputError
from rtl.mac import MacLanes
from rtl.randvec import RandomVectorGen
from rtl.requant import Requantizer
from rtl.rng import LaneRng
from rtl.update import UpdateLanes, WeightChange

RNG = np.random.default_rng(2021)


def simulate(dut, bench, clocked: bool = False):
    """Run ``await bench(ctx)`` on ``dut`` (combinational unless ``clocked``)."""
    sim = Simulator(dut)
    if clocked:
        sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def variant(base: str = "small", **changes) -> EngineConfig:
    """A config derived from configs/<base>.yaml through its canonical dict (so it is validated)."""
    d = load_config(base).to_dict()
    for key, value in changes.items():
        target, *path = key.split("__")
        node = d
        if target.startswith("layer"):
            node = d["layers"][int(target[5:])]
            target = path.pop(0)
        for p in path:
            node = node.setdefault(target, {})
            target = p
        node[target] = value
    return config_from_dict(d, origin="variant")


def fmt_values(fmt: FixedFormat, limit: int = 256) -> list[int]:
    """Every raw value of ``fmt`` when there are at most ``limit`` of them, else its edge cases."""
    if fmt.width <= 8 and 1 << fmt.width <= limit:
        return list(range(fmt.min_raw, fmt.max_raw + 1))
    return [raw for _, raw in named_values(Domain(fmt))]


# ---------------------------------------------------------------------------------------------
# the edge-case table itself
# ---------------------------------------------------------------------------------------------

def test_edge_case_table_is_named_and_reaches_every_boundary():
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
    src, dst = FixedFormat(12, 8, True), FixedFormat(2, 4, True, Rounding.RND, Overflow.SAT)
    hit = {name for name, _ in named_values(Domain(src, 4, dst))}
    assert {"tie_even", "tie_odd", "sat_hi", "over_hi", "sat_lo", "under_lo", "min", "max"} <= hit


# ---------------------------------------------------------------------------------------------
# requantizer: all roundings x overflows x shifts, exhaustive for 8-bit sources
# ---------------------------------------------------------------------------------------------

REQUANT_CASES = [
    (signed, shift, rounding, overflow)
    for signed in (True, False)
    for shift in (-2, 0, 1, 3)
    for rounding in Rounding
    for overflow in Overflow
]


@pytest.mark.parametrize("signed,shift,rounding,overflow", REQUANT_CASES,
                         ids=[f"{'s' if s else 'u'}8-shift{sh}-{r.value}-{o.value}" for s, sh, r, o in REQUANT_CASES])
def test_requantizer_exhaustive_8bit(signed, shift, rounding, overflow):
    src = FixedFormat(5, 3, signed)  # 8 bits: every raw value is swept
    dst = FixedFormat(3, 3 - shift, True, rounding, overflow)
    dut = Requantizer(shape_of(src), src.frac_bits, dst, rand_bits=9)
    rands = range(1 << shift) if rounding is Rounding.STOCH and shift > 0 else [0]
    failures = []

    async def bench(ctx):
        for raw in range(src.min_raw, src.max_raw + 1):
            ctx.set(dut.i_value, raw)
            for rand in rands:
                if dut.stochastic:
                    ctx.set(dut.i_rand, rand | (0b101 << shift))  # high bits must be ignored
                want = requantize(raw, src.frac_bits, dst, rand)
                if ctx.get(dut.o_value) != want:
                    failures.append((raw, rand, ctx.get(dut.o_value), want))

    simulate(dut, bench)
    assert not failures, failures[:5]


def _config_requantizers():
    """Every requantization the two shipped RTL configs perform, with the source format it sees."""
    out = []
    for name in ("small", "paper-784-500-10"):
        cfg = load_config(name)
        for k, layer in enumerate(cfg.layers):
            acc = cfg.acc_format(k)
            out.append((f"{name}-L{k}-acc-preact", acc, layer.preact))
            clipped = FixedFormat(layer.preact.int_bits + 1, layer.preact.frac_bits, True)
            out.append((f"{name}-L{k}-clip-act", clipped, layer.act))
            if layer.error is not None:
                diff = FixedFormat(layer.act.int_bits + 1, layer.act.frac_bits, True)
                out.append((f"{name}-L{k}-error", diff, layer.error))
    return out


@pytest.mark.parametrize("name,src,dst", _config_requantizers(), ids=[c[0] for c in _config_requantizers()])
def test_requantizer_config_edge_cases(name, src, dst):
    dut = Requantizer(shape_of(src), src.frac_bits, dst)
    dom = Domain(src, src.frac_bits - dst.frac_bits, dst)
    cases = list(named_values(dom)) + [("random", int(v)) for v in RNG.integers(src.min_raw, src.max_raw, 200)]
    failures = []

    async def bench(ctx):
        for case, raw in cases:
            ctx.set(dut.i_value, raw)
            want = requantize(raw, src.frac_bits, dst)
            if ctx.get(dut.o_value) != want:
                failures.append((case, raw, ctx.get(dut.o_value), want))

    simulate(dut, bench)
    assert not failures, failures[:5]


# ---------------------------------------------------------------------------------------------
# activation unit: every kind, every pre-activation of 8-bit formats
# ---------------------------------------------------------------------------------------------

ACT_CASES = [
    (kind, preact, act)
    for kind in Activation
    for preact in (FixedFormat(2, 6, True), FixedFormat(3, 4, True), FixedFormat(2, 1, True))
    for act in (FixedFormat(1, 7, kind is Activation.HARD_TANH, Rounding.TRN),
                FixedFormat(2, 2, True, Rounding.RND_CONV, Overflow.WRAP),
                FixedFormat(1, 3, True, Rounding.RND, Overflow.SAT))
    if not (kind is Activation.HARD_TANH and not act.signed)
]


@pytest.mark.parametrize("kind,preact,act", ACT_CASES,
                         ids=[f"{k.value}-{p}-{a}-{a.rounding.value}-{a.overflow.value}" for k, p, a in ACT_CASES])
def test_activation_unit_exhaustive(kind, preact, act):
    dut = ActivationUnit(kind, preact, act)
    failures = []

    async def bench(ctx):
        for z in range(preact.min_raw, preact.max_raw + 1):
            ctx.set(dut.i_z, z)
            want = twins.activation_unit(kind, preact, act, z)
            got = (ctx.get(dut.o_y), ctx.get(dut.o_deriv))
            if got != want:
                failures.append((z, got, want))

    simulate(dut, bench)
    assert not failures, failures[:5]


# ---------------------------------------------------------------------------------------------
# output-error unit
# ---------------------------------------------------------------------------------------------

ERROR_CASES = [
    ("small", {}),
    ("small-sign", {"layer1__error__signal": "sign"}),
    ("wrap-trn", {"layer1__error__format": "s1.3", "layer1__error__rounding": "trn",
                  "layer1__error__overflow": "wrap"}),
    ("rnd-conv", {"layer1__error__format": "s2.4", "layer1__error__rounding": "rnd_conv"}),
    ("sigmoid-u0.8", {"layer1__activation__format": "u0.8"}),  # 1.0 is not representable: target = max
]


@pytest.mark.parametrize("name,changes", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_output_error_exhaustive(name, changes):
    layer = variant(**changes).layers[-1]
    dut = OutputError(layer)
    failures = []

    async def bench(ctx):
        for y in range(layer.act.min_raw, layer.act.max_raw + 1):
            for is_label in (0, 1):
                ctx.set(dut.i_y, y)
                ctx.set(dut.i_is_label, is_label)
                want = twins.output_delta(y, bool(is_label), layer)
                if ctx.get(dut.o_delta) != want:
                    failures.append((y, is_label, ctx.get(dut.o_delta), want))

    simulate(dut, bench)
    assert not failures, failures[:5]


# ---------------------------------------------------------------------------------------------
# MAC lanes: every weight x input of 4-bit formats, accumulator overflow both ways
# ---------------------------------------------------------------------------------------------

MAC_CASES = [(acc_bits, ovf, bias) for acc_bits in (9, 12) for ovf in ("wrap", "sat") for bias in (True, False)]


@pytest.mark.parametrize("acc_bits,ovf,bias", MAC_CASES, ids=[f"acc{a}-{o}-bias{b}" for a, o, b in MAC_CASES])
def test_mac_lanes_exhaustive_4bit(acc_bits, ovf, bias):
    cfg = variant(topology=[6, 8, 3], lanes=4, bias=bias, input={"format": "u0.4"},
                  layer0__weight={"format": "s1.3", "overflow": "sat"},
                  layer0__accumulator={"bits": acc_bits, "overflow": ovf})
    k, P = 0, cfg.lanes
    dut = MacLanes(cfg, k)
    w_fmt, a_fmt = cfg.layers[k].weight, cfg.in_format(k)
    weights = list(range(w_fmt.min_raw, w_fmt.max_raw + 1))
    inputs = list(range(a_fmt.min_raw, a_fmt.max_raw + 1)) + (["bias"] if bias else [])
    failures = []

    async def issue(ctx, model, w, a, first):
        """Present one column (one cycle, enabled); the twin's sums after it."""
        is_bias = a == "bias"
        ctx.set(dut.i_en, 1)
        ctx.set(dut.i_first, int(first))
        ctx.set(dut.i_bias, int(is_bias))
        ctx.set(dut.i_weights, w)
        ctx.set(dut.i_act, 0 if is_bias else a)
        await ctx.tick()
        return [twins.mac_step(model[p], w[p], 0 if is_bias else a, is_bias, first, cfg, k) for p in range(P)]

    async def drain(ctx, model, what):
        """Idle until the last column's sum is out (MacLanes.LATENCY), then compare."""
        ctx.set(dut.i_en, 0)
        for _ in range(MacLanes.LATENCY - 1):
            await ctx.tick()
        got = [ctx.get(dut.o_acc[p]) for p in range(P)]
        if got != model:
            failures.append((what, got, model))

    async def bench(ctx):
        # every weight x every input (and the bias), as a first column and accumulated twice more,
        # each column alone (the pipeline drained after it)
        for wq in range(0, len(weights), P):
            w = weights[wq:wq + P]
            for a in inputs:
                model = [0] * P
                for n in range(3):
                    model = await issue(ctx, model, w, a, n == 0)
                    await drain(ctx, model, (w, a, n))
        # walk the sum across the accumulator's max and min (sat_hi/over_hi/sat_lo/under_lo),
        # one column per cycle back to back, as the layer issues them
        acc = cfg.acc_format(k)
        for w in ([w_fmt.max_raw] * P, [w_fmt.min_raw] * P):
            model = await issue(ctx, [0] * P, w, a_fmt.max_raw, True)
            for _ in range((acc.max_raw - acc.min_raw) // (w_fmt.max_raw * a_fmt.max_raw) + 3):
                model = await issue(ctx, model, w, a_fmt.max_raw, False)
            await drain(ctx, model, ("walk", w[0]))
        # every input in turn, back to back, each a first column every third cycle
        model = [0] * P
        for n, a in enumerate(inputs * 2):
            model = await issue(ctx, model, weights[-P:], a, n % 3 == 0)
        await drain(ctx, model, "back to back")
        # a disabled cycle holds the sum
        ctx.set(dut.i_en, 0)
        before = [ctx.get(dut.o_acc[p]) for p in range(P)]
        await ctx.tick()
        if [ctx.get(dut.o_acc[p]) for p in range(P)] != before:
            failures.append("i_en=0 changed the accumulator")

    simulate(dut, bench, clocked=True)
    assert not failures, failures[:5]


# ---------------------------------------------------------------------------------------------
# update lanes: rule x rounding x drop sign x weight overflow, exhaustive over 4-bit formats
# ---------------------------------------------------------------------------------------------

UPDATE_CASES = [
    ("shift-stoch-drop+", {"layer0__update": {"rule": "shift", "shift": 4, "rounding": "stoch"}}),
    ("shift-trn-drop+", {"layer0__update": {"rule": "shift", "shift": 4, "rounding": "trn"}}),
    ("shift-rnd-drop+", {"layer0__update": {"rule": "shift", "shift": 3, "rounding": "rnd"}}),
    ("shift-rndconv-drop+", {"layer0__update": {"rule": "shift", "shift": 3, "rounding": "rnd_conv"}}),
    ("shift-stoch-drop>L", {"layer0__update": {"rule": "shift", "shift": 14, "rounding": "stoch"},
                            "stochastic_rng": {"lfsr_bits": 9, "seed": 5}}),
    ("shift-trn-drop-", {"layer0__update": {"rule": "shift", "shift": 0, "rounding": "trn"},
                         "layer0__weight": {"format": "s2.6", "overflow": "sat"}}),
    ("shift-stoch-wrap", {"layer0__update": {"rule": "shift", "shift": 2, "rounding": "stoch"},
                          "layer0__weight": {"format": "s1.3", "overflow": "wrap"}}),
    ("sign-sat", {"layer0__update": {"rule": "sign"}}),
    ("sign-wrap", {"layer0__update": {"rule": "sign"}, "layer0__weight": {"format": "s1.3", "overflow": "wrap"}}),
    ("output-error-signed-input", {}),
    ("output-sign-signal", {"layer1__error__signal": "sign"}),
    ("output-sign-rule-signed-input", {"layer1__update": {"rule": "sign"}}),
]


@pytest.mark.parametrize("name,changes", UPDATE_CASES, ids=[c[0] for c in UPDATE_CASES])
def test_update_lanes(name, changes):
    base = {"topology": [6, 8, 3], "lanes": 4, "input": {"format": "u0.4"},
            "layer0__weight": {"format": "s1.3", "overflow": "sat"},
            "layer0__activation": {"kind": "hard_tanh", "format": "s1.3"},
            "layer1__weight": {"format": "s1.3", "overflow": "sat"},
            "layer1__error": {"format": "s2.2", "rounding": "rnd", "overflow": "sat"},
            "layer1__update": {"rule": "shift", "shift": 2, "rounding": "stoch"}}
    base.update(changes)
    cfg = variant(**base)
    k = 1 if name.startswith("output") else 0  # layer 1's input is hard_tanh's signed s1.3
    P, L = cfg.lanes, cfg.rng_lfsr_bits
    dut = WeightChange(cfg, k)          # the change, then the write-back add
    add = UpdateLanes(cfg, k)
    top = Module()
    top.submodules.change, top.submodules.add = dut, add
    top.d.comb += add.i_dw.eq(dut.o_dw)
    w_fmt, a_fmt, d_fmt = cfg.layers[k].weight, cfg.in_format(k), cfg.delta_format(k)
    weights = fmt_values(w_fmt)
    deltas = fmt_values(d_fmt)
    acts = fmt_values(a_fmt) + ["bias"]
    drop = cfg.update_drop_bits(k)
    words = [0, (1 << L) - 1, 1 << max(0, min(drop, L) - 1)] + [int(v) for v in RNG.integers(1, 1 << L, 3)]
    failures = []

    async def bench(ctx):
        for a in acts:
            is_bias = a == "bias"
            ctx.set(dut.i_bias, int(is_bias))
            ctx.set(dut.i_act, 0 if is_bias else a)
            for delta in deltas:
                ctx.set(dut.i_deltas, [delta] * P)
                for _ in range(WeightChange.LATENCY):   # the operands, then the products registered
                    await ctx.tick()
                for wq in range(0, len(weights), P):
                    lane_w = (weights[wq:wq + P] + weights[:P])[:P]
                    ctx.set(add.i_weights, lane_w)
                    for wi in range(0, len(words), P if dut.stochastic else len(words)):
                        lane_words = (words[wi:wi + P] + words[:P])[:P]
                        if dut.stochastic:
                            ctx.set(dut.i_words, lane_words)
                        got = [ctx.get(add.o_weights[p]) for p in range(P)]
                        want = [twins.update_weight(lane_w[p], delta, 0 if is_bias else a, is_bias,
                                                    lane_words[p], cfg, k) for p in range(P)]
                        changes = [twins.weight_change(delta, 0 if is_bias else a, is_bias, lane_words[p], cfg, k)
                                   for p in range(P)]
                        got_dw = [ctx.get(dut.o_dw[p]) for p in range(P)]
                        if got != want or got_dw != changes or ctx.get(dut.o_nonzero) != any(changes):
                            failures.append((a, delta, lane_w, lane_words, got, want, got_dw, changes))

    simulate(top, bench, clocked=True)
    assert not failures, failures[:5]


# ---------------------------------------------------------------------------------------------
# stochastic lane LFSRs and DRTP random vectors
# ---------------------------------------------------------------------------------------------

RNG_CASES = [(4, 16, 0xACE1), (3, 9, 5), (16, 16, 44257), (5, 24, 0xBEEF)]


@pytest.mark.parametrize("lanes,bits,seed", RNG_CASES, ids=[f"P{p}-L{b}" for p, b, _ in RNG_CASES])
def test_lane_rng_follows_the_global_word_order(lanes, bits, seed):
    cfg = variant(topology=[16, 16, 3], lanes=lanes, stochastic_rng={"lfsr_bits": bits, "seed": seed})
    dut = LaneRng(cfg)
    failures = []

    async def bench(ctx):
        for cycle in range(12):
            got = [ctx.get(dut.o_words[p]) for p in range(lanes)]
            if got != twins.lane_words(cfg, cycle):
                failures.append((cycle, got, twins.lane_words(cfg, cycle)))
            ctx.set(dut.i_advance, cycle % 3 != 2)  # idle cycles must not move the words
            await ctx.tick()
            if cycle % 3 == 2:
                ctx.set(dut.i_advance, 1)
                await ctx.tick()
                got = [ctx.get(dut.o_words[p]) for p in range(lanes)]
                if got != twins.lane_words(cfg, cycle + 1):
                    failures.append(("after-idle", cycle, got))
                break

    simulate(dut, bench, clocked=True)
    assert not failures, failures[:3]


RV_CASES = [
    ("lfsr-P4", {}),
    ("lfsr-P5-ragged", {"lanes": 5}),
    ("lfsr-P24-wider-than-L", {"topology": [64, 48, 10], "lanes": 24}),
    ("lfsr-L9", {"random_vectors": {"source": "lfsr", "lfsr_bits": 9, "seeds": [77]}}),
    ("rom-P4", {"random_vectors": {"source": "rom", "seeds": [467]}}),
    ("rom-P5-ragged", {"random_vectors": {"source": "rom", "seeds": [9]}, "lanes": 5}),
]


@pytest.mark.parametrize("name,changes", RV_CASES, ids=[c[0] for c in RV_CASES])
def test_random_vector_generator_every_label(name, changes):
    cfg = variant(**changes)
    k, G = 0, cfg.groups(0)
    dut = RandomVectorGen(cfg, k)
    failures = []

    async def bench(ctx):
        for label in [3, 0, cfg.n_classes - 1] + list(range(cfg.n_classes)):
            ctx.set(dut.i_label, label)
            ctx.set(dut.i_start, 1)
            await ctx.tick()
            ctx.set(dut.i_start, 0)
            for g in range(G):
                want = twins.random_bits(cfg, k, label, g)
                bits = ctx.get(dut.o_bits)
                got = [(bits >> p) & 1 if want[p] is not None else None for p in range(cfg.lanes)]
                if got != want:
                    failures.append((label, g, got, want))
                ctx.set(dut.i_next, 1)
                await ctx.tick()
                ctx.set(dut.i_next, 0)
                if g % 2:  # a stall between groups keeps the bits
                    await ctx.tick()

    simulate(dut, bench, clocked=True)
    assert not failures, failures[:3]


# ---------------------------------------------------------------------------------------------
# argmax
# ---------------------------------------------------------------------------------------------

ARGMAX_CASES = [(4, 10), (4, 8), (16, 10), (3, 7), (1, 3)]


@pytest.mark.parametrize("lanes,count", ARGMAX_CASES, ids=[f"P{p}-n{n}" for p, n in ARGMAX_CASES])
def test_argmax_first_index_of_max(lanes, count):
    fmt = FixedFormat(2, 3, True)
    dut = Argmax(shape_of(fmt), lanes, count)
    G = -(-count // lanes)
    vectors = [
        ("all-equal", [0] * count), ("all-min", [fmt.min_raw] * count), ("all-max", [fmt.max_raw] * count),
        ("max-last", [fmt.min_raw] * (count - 1) + [fmt.max_raw]),
        ("tie-first-and-last", [fmt.max_raw] + [0] * (count - 2) + [fmt.max_raw]),
        ("negative", [-1 - (j % 3) for j in range(count)]),
    ] + [("random", [int(v) for v in RNG.integers(fmt.min_raw, fmt.max_raw + 1, count)]) for _ in range(30)]
    failures = []

    async def bench(ctx):
        for name, values in vectors:
            padded = values + [fmt.max_raw] * (G * lanes - count)  # padding must never win
            for g in range(G):
                ctx.set(dut.i_valid, 1)
                ctx.set(dut.i_first, int(g == 0))
                ctx.set(dut.i_base, g * lanes)
                ctx.set(dut.i_values, padded[g * lanes:(g + 1) * lanes])
                ctx.set(dut.i_mask, sum(1 << p for p in range(lanes) if g * lanes + p < count))
                if g == G - 1 and ctx.get(dut.o_index) != twins.argmax_first(values):
                    failures.append((name, values, ctx.get(dut.o_index)))
                await ctx.tick()
            ctx.set(dut.i_valid, 0)
            if ctx.get(dut.o_index) != twins.argmax_first(values):
                failures.append(("held", name, values))

    simulate(dut, bench, clocked=True)
    assert not failures, failures[:3]
