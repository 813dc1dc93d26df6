"""rtl.weight_ram.WeightRam against its twin (a plain array of words), with small banks so every bank and group edge is hit."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import signed
from amaranth.sim import Simulator

from rtl.weight_ram import BANK_WORDS, GROUP_BANKS, WeightRam, bank_sizes


def test_bank_sizes():
    assert bank_sizes(25_120) == [BANK_WORDS] * 12 + [544]    # the paper-size layer 0
    assert bank_sizes(501) == [501] and bank_sizes(4096) == [2048, 2048] and bank_sizes(1) == [2]
    assert bank_sizes(11, 4) == [4, 4, 3]


# (19, 2): 10 banks in 3 groups of GROUP_BANKS (4, 4, 2); (11, 4): 3 banks in one group; (5, 8): one bank
@pytest.mark.parametrize("depth,bank_words", [(19, 2), (11, 4), (8, 4), (5, 8)])
@pytest.mark.parametrize("lane_enables", [False, True], ids=["word", "lanes"])
def test_weight_ram_matches_an_array(depth, bank_words, lane_enables):
    P, W = 3, 5
    rng = np.random.default_rng(depth * 7 + bank_words + lane_enables)
    init = [[int(v) for v in rng.integers(-16, 16, P)] for _ in range(depth)]
    dut = WeightRam(depth, signed(W), P, lane_enables, init, bank_words=bank_words)
    model = [list(w) for w in init]
    failures = []

    def word():
        return [int(v) for v in rng.integers(-16, 16, P)]

    async def read_all(ctx, what):
        """Every word through the read pipeline, one request per cycle (as the host reads)."""
        for cycle in range(depth + WeightRam.READ_LATENCY - 1):
            ctx.set(dut.i_re, cycle < depth)
            ctx.set(dut.i_raddr, min(cycle, depth - 1))
            await ctx.tick()
            a = cycle + 1 - WeightRam.READ_LATENCY
            if a >= 0 and [ctx.get(dut.o_rdata[p]) for p in range(P)] != model[a]:
                failures.append((what, a))
        ctx.set(dut.i_re, 0)

    async def bench(ctx):
        # as the host does: every word read back, then rewritten one per cycle (all lanes)
        await read_all(ctx, "host read")
        for a in range(depth):
            w = word()
            ctx.set(dut.i_waddr, a)
            ctx.set(dut.i_wdata, w)
            ctx.set(dut.i_we, (1 << P) - 1 if lane_enables else 1)
            await ctx.tick()
            model[a] = w
        ctx.set(dut.i_we, 0)
        # as the update does, and harder: a read and a write request every cycle, at random
        # addresses; a write in cycle W is seen by reads requested after W, a read's word is out
        # READ_LATENCY cycles later
        pending: dict[int, list[int]] = {}
        writes = []                       # (cycle, address, word, lane mask)
        for cycle in range(400):
            re, we = rng.random() < 0.7, rng.random() < 0.5
            ra, wa = int(rng.integers(depth)), int(rng.integers(depth))
            mask = int(rng.integers(1, 1 << P)) if lane_enables else 1
            w = word()
            ctx.set(dut.i_re, re)
            ctx.set(dut.i_raddr, ra)
            ctx.set(dut.i_we, mask if we else 0)
            ctx.set(dut.i_waddr, wa)
            ctx.set(dut.i_wdata, w)
            for (c, a, v, mk) in [x for x in writes if x[0] < cycle]:   # writes visible to this read
                model[a] = [v[p] if (not lane_enables or mk >> p & 1) else model[a][p] for p in range(P)]
            writes = [x for x in writes if x[0] >= cycle]
            if re:
                pending[cycle + WeightRam.READ_LATENCY] = list(model[ra])
            if we:
                writes.append((cycle, wa, w, mask))
            await ctx.tick()
            if cycle + 1 in pending:
                got = [ctx.get(dut.o_rdata[p]) for p in range(P)]
                want = pending.pop(cycle + 1)
                if got != want:
                    failures.append(("read", cycle + 1 - WeightRam.READ_LATENCY, got, want))
        ctx.set(dut.i_re, 0)
        ctx.set(dut.i_we, 0)
        for (c, a, v, mk) in writes:
            model[a] = [v[p] if (not lane_enables or mk >> p & 1) else model[a][p] for p in range(P)]
        # the first read after the last write's cycle sees every word the pipeline wrote
        await read_all(ctx, "host read after")

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert not failures, failures[:5]

