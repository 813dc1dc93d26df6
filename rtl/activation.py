"""Activation unit: clip a pre-activation, requantize it, and give its 0/1 derivative."""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hwsim.config import Activation
from hwsim.formats import FixedFormat

from .arith import inside, requantize, saturate, shape_of

__all__ = ["ActivationUnit"]


class ActivationUnit(wiring.Component):
    """``(y, d) = activation_unit(kind, preact, act, z)`` (twin: :func:`hwsim.twins.activation_unit`).

    The derivative is 1 strictly inside the linear region, so the clip points themselves give 0.

    Parameters
    ----------
    kind : Activation
    preact : FixedFormat
        Format of ``i_z`` (at least 0 fraction bits, 1 for hard_sigmoid: the config checks it).
    act : FixedFormat
        Format of ``o_y``.

    Ports
    -----
    i_z : In(shape_of(preact))
        Pre-activation.
    o_y : Out(shape_of(act))
        Activation: the clipped value requantized to ``act``.
    o_deriv : Out(1)
        Derivative of the activation at ``i_z`` (0 or 1).
    """

    def __init__(self, kind: Activation, preact: FixedFormat, act: FixedFormat):
        self.kind, self.preact, self.act = Activation(kind), preact, act
        super().__init__({"i_z": In(shape_of(preact)), "o_y": Out(shape_of(act)), "o_deriv": Out(1)})

    def elaborate(self, platform):
        m = Module()
        z = self.i_z
        one = 1 << self.preact.frac_bits
        if self.kind is Activation.CLIPPED_RELU:
            clipped, deriv = saturate(z, 0, one, m), inside(z, 0, one)
        elif self.kind is Activation.HARD_TANH:
            clipped, deriv = saturate(z, -one, one, m), inside(z, -one, one)
        else:
            half = one >> 1
            clipped, deriv = saturate(z + half, 0, one, m), inside(z, -half, half)
        m.d.comb += [
            self.o_y.eq(requantize(clipped, self.preact.frac_bits, self.act, m=m)),
            self.o_deriv.eq(deriv),
        ]
        return m
