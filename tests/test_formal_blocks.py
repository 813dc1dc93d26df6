"""Formal proofs of the blocks (rtl.formal): twin == spec by simulation, spec == block by SymbiYosys.

* ``test_spec_matches_twin``: each specification (rtl/formal/spec.py) in Amaranth's simulator against
  its Python twin (hwsim.twins, hwsim.formats, hwsim.lfsr) on the shared edge-case table
  (hwsim.edge_cases) plus random vectors, at the widths of the proof table;
* ``test_block_equals_spec``: the sby proofs, one row of the table each (W = 8 unmarked, wide rows slow);
* ``test_broken_block_is_caught``: a block with one realistic bug must give a counterexample (for the
  multiplier blocks: accumulator overflow, update rounding, stochastic word, operand register);
* ``test_a_false_lemma_fails_its_row`` / ``test_cut_points_are_found_by_name``: the compositional proof
  of MacLanes / WeightChange (docs/verification.md) rests on lemma jobs and named registers that are checked;
* the ``python -m rtl.formal`` command: its table, its JSON, its errors.
"""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
from dataclasses import replace
from itertools import product
from unittest.mock import patch

import numpy as np
import pytest

from amaranth.hdl import Assert, Assume, Module, Mux, Signal, Value
from amaranth.sim import Simulator

from hwsim import lfsr, twins
from hwsim.edge_cases import Domain, named_values
from hwsim.formats import FixedFormat, Overflow, Rounding, apply_overflow, requantize
import rtl.mac
import rtl.update
from rtl.activation import ActivationUnit
from rtl.arith import fit, inside, requantize as rtl_requantize, saturate, shape_of, shift_round
from rtl.formal import miter
from rtl.formal.jobs import WIDTHS, Proof, proofs
from rtl.formal.sby import run_sby
from rtl.lfsr import leap_rows
from rtl.mac import MacLanes
from rtl.requant import Requantizer
from rtl.update import WeightChange

RNG = np.random.default_rng(18)
RANDOM = 60    # random vectors per spec and row, on top of the edge cases


def _values(fmt: FixedFormat, shift: int = 0, dst: FixedFormat | None = None, n: int = RANDOM) -> list[int]:
    edges = [raw for _, raw in named_values(Domain(fmt, shift, dst))]
    return edges + [int(v) for v in RNG.integers(fmt.min_raw, fmt.max_raw + 1, n)]


def _simulate(dut, bench) -> None:
    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()


# ---------------------------------------------------------------------------------------------
# twin == spec (simulation), at every width of the table
# ---------------------------------------------------------------------------------------------

def _check_requant(p: Proof, dut, fail):
    src, dst = p.params["src"], p.params["dst"]
    shift = src.frac_bits - dst.frac_bits
    rands = [0, 1, (1 << 16) - 1] + [int(v) for v in RNG.integers(0, 1 << 16, 3)]

    async def bench(ctx):
        for raw in _values(src, shift, dst):
            ctx.set(dut.i_value, raw)
            for rand in (rands if dut.drop > 0 and dut.rounding is Rounding.STOCH else [0]):
                if "i_rand" in dut.signature.members:
                    ctx.set(dut.i_rand, rand)
                want = requantize(raw, src.frac_bits, dst, rand)
                if ctx.get(dut.o_value) != want:
                    fail((raw, rand, ctx.get(dut.o_value), want))
    return bench


def _check_activation(p: Proof, dut, fail):
    kind, preact, act = p.params["kind"], p.params["preact"], p.params["act"]

    async def bench(ctx):
        for z in _values(preact, preact.frac_bits - act.frac_bits, act):
            ctx.set(dut.i_z, z)
            got, want = (ctx.get(dut.o_y), ctx.get(dut.o_deriv)), twins.activation_unit(kind, preact, act, z)
            if got != want:
                fail((z, got, want))
    return bench


def _check_output_error(p: Proof, dut, fail):
    layer = p.params["layer"]

    async def bench(ctx):
        for y in _values(layer.act, layer.act.frac_bits - layer.error.frac_bits, layer.error):
            for is_label in (0, 1):
                ctx.set(dut.i_y, y)
                ctx.set(dut.i_is_label, is_label)
                want = twins.output_delta(y, bool(is_label), layer)
                if ctx.get(dut.o_delta) != want:
                    fail((y, is_label, ctx.get(dut.o_delta), want))
    return bench


