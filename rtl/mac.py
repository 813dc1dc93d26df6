"""MAC lanes: P multiply-accumulate units that share one broadcast input per cycle."""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from hwsim.config import EngineConfig

from .arith import overflow, shape_of

__all__ = ["MacLanes"]


class MacLanes(wiring.Component):
    """Layer ``k``'s P accumulators: ``acc_p <= overflow((0 if first else acc_p) + w_p * a_ext)``.

    Twin: :func:`hwsim.twins.mac_step`. The bias column multiplies by the constant 1.0 of the
    input format (a shift), so the multipliers stay ``weight x input`` wide.

    Three stages (:data:`LATENCY`): each lane registers its own two operands, the weight and the
    input (0 when the weight is 0: the product is the same, and the copy is then a different
    function in every lane, so synthesis keeps one register per multiplier instead of merging
    them into one that fans out to every DSP across the die); the products are registered (an
    FPGA's DSP output register), then accumulated. So each multiplier sits between registers of
    its own, and neither it nor the accumulator's adder and overflow lie on a path with the other.
    The accumulation loop itself is one cycle: back-to-back columns need no bubbles. ``o_acc``
    holds a column's sum ``LATENCY`` cycles after it is presented.

    Parameters
    ----------
    cfg : EngineConfig
    k : int
        Layer index.

    Ports
    -----
    i_en : In(1)
        Accumulate this cycle.
    i_first : In(1)
        First column of a sum: the old accumulator value is ignored.
    i_bias : In(1)
        This column is the bias: the input is 1.0, not ``i_act``.
    i_weights : In(ArrayLayout(shape_of(weight), P))
        Lane p's weight (one weight-memory word).
    i_act : In(shape_of(in_format(k)))
        The input broadcast to every lane.
    o_acc : Out(ArrayLayout(shape_of(acc_format(k)), P))
        Registered sums.
    """

    LATENCY = 3
    """Cycles from a column at the inputs to its sum in ``o_acc``."""

    def __init__(self, cfg: EngineConfig, k: int):
        self.cfg, self.k = cfg, k
        layer = cfg.layers[k]
        self.acc_fmt = cfg.acc_format(k)
        super().__init__({
            "i_en": In(1), "i_first": In(1), "i_bias": In(1),
            "i_weights": In(data.ArrayLayout(shape_of(layer.weight), cfg.lanes)),
            "i_act": In(shape_of(cfg.in_format(k))),
            "o_acc": Out(data.ArrayLayout(shape_of(self.acc_fmt), cfg.lanes)),
        })

    def elaborate(self, platform):
        m = Module()
        one = self.cfg.bias_input(self.k)
        en1, first1, en, first = Signal(), Signal(), Signal(), Signal()
        m.d.sync += [en1.eq(self.i_en), first1.eq(self.i_first), en.eq(en1), first.eq(first1)]
        act = Mux(self.i_bias, one, self.i_act)       # the bias column's input is 1.0
        for p in range(self.cfg.lanes):
            w = self.i_weights[p]
            w_op, a_op = Signal(w.shape(), name=f"weight{p}"), Signal(act.shape(), name=f"operand{p}")
            m.d.sync += [w_op.eq(w), a_op.eq(Mux(w == 0, 0, act))]
            held = Signal((w_op * a_op).shape(), name=f"product{p}")
            m.d.sync += held.eq(w_op * a_op)
            total = Mux(first, 0, self.o_acc[p]) + held
            with m.If(en):
                m.d.sync += self.o_acc[p].eq(overflow(total, self.acc_fmt, m))
        return m
