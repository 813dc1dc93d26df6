"""Requantizer: move a raw integer into a narrower format with its rounding and overflow."""

from __future__ import annotations

from amaranth.hdl import Module, Shape, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hwsim.formats import FixedFormat, Rounding

from .arith import requantize, shape_of

__all__ = ["Requantizer"]


class Requantizer(wiring.Component):
    """Combinational ``requantize(value, from_frac, fmt, rand, rounding)`` (twin: hwsim.formats).

    Parameters
    ----------
    in_shape : Shape
        Shape of the raw input.
    from_frac : int
        Fraction bits of the input.
    fmt : FixedFormat
        Destination format (its rounding is used unless ``rounding`` is given).
    rounding : Rounding or None
        Overrides ``fmt.rounding``.
    rand_bits : int
        Width of the stochastic word (used only when the rounding is STOCH).

    Ports
    -----
    i_value : In(in_shape)
        Raw input.
    i_rand : In(rand_bits)
        Stochastic-rounding word; only its low ``from_frac - fmt.frac_bits`` bits count.
        Present only for STOCH rounding.
    o_value : Out(shape_of(fmt))
        Rounded, overflowed result.
    """

    def __init__(self, in_shape, from_frac: int, fmt: FixedFormat, rounding: Rounding | None = None,
                 rand_bits: int = 16):
        self.in_shape = Shape.cast(in_shape)
        self.from_frac = from_frac
        self.fmt = fmt
        self.rounding = Rounding(rounding or fmt.rounding)
        self.stochastic = self.rounding is Rounding.STOCH and from_frac > fmt.frac_bits
        members = {"i_value": In(self.in_shape), "o_value": Out(shape_of(fmt))}
        if self.stochastic:
            members["i_rand"] = In(unsigned(rand_bits))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        rand = self.i_rand if self.stochastic else None
        m.d.comb += self.o_value.eq(requantize(self.i_value, self.from_frac, self.fmt, rand, self.rounding, m))
        return m
