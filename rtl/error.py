"""Output-error unit: the output layer's modulatory signal from its activation and the label."""

from __future__ import annotations

from amaranth.hdl import Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hwsim.config import TERNARY, LayerConfig

from .arith import requantize, shape_of, sign

__all__ = ["OutputError"]


class OutputError(wiring.Component):
    """``delta = output_delta(y, is_label, layer)`` (twin: :func:`hwsim.twins.output_delta`).

    ``e = requantize(y - target)`` into the error format, target = ``min(1.0, act max)`` for the
    label's neuron and 0 for the others; the signal is ``e`` or ``sign(e)`` per the config.

    Parameters
    ----------
    layer : LayerConfig
        The output layer.

    Ports
    -----
    i_y : In(shape_of(layer.act))
        Output activation.
    i_is_label : In(1)
        This neuron is the sample's label.
    o_delta : Out(shape_of(error)) or Out(signed(2))
        The modulatory signal (error format, or ternary for ``signal: sign``).
    """

    def __init__(self, layer: LayerConfig):
        self.layer = layer
        out = layer.error if layer.sends_error else TERNARY
        super().__init__({"i_y": In(shape_of(layer.act)), "i_is_label": In(1), "o_delta": Out(shape_of(out))})

    def elaborate(self, platform):
        m = Module()
        act = self.layer.act
        target = self.layer.target_one()
        e = requantize(self.i_y - Mux(self.i_is_label, target, 0), act.frac_bits, self.layer.error, m=m)
        m.d.comb += self.o_delta.eq(e if self.layer.sends_error else sign(e))
        return m
