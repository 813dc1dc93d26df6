"""MAC lanes: P multiply-accumulate units that share one broadcast input per cycle."""

from __future__ import annotations

from amaranth.hdl import Module, Mux
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from hwsim.config import EngineConfig

from .arith import overflow, shape_of

__all__ = ["MacLanes"]


class MacLanes(wiring.Component):
    """Layer ``k``'s P accumulators: ``acc_p <= overflow((0 if first else acc_p) + w_p * a_ext)``.

    Twin: :func:`hwsim.twins.mac_step`. The bias column multiplies by the constant 1.0 of the
    input format (a shift), so the multipliers stay ``weight x input`` wide.

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
        for p in range(self.cfg.lanes):
            w = self.i_weights[p]
            product = Mux(self.i_bias, w * one, w * self.i_act)
            total = Mux(self.i_first, 0, self.o_acc[p]) + product
            with m.If(self.i_en):
                m.d.sync += self.o_acc[p].eq(overflow(total, self.acc_fmt, m))
        return m
