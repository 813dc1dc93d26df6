"""Formal proofs of the blocks (rtl.formal): twin == spec by simulation, spec == block by SymbiYosys.

* ``test_spec_matches_twin``: each specification (rtl/formal/spec.py) in Amaranth's simulator against
  its Python twin (hwsim.twins, hwsim.formats, hwsim.lfsr) on the shared edge-case table
  (hwsim.edge_cases) plus random vectors, at the widths of the proof table;
* ``test_block_equals_spec``: the sby proofs, one row of the table each (W = 8 unmarked, wide rows slow);
* ``test_broken_block_is_caught``: a block with one realistic bug must give a counterexample;
* the ``python -m rtl.formal`` command: its table, its JSON, its errors.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from itertools import product

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.sim import Simulator

from hwsim import lfsr, twins
from hwsim.edge_cases import Domain, named_values
from hwsim.formats import FixedFormat, Overflow, Rounding, apply_overflow, requantize
from rtl.activation import ActivationUnit
from rtl.arith import inside, requantize as rtl_requantize, shape_of
from rtl.formal import miter
from rtl.formal.jobs import WIDTHS, Proof, proofs
from rtl.formal.sby import run_sby
from rtl.lfsr import leap_rows
from rtl.requant import Requantizer

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


UNPROVEN = {"mac", "weight_change"}
"""Blocks whose multiplier sits behind pipeline registers: Boolector does not finish their proofs (even at
W = 8 within minutes; docs/verification.md). Their specs are still tied to the twins above."""

FAST = [p for p in _first_rows(8) if p.block not in UNPROVEN]
SLOW = [p for p in ALL if p.width == 24 and p.block not in UNPROVEN] + \
    [p for p in _first_rows(16) + _first_rows(20) if p.block not in UNPROVEN]


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


def _row(block: str, width: int, rule: str) -> Proof:
    return next(p for p in ALL if p.block == block and p.width == width and p.rule.startswith(rule))


def _mutants():
    rq = _row("requant", 16, "rnd_conv/sat")
    act = _row("activation", 20, "hard_tanh trn/sat")
    leap = _row("lfsr_leap", 24, "leap 96")
    args = (act.params["kind"], act.params["preact"], act.params["act"])
    bad_rows = leap_rows(24, 96)
    bad_rows[5] ^= 1 << 17                      # one tap of one output bit wrong: still linear
    return [
        ("requant-rnd_conv-as-rnd", rq,
         lambda: RoundsHalfUp(shape_of(rq.params["src"]), rq.params["src"].frac_bits, rq.params["dst"])),
        ("activation-derivative-at-clip", act, lambda: DerivativeAtClip(*args)),
        ("lfsr-leap-wrong-tap", leap, lambda: miter.Gf2Block(bad_rows, 24)),
    ]


@pytest.mark.parametrize("name,p,broken", _mutants(), ids=[m[0] for m in _mutants()])
def test_broken_block_is_caught(prover, name, p, broken):
    verdict = prover(replace(p, make_block=broken).miter(), name)
    assert verdict.status == "FAIL", f"{name}: the proof did not find the bug ({verdict.status})"
    assert verdict.trace is not None and verdict.trace.is_file(), "a counterexample comes with its trace"
    assert "miter.py" in verdict.detail          # the assert that failed, by its source line


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
