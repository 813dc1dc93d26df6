"""Stochastic-rounding lane LFSRs: one word per lane per update cycle, in the global word order."""

from __future__ import annotations

from amaranth.hdl import Module, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from hwsim.config import EngineConfig
from hwsim.params import lane_reset_words

from .lfsr import Gf2Map, leap_rows

__all__ = ["LaneRng"]


class LaneRng(wiring.Component):
    """P lane registers of ``rng_lfsr_bits`` bits; update cycle c gives lane p word ``c * P + p``.

    Twin: :func:`hwsim.twins.lane_words`. Lane p resets to word ``rng_word + p`` (the state
    ``(rng_word + p) * L`` steps after ``rng_seed``; ``rng_word`` is 0 for a fresh engine, a saved
    run's word counter to continue it); each advance leaps every lane ``P * L`` steps, i.e. P words, in one clock, so
    the words continue across layers and samples exactly as the reference's single counter.

    Parameters
    ----------
    cfg : EngineConfig
    rng_word : int
        The word counter the reset state stands for (a constant of the design: the reset value).

    Ports
    -----
    i_advance : In(1)
        The current words were used this cycle; move every lane on by P words.
    o_words : Out(ArrayLayout(unsigned(rng_lfsr_bits), P))
        The words for the current update cycle (registers).
    """

    def __init__(self, cfg: EngineConfig, rng_word: int = 0):
        self.cfg = cfg
        words = data.ArrayLayout(unsigned(cfg.rng_lfsr_bits), cfg.lanes)
        super().__init__({"i_advance": In(1), "o_words": Out(words, init=lane_reset_words(cfg, rng_word))})

    def elaborate(self, platform):
        m = Module()
        width, P = self.cfg.rng_lfsr_bits, self.cfg.lanes
        step = Gf2Map(m, leap_rows(width, P * width), width, "leap")
        with m.If(self.i_advance):
            for p in range(P):
                m.d.sync += self.o_words[p].eq(step(self.o_words[p]))
        return m