def _check_weight_change(p: Proof, dut, fail):
    cfg, k = p.params["cfg"], p.params["k"]
    P, L, d = cfg.lanes, cfg.rng_lfsr_bits, cfg.update_drop_bits(k)
    deltas = _values(cfg.delta_format(k), n=12)
    acts = _values(cfg.in_format(k), n=12) + ["bias"]
    words = [0, (1 << L) - 1, 1 << max(0, min(d, L) - 1)] + [int(v) for v in RNG.integers(1, 1 << L, 3)]

    async def bench(ctx):
        for a, pair in product(acts, zip(deltas, deltas[1:] + deltas[:1])):
            bias = a == "bias"
            ctx.set(dut.i_bias, int(bias))
            ctx.set(dut.i_act, 0 if bias else a)
            ctx.set(dut.i_deltas, list(pair))
            for w0, w1 in zip(words, words[::-1]):
                if dut.stochastic:
                    ctx.set(dut.i_words, [w0, w1])
                want = [twins.weight_change(pair[q], 0 if bias else a, bias, (w0, w1)[q], cfg, k) for q in range(P)]
                got = [ctx.get(dut.o_dw[q]) for q in range(P)]
                if got != want or ctx.get(dut.o_nonzero) != any(want):
                    fail((a, pair, (w0, w1), got, want))
    assert P == 2
    return bench


def _check_weight_add(p: Proof, dut, fail):
    cfg, k = p.params["cfg"], p.params["k"]
    weight = cfg.layers[k].weight
    dw_fmt = FixedFormat(len(dut.i_dw[0]), 0, True)

    async def bench(ctx):
        ws, dws = _values(weight, 0, weight, n=40), _values(dw_fmt, 0, weight, n=40)
        for w, dw in product(ws, dws):
            ctx.set(dut.i_weights, [w, -1 - w])
            ctx.set(dut.i_dw, [dw, dw])
            want = [apply_overflow(w + dw, weight), apply_overflow(-1 - w + dw, weight)]
            got = [ctx.get(dut.o_weights[q]) for q in range(2)]
            if got != want:
                fail((w, dw, got, want))
    return bench


def _check_mac(p: Proof, dut, fail):
    cfg, k = p.params["cfg"], p.params["k"]
    acc, w_fmt, a_fmt = cfg.acc_format(k), cfg.layers[k].weight, cfg.in_format(k)

    async def bench(ctx):
        accs, ws, acts = _values(acc, 0, acc, n=4), _values(w_fmt, n=4)[::2], _values(a_fmt, n=4)[::2] + ["bias"]
        for s, w, a in product(accs, ws, acts):
            bias = a == "bias"
            for first, en in ((0, 1), (1, 1), (0, 0)):
                ctx.set(dut.i_acc, [s, s])
                ctx.set(dut.i_weights, [w, -1 - w])
                ctx.set(dut.i_act, 0 if bias else a)
                for name, v in (("i_bias", bias), ("i_first", first), ("i_en", en)):
                    ctx.set(getattr(dut, name), int(v))
                want = [twins.mac_step(s, ww, 0 if bias else a, bias, bool(first), cfg, k) if en else s
                        for ww in (w, -1 - w)]
                got = [ctx.get(dut.o_acc[q]) for q in range(2)]
                if got != want:
                    fail((s, w, a, first, en, got, want))
    return bench


def _states(width: int) -> list[int]:
    return [1, 2, (1 << width) - 1, 1 << (width - 1), 0b1011 % (1 << width)] + \
        [int(v) for v in RNG.integers(1, 1 << width, RANDOM)]


def _check_lfsr_leap(p: Proof, dut, fail):
    W, n = p.params["width"], p.params["steps"]

    async def bench(ctx):
        for s in _states(W):
            ctx.set(dut.i_state, s)
            if ctx.get(dut.o_bits) != lfsr.steps(s, W, n):
                fail((s, ctx.get(dut.o_bits), lfsr.steps(s, W, n)))
    return bench


