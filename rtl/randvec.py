"""Label-selected DRTP random-vector generator: P bits of ``B_k[label]`` per lane group."""

from __future__ import annotations

from amaranth.hdl import Array, Const, Module, Mux, Signal, unsigned
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from hwsim.config import EngineConfig, RandomSource
from hwsim.params import random_start_state, random_vectors

from .arith import index_shape
from .lfsr import Gf2Map, leap_rows, stream_rows

__all__ = ["RandomVectorGen"]


class RandomVectorGen(wiring.Component):
    """The bits of hidden layer ``k``'s random vector for the current label, one group at a time.

    Twin: :func:`hwsim.twins.random_bits` (:func:`hwsim.params.random_vectors`). Bit 1 means +1.

    * ``lfsr`` source: a ``random_lfsr_bits`` LFSR. ``i_start`` loads the state that begins the
      label's row (a per-class table computed at elaboration from :mod:`hwsim.lfsr`); lane p's
      bit is an XOR of that state (stream bit ``m + p``); ``i_next`` leaps P steps.
    * ``rom`` source: a synchronous ROM of ``n_classes * G`` words of P bits filled from
      :func:`hwsim.params.random_vectors`; its address register always holds the next row, so the
      bits follow ``i_start`` / ``i_next`` with the same one-cycle delay as the LFSR.

    Parameters
    ----------
    cfg : EngineConfig
    k : int
        Hidden layer index.

    Ports
    -----
    i_label : In(label bits)
        Sample label; sampled on ``i_start``.
    i_start : In(1)
        Begin the label's row (group 0 is valid the next cycle).
    i_next : In(1)
        Move to the next group (valid the next cycle).
    o_bits : Out(P)
        Bit p = B_k[label, g * P + p] for the current group g (padding lanes: don't care).
    """

    def __init__(self, cfg: EngineConfig, k: int):
        if k not in cfg.hidden_layers:
            raise ValueError("only hidden layers have DRTP random vectors")
        self.cfg, self.k = cfg, k
        super().__init__({"i_label": In(index_shape(cfg.n_classes)), "i_start": In(1), "i_next": In(1),
                          "o_bits": Out(cfg.lanes)})

    def elaborate(self, platform):
        m = Module()
        cfg, k, P = self.cfg, self.k, self.cfg.lanes
        if cfg.random_source is RandomSource.LFSR:
            width = cfg.random_lfsr_bits
            table = Array(Const(random_start_state(cfg, k, c), width) for c in range(cfg.n_classes))
            state = Signal(width, init=1)
            with m.If(self.i_start):
                m.d.sync += state.eq(table[self.i_label])
            with m.Elif(self.i_next):
                m.d.sync += state.eq(Gf2Map(m, leap_rows(width, P), width, "leap")(state))
            m.d.comb += self.o_bits.eq(Gf2Map(m, stream_rows(width, P), width, "stream")(state))
        else:
            G = cfg.groups(k)
            rows = random_vectors(cfg, k)
            init = []
            for c in range(cfg.n_classes):
                for g in range(G):
                    word = 0
                    for p in range(P):
                        j = g * P + p
                        if j < rows.shape[1] and rows[c, j] > 0:
                            word |= 1 << p
                    init.append(word)
            depth = max(2, len(init))
            m.submodules.rom = rom = memory.Memory(shape=unsigned(P), depth=depth, init=init)
            port = rom.read_port()
            addr = Signal(index_shape(depth))
            following = Mux(self.i_start, self.i_label * G, Mux(self.i_next, addr + 1, addr))
            m.d.sync += addr.eq(following)
            m.d.comb += [port.addr.eq(following), self.o_bits.eq(port.data)]
        return m

