"""Transaction helpers for driving a :class:`~rtl.engine.DrtpEngine` in Amaranth's simulator.

Each helper is an ``async`` function of the simulator context: the tests (and anyone poking at the
design from Python) stream samples, load and read back weights, and count cycles without knowing
the port encoding. Words use the layout of :func:`rtl.layer.weight_words`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from amaranth.sim import Simulator

from hwsim.config import EngineConfig

from .engine import HOST_READ_LATENCY, DrtpEngine
from .layer import weight_words
from .schedule import input_beats

__all__ = ["EngineBench", "SampleResult", "simulate"]


@dataclass
class SampleResult:
    prediction: int
    cycles: int          # first input beat to done, inclusive
    pred_cycle: int      # cycle (from the first beat) in which pred_valid was high


def _pack(values, width: int) -> int:
    word = 0
    for p, v in enumerate(values):
        word |= (int(v) & ((1 << width) - 1)) << (p * width)
    return word


def _unpack(word: int, width: int, count: int) -> list[int]:
    out = []
    for p in range(count):
        v = (word >> (p * width)) & ((1 << width) - 1)
        out.append(v - (1 << width) if v >> (width - 1) else v)
    return out


class EngineBench:
    """Owns the port protocol of one engine instance."""

    def __init__(self, dut: DrtpEngine):
        self.dut, self.cfg = dut, dut.cfg

    # -- weight port -------------------------------------------------------------------------
    async def write_weights(self, ctx, k: int, weights) -> None:
        """Load canonical ``(n_out, n_cols)`` raw weights into layer k's RAM (one word per cycle)."""
        port, width = self.dut.wport, self.cfg.layers[k].weight.width
        ctx.set(port.layer, k)
        for addr, lanes in enumerate(weight_words(self.cfg, k, weights)):
            ctx.set(port.addr, addr)
            ctx.set(port.wdata, _pack(lanes, width))
            ctx.set(port.we, 1)
            await ctx.tick()
        ctx.set(port.we, 0)

    async def read_weights(self, ctx, k: int) -> np.ndarray:
        """Read layer k's RAM back as canonical ``(n_out, n_cols)`` raw weights."""
        cfg, port = self.cfg, self.dut.wport
        P, G, n_cols, width = cfg.lanes, cfg.groups(k), cfg.n_cols(k), cfg.layers[k].weight.width
        out = np.zeros((G * P, n_cols), dtype=np.int64)
        ctx.set(port.layer, k)
        n, lag = G * n_cols, HOST_READ_LATENCY
        for cycle in range(n + lag):       # one read per cycle; each word arrives `lag` cycles later
            ctx.set(port.re, cycle < n)
            ctx.set(port.addr, min(cycle, n - 1))
            await ctx.tick()  # testbenches see the state after the edge
            addr = cycle + 1 - lag
            assert ctx.get(port.rvalid) == (0 <= addr < n), f"rvalid at read {addr} of layer {k}"
            if 0 <= addr < n:
                g, i = divmod(addr, n_cols)
                out[g * P:(g + 1) * P, i] = _unpack(ctx.get(port.rdata), width, P)
        ctx.set(port.re, 0)
        return out[: cfg.layers[k].n_out]

    # -- samples -----------------------------------------------------------------------------
    async def run_sample(self, ctx, x, label: int, train: bool, timeout: int = 10_000_000) -> SampleResult:
        """Stream one sample (never stalling) and wait for ``done``."""
        cfg, dut = self.cfg, self.dut
        P, n_in = cfg.lanes, cfg.layers[0].n_in
        x = [int(v) for v in x] + [0] * (input_beats(cfg) * P - n_in)
        cycle, beat, pred, pred_cycle = 0, 0, None, None
        while True:
            if beat < input_beats(cfg):
                ctx.set(dut.sample.valid, 1)
                ctx.set(dut.sample.payload, {"pixels": x[beat * P:(beat + 1) * P], "label": label,
                                             "train": int(train)})
                accepted = ctx.get(dut.sample.ready)
            else:
                ctx.set(dut.sample.valid, 0)
                accepted = False
            if ctx.get(dut.pred_valid):
                pred, pred_cycle = ctx.get(dut.pred), cycle
            done = ctx.get(dut.done)
            if beat or accepted:
                cycle += 1
            beat += int(accepted)
            await ctx.tick()
            if done:
                return SampleResult(pred, cycle, pred_cycle)
            if cycle > timeout:
                raise TimeoutError(f"no done after {timeout} cycles")


def simulate(cfg: EngineConfig, weights, bench_fn, vcd: str | None = None):
    """Build an engine with initial ``weights`` and run ``await bench_fn(bench, ctx)``; returns its result."""
    dut = DrtpEngine(cfg, weights)
    bench = EngineBench(dut)
    result = {}

    async def tb(ctx):
        result["value"] = await bench_fn(bench, ctx)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
    return result["value"]