def _check_lfsr_stream(p: Proof, dut, fail):
    W, count = p.params["width"], p.params["count"]

    async def bench(ctx):
        for s in _states(W):
            ctx.set(dut.i_state, s)
            want = sum((lfsr.steps(s, W, q + 1) & 1) << q for q in range(count))   # bit n: LSB after n + 1 steps
            if ctx.get(dut.o_bits) != want:
                fail((s, ctx.get(dut.o_bits), want))
    return bench


CHECKS = {"requant": _check_requant, "activation": _check_activation, "output_error": _check_output_error,
          "weight_change": _check_weight_change, "weight_add": _check_weight_add, "mac": _check_mac,
          "lfsr_leap": _check_lfsr_leap, "lfsr_stream": _check_lfsr_stream}

ALL = proofs()


def test_every_block_of_the_table_has_a_twin_check():
    assert {p.block for p in ALL} == set(CHECKS)
    assert {p.width for p in ALL} == set(WIDTHS)


@pytest.mark.parametrize("p", [p for p in ALL if p.width == 8] + [pytest.param(p, marks=pytest.mark.slow) for p in ALL if p.width == 24], ids=lambda p: p.name)
def test_spec_matches_twin(p):
    dut, failures = p.make_spec(), []
    _simulate(dut, CHECKS[p.block](p, dut, failures.append))
    assert not failures, failures[:5]


# ---------------------------------------------------------------------------------------------
# spec == block (sby)
# ---------------------------------------------------------------------------------------------

def _first_rows(width: int) -> list[Proof]:
    """The first row of each block (and of lfsr_stream) at ``width``."""
    seen, out = set(), []
    for p in ALL:
        if p.width == width and p.block not in seen:
            seen.add(p.block)
            out.append(p)
    return out


FAST = _first_rows(8)
SLOW = [p for p in ALL if p.width == 24] + _first_rows(16) + _first_rows(20)


@pytest.fixture
def prover(need_tool, tmp_path):
    for tool in ("sby", "yosys", "boolector"):
        need_tool(tool)
    return lambda m, name: run_sby(m, tmp_path / name, timeout=300)


def _proven(prover, p: Proof) -> None:
    verdict = prover(p.miter(), p.name)
    assert verdict.status == "PASS", f"{p.name}: {verdict.status} {verdict.detail} (files in {verdict.workdir})"


@pytest.mark.parametrize("p", FAST, ids=lambda p: p.name)
def test_block_equals_spec(prover, p):
    _proven(prover, p)


@pytest.mark.slow
@pytest.mark.parametrize("p", SLOW, ids=lambda p: p.name)
def test_block_equals_spec_wide(prover, p):
    _proven(prover, p)


# ---------------------------------------------------------------------------------------------
# a broken block must fail its proof
# ---------------------------------------------------------------------------------------------

class RoundsHalfUp(Requantizer):
    """Bug: convergent rounding done as half-up (ties of an even quotient go up)."""

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.o_value.eq(rtl_requantize(self.i_value, self.from_frac, self.fmt, None, Rounding.RND, m))
        return m


class DerivativeAtClip(ActivationUnit):
    """Bug: the derivative is 1 at the upper clip point too (``z <= ONE``)."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        one = 1 << self.preact.frac_bits
        m.d.comb += self.o_deriv.eq(inside(self.i_z, -one, one + 1))
        return m


# The multiplier blocks' bugs patch one helper inside the block's own elaborate (no copy of it to drift);
# should the block stop calling that helper, its proof passes and the test fails: no silent no-op.

class SaturatesOneShort(MacLanes):
    """Bug: the accumulator's saturation clamps to ``max_raw - 1``."""

    def elaborate(self, platform):
        def clamp(value, fmt, m):
            return fit(saturate(value, fmt.min_raw, fmt.max_raw - 1, m), shape_of(fmt))
        with patch.object(rtl.mac, "overflow", clamp):
            return super().elaborate(platform)


class WrapsInsteadOfSaturating(MacLanes):
    """Bug: the accumulator wraps although its format saturates."""

    def elaborate(self, platform):
        self.acc_fmt = replace(self.acc_fmt, overflow=Overflow.WRAP)
        return super().elaborate(platform)


