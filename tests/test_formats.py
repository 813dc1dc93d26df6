"""Fixed-point formats and raw-integer primitives, exhaustively for every format of <= 8 bits."""

import math
from fractions import Fraction

import numpy as np
import pytest

from hwsim.formats import (ConfigError, FixedFormat, Overflow, Rounding, apply_overflow, apply_overflow_array,
                           parse_format, requantize, shift_round, shift_round_array)

SMALL_FORMATS = [FixedFormat(i, w - i, s) for w in range(1, 9) for s in (False, True) for i in range(-2, w + 3)
                 if w >= (2 if s else 1)]


def oracle_round(value: int, shift: int, rounding: Rounding, rand: int = 0) -> int:
    """Exact rational arithmetic: an independent statement of each rounding mode."""
    x = Fraction(value, 2 ** shift) if shift >= 0 else Fraction(value * 2 ** -shift)
    fl = math.floor(x)
    frac = x - fl
    if rounding is Rounding.TRN:
        return fl
    if rounding is Rounding.RND:
        return fl + (1 if frac >= Fraction(1, 2) else 0)
    if rounding is Rounding.RND_CONV:
        if frac > Fraction(1, 2) or (frac == Fraction(1, 2) and fl % 2 == 1):
            return fl + 1
        return fl
    return math.floor(x + Fraction(rand, 2 ** shift)) if shift > 0 else fl


@pytest.mark.parametrize("rounding", [Rounding.TRN, Rounding.RND, Rounding.RND_CONV])
@pytest.mark.parametrize("shift", range(-2, 9))
def test_shift_round_exhaustive_8bit(rounding, shift):
    for value in range(-512, 512):
        assert shift_round(value, shift, rounding) == oracle_round(value, shift, rounding), (value, shift)


@pytest.mark.parametrize("shift", range(1, 7))
def test_stochastic_rounding_every_word(shift):
    """Over all 2**shift random words the mean is exact (unbiased) and each result is floor or ceil."""
    for value in range(-130, 130):
        outs = [shift_round(value, shift, Rounding.STOCH, r) for r in range(2 ** shift)]
        assert all(o == oracle_round(value, shift, Rounding.STOCH, r) for r, o in zip(range(2 ** shift), outs))
        assert Fraction(sum(outs), 2 ** shift) == Fraction(value, 2 ** shift)
        assert set(outs) <= {math.floor(Fraction(value, 2 ** shift)), math.ceil(Fraction(value, 2 ** shift))}


@pytest.mark.parametrize("fmt", SMALL_FORMATS, ids=str)
@pytest.mark.parametrize("overflow", list(Overflow))
def test_overflow_exhaustive(fmt, overflow):
    fmt = fmt.with_(overflow=overflow)
    span = 1 << fmt.width
    for value in range(-3 * span, 3 * span):
        got = apply_overflow(value, fmt)
        assert fmt.min_raw <= got <= fmt.max_raw
        if overflow is Overflow.SAT:
            assert got == min(max(value, fmt.min_raw), fmt.max_raw)
        else:
            assert (got - value) % span == 0


@pytest.mark.parametrize("fmt", [f for f in SMALL_FORMATS if f.width <= 6], ids=str)
@pytest.mark.parametrize("rounding", [Rounding.TRN, Rounding.RND, Rounding.RND_CONV])
def test_requantize_exhaustive(fmt, rounding):
    """Every value of every 8-bit source format into every small format."""
    fmt = fmt.with_(rounding=rounding)
    for from_frac in range(0, 9):
        for value in range(-128, 128):
            got = requantize(value, from_frac, fmt)
            expect = oracle_round(value, from_frac - fmt.frac_bits, rounding)
            assert got == min(max(expect, fmt.min_raw), fmt.max_raw)


def test_format_ranges():
    f = FixedFormat(1, 7, True)
    assert (f.width, f.min_raw, f.max_raw, f.min, f.max) == (8, -128, 127, -1.0, 127 / 128)
    u = FixedFormat(0, 8, False)
    assert (u.min_raw, u.max_raw, u.max) == (0, 255, 255 / 256)
    n = FixedFormat(-2, 10, True)  # a fraction of the range only: +-2**-3
    assert n.width == 8 and n.max == 127 / 1024
    assert str(parse_format("s-2.10")) == "s-2.10"
    assert list(f.from_float([0.5, 2.0, -3.0])) == [64, 127, -128]


@pytest.mark.parametrize("text, message", [
    ("q1.7", "must look like 's1.7' or 'u0.8'"),
    ("s1.x", "must look like 's1.7' or 'u0.8'"),
    ("s20.20", "has width 40; allowed widths are 2..32 bits"),
    ("s40.20", "has width 60; allowed widths are 2..32 bits"),
    ("s1.0", "has width 1; allowed widths are 2..32 bits"),
    ("u0.0", "has width 0; allowed widths are 1..32 bits"),
])
def test_format_errors(text, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        parse_format(text)


def test_rounding_and_overflow_names():
    with pytest.raises(ConfigError, match="rounding must be one of trn, rnd, rnd_conv, stoch, not 'up'"):
        parse_format("s1.7", rounding="up")
    with pytest.raises(ConfigError, match="overflow must be one of sat, wrap, not 'clip'"):
        parse_format("s1.7", overflow="clip")


@pytest.mark.parametrize("dtype", [np.int64, object])
@pytest.mark.parametrize("rounding", ["trn", "rnd", "rnd_conv", "stoch"])
@pytest.mark.parametrize("shift", [-2, 0, 1, 3])
def test_array_shift_round_equals_the_scalar_rule(dtype, rounding, shift):
    v = np.arange(-300, 300).astype(dtype)
    rand = (np.arange(600) * 37 % 256).astype(dtype)
    got = shift_round_array(v, shift, Rounding(rounding), rand)
    want = [shift_round(int(a), shift, Rounding(rounding), int(r)) for a, r in zip(v, rand)]
    assert [int(g) for g in got] == want


@pytest.mark.parametrize("dtype", [np.int64, object])
@pytest.mark.parametrize("fmt", ["s2.1", "u1.2", "s0.3"])
@pytest.mark.parametrize("overflow", ["sat", "wrap"])
def test_array_overflow_equals_the_scalar_rule(dtype, fmt, overflow):
    f = parse_format(fmt, overflow=overflow)
    v = np.arange(-70, 70).astype(dtype)
    assert [int(x) for x in apply_overflow_array(v, f)] == [apply_overflow(int(a), f) for a in v]
