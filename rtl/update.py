"""Weight-update lanes: the change of one weight-memory word (before the read) and its write-back add."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Shape, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from hwsim.config import EngineConfig, UpdateRule

from .arith import overflow, shape_of, shift_round, sign

__all__ = ["WeightChange", "UpdateLanes", "change_shape"]


def change_shape(cfg: EngineConfig, k: int) -> Shape:
    """Signed shape that holds every weight change ``dW`` of layer k (|dW| < 2^(delta + input + 1) or 1)."""
    layer = cfg.layers[k]
    if layer.update_rule is UpdateRule.SIGN:
        return Shape(2, signed=True)
    drop = cfg.update_drop_bits(k)
    in_bits = max(cfg.in_format(k).width, cfg.bias_input(k).bit_length() + 1)
    product = cfg.delta_format(k).width + in_bits + 1
    return Shape(max(2, product + max(0, -drop) + 1), signed=True)


class WeightChange(wiring.Component):
    """P lanes of the weight change ``dW`` (combinational); it does not depend on the old weight.

    Twin: :func:`hwsim.twins.weight_change`. Rule ``shift``: ``dW = shift_round(-delta * a,
    update_drop_bits(k), rounding, rand)`` with ``rand`` the lane's stochastic word aligned to the
    top of the dropped bits (:func:`hwsim.reference.stochastic_word_bits`); rule ``sign``:
    ``dW = -sign(delta) * sign(a)``. ``o_nonzero`` says whether any lane changes: the event
    schedule skips the read-modify-write of a word whose P changes are all zero.

    Three steps (:data:`LATENCY` = 2 registers): each lane registers its own operands (its delta,
    and the input, 0 when the delta is 0: the same product, and a different register in every
    lane, so synthesis cannot merge them into one that fans out to every DSP), the products
    ``-delta * a`` (or the signs) are registered, then rounded with the lane words of the *output*
    cycle, so the multiplier sits between registers of its own and the rounding adder is never
    on its path. ``o_dw`` is the change of the inputs presented ``LATENCY`` cycles earlier;
    ``i_words`` is read in the cycle ``o_dw`` is.

    Ports
    -----
    i_deltas : In(ArrayLayout(shape_of(cfg.delta_format(k)), P))
        The lanes' modulatory signals (0 for padding lanes, which then keep their weight).
    i_act : In(shape_of(in_format(k)))
        The column's input, broadcast to every lane.
    i_bias : In(1)
        This column is the bias (input 1.0).
    i_words : In(ArrayLayout(unsigned(rng_lfsr_bits), P))
        Stochastic-rounding words; present only when this layer rounds stochastically.
    o_dw : Out(ArrayLayout(change_shape(cfg, k), P))
    o_nonzero : Out(1)
    """

    LATENCY = 2
    """Cycles from ``i_deltas`` / ``i_act`` / ``i_bias`` to ``o_dw``."""

    def __init__(self, cfg: EngineConfig, k: int):
        self.cfg, self.k = cfg, k
        P = cfg.lanes
        self.stochastic = cfg.update_is_stochastic(k)
        members = {
            "i_deltas": In(data.ArrayLayout(shape_of(cfg.delta_format(k)), P)),
            "i_act": In(shape_of(cfg.in_format(k))), "i_bias": In(1),
            "o_dw": Out(data.ArrayLayout(change_shape(cfg, k), P)), "o_nonzero": Out(1),
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
        act = Mux(self.i_bias, one, self.i_act)       # the bias column's input is 1.0
        for p in range(cfg.lanes):
            delta = self.i_deltas[p]
            if layer.update_rule is UpdateRule.SIGN:
                d_sign, s_op = Signal(signed(2), name=f"dsign{p}"), Signal(signed(2), name=f"asign{p}")
                m.d.sync += [d_sign.eq(sign(delta)), s_op.eq(a_sign)]
                dw = Signal(signed(2), name=f"dw{p}")
                m.d.sync += dw.eq(-(d_sign * s_op))
            else:
                d_op, a_op = Signal(delta.shape(), name=f"delta{p}"), Signal(act.shape(), name=f"operand{p}")
                m.d.sync += [d_op.eq(delta), a_op.eq(Mux(delta == 0, 0, act))]
                held = Signal((d_op * a_op).shape(), name=f"product{p}")
                m.d.sync += held.eq(d_op * a_op)
                product = -held          # negated after the register: one subtract with the rounding
                rand = None
                if self.stochastic:
                    used = min(drop, cfg.rng_lfsr_bits)
                    word = self.i_words[p][:used]
                    rand = word if used == drop else Cat(Const(0, drop - used), word)
                dw = shift_round(product, drop, layer.update_rounding, rand, m)
            m.d.comb += self.o_dw[p].eq(dw)
        m.d.comb += self.o_nonzero.eq(self.o_dw.as_value().any())
        return m


class UpdateLanes(wiring.Component):
    """P lanes of ``w' = overflow(w + dW)``: the write-back of the read-modify-write (combinational).

    Twin: :func:`hwsim.twins.update_weight` (with :func:`hwsim.twins.weight_change`).

    Ports
    -----
    i_weights : In(ArrayLayout(shape_of(weight), P))
        The word read from the weight memory.
    i_dw : In(ArrayLayout(change_shape(cfg, k), P))
        The changes :class:`WeightChange` computed (registered a cycle earlier).
    o_weights : Out(ArrayLayout(shape_of(weight), P))
        The word to write back.
    """

    def __init__(self, cfg: EngineConfig, k: int):
        self.cfg, self.k = cfg, k
        weights = data.ArrayLayout(shape_of(cfg.layers[k].weight), cfg.lanes)
        super().__init__({"i_weights": In(weights), "i_dw": In(data.ArrayLayout(change_shape(cfg, k), cfg.lanes)),
                          "o_weights": Out(weights)})

    def elaborate(self, platform):
        m = Module()
        fmt = self.cfg.layers[self.k].weight
        for p in range(self.cfg.lanes):
            m.d.comb += self.o_weights[p].eq(overflow(self.i_weights[p] + self.i_dw[p], fmt, m))
        return m
