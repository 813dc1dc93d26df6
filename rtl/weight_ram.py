"""A layer's weight RAM, banked by depth, reached through a two-level tree of registers: groups of banks, then banks."""

from __future__ import annotations

import enum

from amaranth.hdl import Const, Module, Mux, Shape, Signal
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from .arith import RAM_ATTRS, index_shape

__all__ = ["WeightRam", "WeightWrites", "BANK_WORDS", "GROUP_BANKS", "bank_sizes", "built_writes", "lane_enables"]

BANK_WORDS = 2048
"""Words per bank: the depth of an ECP5 DP16KD block RAM at 9 bits per lane (2048 x 9), so a bank
is one row of block RAMs side by side and its address and output registers serve only that row.
(The paper-size layer 0, 25,120 words of 16 lanes, is 13 banks: 12 x 2,048 + 544.)"""

GROUP_BANKS = 4
"""Banks per group: each level of the tree joins at most this many inputs per bit, one 4-input LUT."""


class WeightWrites(str, enum.Enum):
    """How the update writes a weight word back (the values written, so the results, are the same).

    ``dense`` writes every word whole in both; the choice is for ``event``, whose update writes a word
    only when one of its P changes is non-zero."""
    LANES = "lanes"
    """One write enable per lane: only the lanes whose change is non-zero are written. What an ASIC
    SRAM with a bit-write mask saves, and what the energy model counts (rtl.estimate.ops); the
    default, and what ``make sim`` verifies."""
    WORD = "word"
    """The whole word: the unchanged lanes get their own value back (the update reads the word anyway,
    and adds 0 to them). What the FPGA flows build (``rtl.estimate``'s ECP5 / iCE40 steps,
    ``rtl.board``): a block RAM has one write enable per 9-bit lane at best, so lane enables cost one
    DP16KD per lane, 16 per bank row instead of 15 (206 of the LFE5U-85's 208 block RAMs at paper
    size instead of 196, and a netlist that router2 did not route)."""


def built_writes(cfg, writes: WeightWrites) -> WeightWrites:
    """What the weight RAMs of ``cfg`` (an EngineConfig) do when built with ``writes``: ``dense`` writes
    whole words whatever is asked (the manifest's ``parameters.weight_writes``)."""
    return WeightWrites(writes) if cfg.is_event else WeightWrites.WORD


def lane_enables(cfg, writes: WeightWrites) -> bool:
    """Whether the weight RAMs of ``cfg`` get one write enable per lane."""
    return built_writes(cfg, writes) is WeightWrites.LANES


def bank_sizes(depth: int, bank_words: int = BANK_WORDS) -> list[int]:
    """The depths of the banks of a ``depth``-word RAM: full banks, then the rest."""
    full, rest = divmod(max(2, depth), bank_words)
    return [bank_words] * full + ([max(2, rest)] if rest else [])


