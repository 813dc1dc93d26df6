"""Weight-update lanes: the modify step of the read-modify-write DRTP update."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from hwsim.config import EngineConfig, UpdateRule

from .arith import overflow, shape_of, shift_round, sign

__all__ = ["UpdateLanes"]


class UpdateLanes(wiring.Component):
    """P lanes of ``w' = overflow(w + dW)`` for one weight-memory word (combinational).

    Twin: :func:`hwsim.twins.update_weight`. Rule ``shift``: ``dW = shift_round(-delta * a,
    update_drop_bits(k), rounding, rand)`` with ``rand`` the lane's stochastic word aligned to the
    top of the dropped bits (:func:`hwsim.reference.stochastic_word_bits`); rule ``sign``:
    ``dW = -sign(delta) * sign(a)``.

    Parameters
    ----------
    cfg : EngineConfig
    k : int
        Layer index.

    Ports
    -----
    i_weights : In(ArrayLayout(shape_of(weight), P))
        The word read from the weight memory.
    i_deltas : In(ArrayLayout(shape_of(cfg.delta_format(k)), P))
        The lanes' modulatory signals (0 for padding lanes, which then keep their weight).
    i_act : In(shape_of(in_format(k)))
        The column's input, broadcast to every lane.
    i_bias : In(1)
        This column is the bias (input 1.0).
    i_words : In(ArrayLayout(unsigned(rng_lfsr_bits), P))
        Stochastic-rounding words; present only when this layer rounds stochastically.
    o_weights : Out(ArrayLayout(shape_of(weight), P))
        The word to write back.
    """

    def __init__(self, cfg: EngineConfig, k: int):
        self.cfg, self.k = cfg, k
        layer = cfg.layers[k]
        P = cfg.lanes
        self.stochastic = cfg.update_is_stochastic(k)
        weights = data.ArrayLayout(shape_of(layer.weight), P)
        members = {
            "i_weights": In(weights),
            "i_deltas": In(data.ArrayLayout(shape_of(cfg.delta_format(k)), P)),
            "i_act": In(shape_of(cfg.in_format(k))), "i_bias": In(1),
            "o_weights": Out(weights),
        }
        if self.stochastic:
            members["i_words"] = In(data.ArrayLayout(unsigned(cfg.rng_lfsr_bits), P))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        cfg, k = self.cfg, self.k
        layer = cfg.layers[k]
        one = cfg.bias_input(k)
        drop = cfg.update_drop_bits(k)
        if layer.update_rule is UpdateRule.SIGN:
            a_sign = Mux(self.i_bias, Const(1 if one else 0, 2).as_signed(), sign(self.i_act))
        for p in range(cfg.lanes):
            w, delta = self.i_weights[p], self.i_deltas[p]
            if layer.update_rule is UpdateRule.SIGN:
                dw = -(sign(delta) * a_sign)
            else:
                product = -Mux(self.i_bias, delta * one, delta * self.i_act)
                rand = None
                if self.stochastic:
                    used = min(drop, cfg.rng_lfsr_bits)
                    word = self.i_words[p][:used]
                    rand = word if used == drop else Cat(Const(0, drop - used), word)
                dw = shift_round(product, drop, layer.update_rounding, rand, m)
            m.d.comb += self.o_weights[p].eq(overflow(w + dw, layer.weight, m))
        return m