class BiasInputIgnored(MacLanes):
    """Bug (operand stage, P1): the bias column's operand register takes ``i_act``, not 1.0."""

    def elaborate(self, platform):
        with patch.object(rtl.mac, "Mux", lambda c, a, b: b if c is self.i_bias else Mux(c, a, b)):
            return super().elaborate(platform)


class ConvergentAsHalfUp(WeightChange):
    """Bug: the update's convergent rounding done half-up (ties of an even quotient go up)."""

    def elaborate(self, platform):
        def half_up(value, shift, rounding, rand=None, m=None):
            return shift_round(value, shift, Rounding.RND if rounding is Rounding.RND_CONV else rounding, rand, m)
        with patch.object(rtl.update, "shift_round", half_up):
            return super().elaborate(platform)


class WordNotAligned(WeightChange):
    """Bug: with d > L dropped bits, the L-bit stochastic word is added at the bottom of them, not the top."""

    def elaborate(self, platform):
        L = self.cfg.rng_lfsr_bits

        def unaligned(value, shift, rounding, rand=None, m=None):
            return shift_round(value, shift, rounding, Value.cast(rand)[shift - L:], m)   # the word without its zeros
        with patch.object(rtl.update, "shift_round", unaligned):
            return super().elaborate(platform)


def _row(block: str, width: int, rule: str) -> Proof:
    return next(p for p in ALL if p.block == block and p.width == width and p.rule.startswith(rule))


def _overflow_depth(p: Proof) -> int:
    """Steps of a bounded run from reset that reach the accumulator's top: LATENCY, then enough largest columns."""
    cfg, k = p.params["cfg"], p.params["k"]
    w, a, acc = cfg.layers[k].weight, cfg.in_format(k), cfg.acc_format(k)
    largest = max(x * y for x in (w.min_raw, w.max_raw) for y in (a.min_raw, a.max_raw, cfg.bias_input(k)))
    return MacLanes.LATENCY + 2 + -(-acc.max_raw // largest)


def _mutants():
    """(name, row, broken block, the miter function whose assert must fail, bmc depth or None for the row's proof)."""
    rq = _row("requant", 16, "rnd_conv/sat")
    act = _row("activation", 20, "hard_tanh trn/sat")
    leap = _row("lfsr_leap", 24, "leap 96")
    args = (act.params["kind"], act.params["preact"], act.params["act"])
    bad_rows = leap_rows(24, 96)
    bad_rows[5] ^= 1 << 17                      # one tap of one output bit wrong: still linear
    found = [
        ("requant-rnd_conv-as-rnd", rq,
         lambda: RoundsHalfUp(shape_of(rq.params["src"]), rq.params["src"].frac_bits, rq.params["dst"]), miter._agree),
        ("activation-derivative-at-clip", act, lambda: DerivativeAtClip(*args), miter._agree),
        ("lfsr-leap-wrong-tap", leap, lambda: miter.Gf2Block(bad_rows, 24), miter.linear),
    ]
    for bug, row, part in ((BiasInputIgnored, _row("mac", 20, "L0 sat"), miter._operands_agree),
                           (ConvergentAsHalfUp, _row("weight_change", 16, "L1 shift rnd_conv"), miter._agree),
                           (WordNotAligned, _row("weight_change", 24, "L1 shift stoch d=28>L"), miter._agree)):
        found.append((f"{row.block}-w{row.width}-{bug.__name__}", row,
                      lambda bug=bug, row=row: bug(row.params["cfg"], row.params["k"]), part))
    return [(*m, None) for m in found]


def _bmc_mutants():
    """The accumulator's overflow bugs: an induction step shows them from any sum, but only a run long
    enough to add up to the top (from reset: a real trace) makes a counterexample. At W = 8 that run
    takes seconds; at 16 bits the solver must invert multipliers to find it (minutes)."""
    rows = ((SaturatesOneShort, _row("mac", 8, "L0 sat")), (WrapsInsteadOfSaturating, _row("mac", 8, "L1 sat")))
    return [(f"mac-w8-{bug.__name__}", row, lambda bug=bug, row=row: bug(row.params["cfg"], row.params["k"]),
             miter._agree, _overflow_depth(row)) for bug, row in rows]


MUTANTS = _mutants() + _bmc_mutants()


@pytest.mark.parametrize("name,p,broken,part,depth", MUTANTS, ids=[m[0] for m in MUTANTS])
def test_broken_block_is_caught(prover, name, p, broken, part, depth):
    m = replace(p, make_block=broken).miter()
    verdict = prover(replace(m, mode="bmc", depth=depth) if depth else m, name)
    assert verdict.status == "FAIL", f"{name}: the proof did not find the bug ({verdict.status})"
    assert verdict.trace is not None and verdict.trace.is_file(), "a counterexample comes with its trace"
    lines, first = inspect.getsourcelines(part)     # the assert that failed, by its source line
    line = int(re.search(r"miter\.py:(\d+)", verdict.detail).group(1))
    assert first <= line < first + len(lines), f"{name}: failed {verdict.detail}, not in {part.__name__}"


def test_a_false_lemma_fails_its_row(prover):
    """The product lemmas are really proven: a row whose lemma is false (no ``a_op == a_ext``) is not PASS."""
    p = _row("mac", 8, "L0 sat")
    m = p.miter()
    lemma = m.lemmas[-1]
    x_op, a_op, x, a = lemma.ports
    bad = Module()
    bad.d.comb += [Assume(x_op == x), Assert(x_op * a_op == x * a, "the products differ")]
    verdict = prover(replace(m, lemmas=(replace(lemma, module=bad),)), "false-lemma")
    assert verdict.status == "FAIL" and verdict.detail.startswith("lemma-equal: "), verdict
    assert verdict.trace is not None and verdict.trace.is_file()


def test_cut_points_are_found_by_name():
    """The miter reads each lane's operand registers by name, and says so when a block has none."""
    p = _row("mac", 8, "L0 sat")

    class Unnamed(MacLanes):
        def elaborate(self, platform):
            with patch.object(rtl.mac, "Signal", lambda *args, name=None, **kw: Signal(*args, **kw)):
                return super().elaborate(platform)

    spec = p.make_spec()
    for part in (spec, spec.product, spec.add):     # never elaborated here: no warning
        part._MustUse__silence = True
    with pytest.raises(ValueError, match="Unnamed has 0 registers named weight0, not one"):
        miter.mac(Unnamed(p.params["cfg"], p.params["k"]), spec)


# ---------------------------------------------------------------------------------------------
# python -m rtl.formal
# ---------------------------------------------------------------------------------------------

def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "rtl.formal", *args], capture_output=True, text=True, cwd=cwd)


