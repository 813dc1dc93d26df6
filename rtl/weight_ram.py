"""A layer's weight RAM, banked by depth, with every RAM-side signal in a register near its bank."""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Shape, Signal
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from .arith import RAM_ATTRS, index_shape

__all__ = ["WeightRam", "BANK_WORDS", "bank_sizes"]

BANK_WORDS = 2048
"""Words per bank: the depth of an ECP5 DP16KD block RAM at 9 bits per lane (2048 x 9), so a bank
is one row of block RAMs side by side and its address and output registers serve only that row.
(The paper-size layer 0, 25,120 words of 16 lanes, is 13 banks: 12 x 2,048 + 544.)"""


def bank_sizes(depth: int, bank_words: int = BANK_WORDS) -> list[int]:
    """The depths of the banks of a ``depth``-word RAM: full banks, then the rest."""
    full, rest = divmod(max(2, depth), bank_words)
    return [bank_words] * full + ([max(2, rest)] if rest else [])


class WeightRam(wiring.Component):
    """``depth`` words of P lanes in banks of :data:`BANK_WORDS`; pipelined read and write, direct host access.

    Why banks: on an FPGA a 25,120-word RAM is ~200 block RAMs spread over the die. One address
    register driving all of them, and one select of their outputs into one register, were the
    paper-size engine's critical paths (block RAM clock-to-out plus a 13-to-1 select across the
    die: 16.5 ns). Here each bank has its own address and write registers, loaded only when an
    access goes to that bank (so synthesis cannot merge the copies), and its own output register,
    which holds 0 unless its bank was read; the word is the OR of the output registers one step
    later (a registered bank select fanned out to every bit was the next critical path: 12 ns of
    routing).

    Read: the address presented with ``i_re`` in cycle A is registered in its bank (end of A), read
    (A+1), the bank's output registered (A+2), selected and registered (A+3): ``o_rdata`` holds it in
    cycle A + :data:`READ_LATENCY`. Write: ``i_waddr`` / ``i_wdata`` / ``i_we`` (one enable per lane
    with ``granularity``) in cycle W are registered in their bank and written at the end of W+1.
    While ``i_idle``, the host's write goes to its bank directly (``i_host_we`` writes now); the host
    reads through ``i_re`` / ``i_raddr`` like the pipeline (one select of the banks' outputs, not
    two: each is 2,048 wires across the die at paper size).

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

    READ_LATENCY = 4
    """Cycles from a read request to the word in ``o_rdata``."""

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
            "i_idle": In(1),
            "i_re": In(1), "i_raddr": In(addr), "o_rdata": Out(word),
            "i_we": In(lanes if lane_enables else 1), "i_waddr": In(addr), "i_wdata": In(word),
            "i_host_addr": In(addr), "i_host_we": In(1), "i_host_wdata": In(word),
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
        all_lanes = (1 << self.lanes) - 1 if self.lane_enables else 1
        r_bank, r_low = self._split(self.i_raddr)
        w_bank, w_low = self._split(self.i_waddr)
        h_bank, h_low = self._split(self.i_host_addr)
        outs = []
        for b, size in enumerate(self.sizes):
            init = self.init[b * self.bank_words:b * self.bank_words + size]
            mem = memory.Memory(shape=word, depth=size, init=init, attrs=RAM_ATTRS)
            m.submodules[f"bank{b}"] = mem
            rd, wr = mem.read_port(), mem.write_port(granularity=1 if self.lane_enables else None)
            low = index_shape(size)
            addr = Signal(low, name=f"raddr{b}")            # this bank's read address register
            with m.If(self.i_re & (r_bank == b)):
                m.d.sync += addr.eq(r_low[:len(addr)])
            waddr = Signal(low, name=f"waddr{b}")
            wdata = Signal(word, name=f"wdata{b}")
            wen = Signal(len(self.i_we), name=f"wen{b}")
            hit = w_bank == b
            with m.If(self.i_we.any() & hit):
                m.d.sync += [waddr.eq(w_low[:len(waddr)]), wdata.eq(self.i_wdata)]
            m.d.sync += wen.eq(Mux(hit, self.i_we, 0))
            # this bank's output register holds its word only after a read of this bank, else 0, so
            # the banks' outputs are OR-ed: no select signal fans out to every bit across the die
            hit1, hit2 = Signal(name=f"rhit{b}_1"), Signal(name=f"rhit{b}_2")
            m.d.sync += [hit1.eq(self.i_re & (r_bank == b)), hit2.eq(hit1)]
            out = Signal(word, name=f"rdata{b}")
            m.d.sync += out.eq(Mux(hit2, rd.data, 0))
            host_hit = h_bank == b
            m.d.comb += [
                rd.addr.eq(addr),
                wr.addr.eq(Mux(self.i_idle, h_low[:len(waddr)], waddr)),
                wr.data.eq(Mux(self.i_idle, self.i_host_wdata, wdata)),
                wr.en.eq(Mux(self.i_idle, Mux(self.i_host_we & host_hit, all_lanes, 0), wen)),
            ]
            outs.append(out)
        # address registered in its bank (A), read (A+1), output registered (A+2), OR of the banks (A+3)
        word_bits = outs[0].as_value()
        for out in outs[1:]:
            word_bits = word_bits | out.as_value()
        m.d.sync += self.o_rdata.eq(word_bits)
        return m