class WeightRam(wiring.Component):
    """``depth`` words of P lanes in banks of :data:`BANK_WORDS`; every access crosses two register levels.

    Why a tree: on an FPGA a 25,120-word RAM is ~200 block RAMs spread over the die. A single level
    of registers between the datapath and the banks was the paper-size engine's critical path and
    its routing congestion: one address register driving every bank, then 13 bank outputs OR-ed
    (or selected) into one word register across the die, and the write data fanned out to 13 banks
    the same way (12 ns of routing; router2 could not resolve the congestion). Here banks come in
    groups of :data:`GROUP_BANKS`; a group has its own address, write and output registers, and each
    bank in it has its own again. Every address and write register is loaded only when an access
    goes to its group or bank (so synthesis cannot merge the copies), and no level joins more than 4
    inputs per bit, so each step is one LUT and one hop. A bank's output register is a plain copy of
    the read data, so an FPGA block RAM holds it itself (ECP5: ``rtl.estimate.bram_outreg``); the
    ECP5 flow also locks the block RAMs to sites in name order (``rtl.estimate.bram_floorplan``), so
    a bank's 15 block RAMs sit side by side and a group's banks together, by their registers.

    Read: the address presented with ``i_re`` in cycle A is registered in its group (end of A), in
    its bank (A+1), read (A+2); the bank's output register (A+3) holds the RAM's data, its group
    ORs those of its banks that were read (A+4) and the word is the OR of the groups (A+5):
    ``o_rdata`` holds it in cycle A + :data:`READ_LATENCY`. Write: ``i_waddr`` / ``i_wdata``
    / ``i_we`` (one enable per lane with ``lane_enables``) in cycle W are registered in their group
    (end of W), their bank (W+1) and written at the end of W+2 (:data:`WRITE_LATENCY`); a read
    requested after W sees the new word. The host loads and reads back through the same ports
    (the layer selects the host while idle): a read and a write of one word in the same cycle read
    an undefined word (``no_rw_check``).

    Parameters
    ----------
    depth : int
    lane_shape : Shape
        One weight.
    lanes : int
        P.
    lane_enables : bool
        One write enable per lane (``event``); otherwise one per word.
    init : list of list of int
        Initial words (lanes), or empty.
    bank_words : int
        Words per bank (:data:`BANK_WORDS`).
    """

    READ_LATENCY = 6
    """Cycles from a read request to the word in ``o_rdata``."""
    WRITE_LATENCY = 2
    """Cycles from a write request to the clock edge that writes the RAM (at the end of that cycle)."""

    def __init__(self, depth: int, lane_shape, lanes: int, lane_enables: bool, init=(),
                 bank_words: int = BANK_WORDS):
        self.depth, self.lanes, self.lane_enables = depth, lanes, lane_enables
        self.lane_shape = Shape.cast(lane_shape)
        self.init = list(init)
        self.sizes = bank_sizes(depth, bank_words)
        self.bank_words = bank_words
        word = data.ArrayLayout(self.lane_shape, lanes)
        addr = index_shape(max(2, depth))
        super().__init__({
            "i_re": In(1), "i_raddr": In(addr), "o_rdata": Out(word),
            "i_we": In(lanes if lane_enables else 1), "i_waddr": In(addr), "i_wdata": In(word),
        })

    def _split(self, addr):
        """(bank, address within the bank) of a RAM address."""
        low_bits = max(1, (self.bank_words - 1).bit_length())
        if len(self.sizes) == 1:
            return Const(0, 1), addr[:min(len(addr), low_bits)]
        return addr[low_bits:], addr[:low_bits]

    def elaborate(self, platform):
        m = Module()
        word = data.ArrayLayout(self.lane_shape, self.lanes)
        low = index_shape(max(self.sizes))
        r_bank, r_low = self._split(self.i_raddr)
        w_bank, w_low = self._split(self.i_waddr)
        n_groups = -(-len(self.sizes) // GROUP_BANKS)
        group_outs = []
        for j in range(n_groups):
            banks = range(j * GROUP_BANKS, min(len(self.sizes), (j + 1) * GROUP_BANKS))
            # the group's registers: the read request, the write request (loaded only for this group)
            r_in, w_in = (r_bank // GROUP_BANKS) == j, (w_bank // GROUP_BANKS) == j
            g_re, g_rbank = Signal(name=f"g{j}_re"), Signal(range(GROUP_BANKS), name=f"g{j}_rbank")
            g_raddr = Signal(low, name=f"g{j}_raddr")
            m.d.sync += g_re.eq(self.i_re & r_in)
            with m.If(self.i_re & r_in):
                m.d.sync += [g_rbank.eq(r_bank % GROUP_BANKS), g_raddr.eq(r_low)]
            g_we = Signal(len(self.i_we), name=f"g{j}_we")
            g_wbank = Signal(range(GROUP_BANKS), name=f"g{j}_wbank")
            g_waddr, g_wdata = Signal(low, name=f"g{j}_waddr"), Signal(word, name=f"g{j}_wdata")
            m.d.sync += g_we.eq(Mux(w_in, self.i_we, 0))
            with m.If(self.i_we.any() & w_in):
                m.d.sync += [g_wbank.eq(w_bank % GROUP_BANKS), g_waddr.eq(w_low), g_wdata.eq(self.i_wdata)]
            bank_outs = []
            for b in banks:
                size = self.sizes[b]
                init = self.init[b * self.bank_words:b * self.bank_words + size]
                mem = memory.Memory(shape=word, depth=size, init=init, attrs=RAM_ATTRS)
                m.submodules[f"bank{b}"] = mem
                rd, wr = mem.read_port(), mem.write_port(granularity=1 if self.lane_enables else None)
                here = b % GROUP_BANKS
                raddr = Signal(index_shape(size), name=f"raddr{b}")
                r_hit = g_re & (g_rbank == here)
                with m.If(r_hit):
                    m.d.sync += raddr.eq(g_raddr[:len(raddr)])
                # the bank's output register is a plain copy of the read data (no enable, no reset),
                # which an FPGA's block RAM holds in its own output register (ECP5: REGMODE OUTREG, see
                # rtl.estimate.bram_outreg), 1 ns after the clock instead of 5.8; the group zeroes a
                # bank that was not read and ORs its banks, and the word ORs the groups: no select
                # signal fans out across the banks
                hit1, hit2, hit3 = Signal(name=f"rhit{b}_1"), Signal(name=f"rhit{b}_2"), Signal(name=f"rhit{b}_3")
                m.d.sync += [hit1.eq(r_hit), hit2.eq(hit1), hit3.eq(hit2)]
                out = Signal(word, name=f"rdata{b}", reset_less=True)    # a reset would keep it out of the RAM
                m.d.sync += out.eq(rd.data)
                waddr, wdata = Signal(index_shape(size), name=f"waddr{b}"), Signal(word, name=f"wdata{b}")
                wen = Signal(len(self.i_we), name=f"wen{b}")
                w_hit = g_wbank == here
                with m.If(g_we.any() & w_hit):
                    m.d.sync += [waddr.eq(g_waddr[:len(waddr)]), wdata.eq(g_wdata)]
                m.d.sync += wen.eq(Mux(w_hit, g_we, 0))
                m.d.comb += [rd.addr.eq(raddr), wr.addr.eq(waddr), wr.data.eq(wdata), wr.en.eq(wen)]
                bank_outs.append(Mux(hit3, out.as_value(), 0))
            g_out = Signal(len(bank_outs[0]), name=f"g{j}_rdata")
            m.d.sync += g_out.eq(_or(bank_outs))
            group_outs.append(g_out)
        m.d.sync += self.o_rdata.eq(_or(group_outs))
        return m


def _or(values):
    out = values[0]
    for v in values[1:]:
        out = out | v
    return out