def test_cli_runs_rows_and_writes_the_table(need_tool, tmp_path):
    need_tool("sby"), need_tool("boolector")
    out = tmp_path / "formal"
    proc = _cli("--block", "weight_add", "--width", "8", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].split()[:6] == ["block", "W", "formats", "rule", "result", "seconds"]
    doc = json.loads((out / "formal.json").read_text())
    assert [(r["block"], r["width"], r["rule"], r["result"]) for r in doc["rows"]] == \
        [("weight_add", 8, "sat", "PASS"), ("weight_add", 8, "wrap", "PASS")]
    assert all(r["seconds"] > 0 for r in doc["rows"]) and (out / "formal.md").is_file()


@pytest.mark.parametrize("args,message", [
    (["--block", "adder"], "error: argument --block: must be a comma-separated subset of requant,activation,"),
    (["--width", "7"], "error: argument --width: must be integers in 8..24"),
    (["--timeout", "0"], "error: argument --timeout: must be an integer in 1..86400, not 0"),
])
def test_cli_bad_options(args, message):
    proc = _cli(*args, "--list")
    assert proc.returncode == 2 and proc.stderr.startswith(message), proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_refuses_a_folder_it_did_not_write(tmp_path):
    (tmp_path / "mine.txt").write_text("keep")
    proc = _cli("--block", "weight_add", "--width", "8", "-o", str(tmp_path))
    assert proc.returncode == 2 and "is a non-empty folder that this tool did not write" in proc.stderr
    assert (tmp_path / "mine.txt").read_text() == "keep"


def test_cli_list_names_every_row():
    proc = _cli("--list")
    assert proc.returncode == 0
    assert len(proc.stdout.splitlines()) == len(ALL) + 1
