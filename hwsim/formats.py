"""Fixed-point number formats and the raw-integer primitives every part of the kit shares.

A :class:`FixedFormat` is the single source of truth for a quantity's width: the golden model,
the slow reference, the RTL generator, the golden-vector writer and the estimators all read
their widths, rounding and overflow behaviour from one of these objects.

Conventions (apytypes / hls4ml ``ap_fixed<W, I>``): ``int_bits`` *includes* the sign bit of a
signed format, ``width = int_bits + frac_bits``, and a raw integer ``r`` stands for
``r * 2**-frac_bits``. Either field may be negative (a format may hold only a fraction of a
range, e.g. ``s-2.10``) as long as the width is at least 1 (2 when signed).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Rounding", "Overflow", "FixedFormat", "ConfigError",
    "shift_round", "apply_overflow", "requantize", "parse_format", "shift_round_array", "apply_overflow_array",
]


class ConfigError(ValueError):
    """A configuration or input the kit cannot accept. The message is one sentence for the user."""


class Rounding(str, enum.Enum):
    """How low-order bits are dropped (names as in apytypes/hls4ml)."""

    TRN = "trn"            # truncate: floor, i.e. drop the LSBs of the two's complement value
    RND = "rnd"            # round half up: floor(x + 1/2)
    RND_CONV = "rnd_conv"  # round half to even (convergent)
    STOCH = "stoch"        # stochastic: floor(x + r), r uniform on [0, 1) from an LFSR word


class Overflow(str, enum.Enum):
    """What happens to a value outside the format's range."""

    SAT = "sat"    # clamp to [min, max]
    WRAP = "wrap"  # keep the low `width` bits (two's complement wrap)


MAX_WIDTH = 64          # internal registers (accumulators) may be this wide
MAX_STORED_WIDTH = 32   # formats a user names for stored quantities


@dataclass(frozen=True)
class FixedFormat:
    """A signed or unsigned fixed-point format.

    Parameters
    ----------
    int_bits : int
        Integer bits, including the sign bit when ``signed``.
    frac_bits : int
        Fraction bits; the raw integer ``r`` means ``r * 2**-frac_bits``.
    signed : bool
        Two's complement when true.
    rounding : Rounding
        How a wider value is rounded into this format.
    overflow : Overflow
        How a value outside ``[min_raw, max_raw]`` is brought back into range.
    """

    int_bits: int
    frac_bits: int
    signed: bool = True
    rounding: Rounding = Rounding.TRN
    overflow: Overflow = Overflow.SAT

    def __post_init__(self) -> None:
        object.__setattr__(self, "rounding", Rounding(self.rounding))
        object.__setattr__(self, "overflow", Overflow(self.overflow))
        for name in ("int_bits", "frac_bits"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
                raise ConfigError(f"format {name} must be an integer, not {value!r}")
        lo = 2 if self.signed else 1
        if not lo <= self.width <= MAX_WIDTH:
            raise ConfigError(
                f"format {self} has width {self.width}; allowed widths are {lo}..{MAX_WIDTH} bits")

    @property
    def width(self) -> int:
        return self.int_bits + self.frac_bits

    @property
    def min_raw(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max_raw(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def lsb(self) -> float:
        return 2.0 ** -self.frac_bits

    @property
    def min(self) -> float:
        return self.min_raw * self.lsb

    @property
    def max(self) -> float:
        return self.max_raw * self.lsb

    def one_raw(self) -> int:
        """The raw integer of 1.0 in this format's scale (it may exceed ``max_raw``)."""
        return 1 << self.frac_bits if self.frac_bits >= 0 else 0

    def __str__(self) -> str:
        return f"{'s' if self.signed else 'u'}{self.int_bits}.{self.frac_bits}"

    def to_dict(self) -> dict:
        return {"format": str(self), "rounding": self.rounding.value, "overflow": self.overflow.value}

    def with_(self, **changes) -> "FixedFormat":
        fields = dict(int_bits=self.int_bits, frac_bits=self.frac_bits, signed=self.signed,
                      rounding=self.rounding, overflow=self.overflow)
        fields.update(changes)
        return FixedFormat(**fields)

    def from_float(self, x) -> np.ndarray:
        """Quantize floats to raw integers: round half to even, then saturate (host-side use only)."""
        raw = np.rint(np.asarray(x, dtype=np.float64) * 2.0 ** self.frac_bits)
        return np.clip(raw, self.min_raw, self.max_raw).astype(np.int64)

    def to_float(self, raw) -> np.ndarray:
        return np.asarray(raw, dtype=np.float64) * self.lsb

    def contains(self, raw) -> bool:
        raw = np.asarray(raw)
        return bool(np.all((raw >= self.min_raw) & (raw <= self.max_raw)))


def parse_format(text: str, rounding: str = "trn", overflow: str = "sat", field: str = "format") -> FixedFormat:
    """Parse ``'s1.7'`` / ``'u0.8'`` (sign letter, integer bits incl. sign, fraction bits)."""
    if not isinstance(text, str) or len(text) < 4 or text[0] not in "su" or "." not in text:
        raise ConfigError(f"{field} must look like 's1.7' or 'u0.8' (sign letter, integer bits, "
                          f"fraction bits), not {text!r}")
    try:
        int_part, frac_part = text[1:].split(".")
        int_bits, frac_bits = int(int_part), int(frac_part)
    except ValueError:
        raise ConfigError(f"{field} must look like 's1.7' or 'u0.8' (sign letter, integer bits, "
                          f"fraction bits), not {text!r}") from None
    try:
        rnd = Rounding(rounding)
    except ValueError:
        raise ConfigError(f"{field} rounding must be one of "
                          f"{', '.join(r.value for r in Rounding)}, not {rounding!r}") from None
    try:
        ovf = Overflow(overflow)
    except ValueError:
        raise ConfigError(f"{field} overflow must be one of "
                          f"{', '.join(o.value for o in Overflow)}, not {overflow!r}") from None
    lo = 2 if text[0] == "s" else 1
    if not lo <= int_bits + frac_bits <= MAX_STORED_WIDTH:
        raise ConfigError(f"{field}: format {text} has width {int_bits + frac_bits}; allowed widths are "
                          f"{lo}..{MAX_STORED_WIDTH} bits")
    return FixedFormat(int_bits, frac_bits, text[0] == "s", rnd, ovf)


# ---------------------------------------------------------------------------------------------
# Raw-integer primitives. Plain Python ints, written to be obviously correct: they are the
# reference the fast kernels and the RTL are checked against, exhaustively for small widths.
# ---------------------------------------------------------------------------------------------

def shift_round(value: int, shift: int, rounding: Rounding, rand: int = 0) -> int:
    """Divide ``value`` by ``2**shift`` with ``rounding``; a negative shift multiplies exactly.

    ``rand`` is the stochastic-rounding word; only its low ``shift`` bits are used.
    """
    value = int(value)
    if shift <= 0:
        return value << -shift
    rounding = Rounding(rounding)
    if rounding is Rounding.TRN:
        return value >> shift
    if rounding is Rounding.RND:
        return (value + (1 << (shift - 1))) >> shift
    if rounding is Rounding.RND_CONV:
        q = value >> shift
        rem = value - (q << shift)
        half = 1 << (shift - 1)
        if rem > half or (rem == half and (q & 1)):
            q += 1
        return q
    if rounding is Rounding.STOCH:
        return (value + (int(rand) & ((1 << shift) - 1))) >> shift
    raise ValueError(rounding)


def apply_overflow(value: int, fmt: FixedFormat) -> int:
    """Bring a raw integer into ``fmt``'s range by saturation or two's complement wrap."""
    value = int(value)
    if fmt.overflow is Overflow.SAT:
        return min(max(value, fmt.min_raw), fmt.max_raw)
    mask = (1 << fmt.width) - 1
    value &= mask
    if fmt.signed and value >> (fmt.width - 1):
        value -= 1 << fmt.width
    return value


def requantize(value: int, from_frac: int, fmt: FixedFormat, rand: int = 0,
               rounding: Rounding | None = None) -> int:
    """Move a raw integer with ``from_frac`` fraction bits into ``fmt``: round, then overflow."""
    shifted = shift_round(value, from_frac - fmt.frac_bits, rounding or fmt.rounding, rand)
    return apply_overflow(shifted, fmt)


def shift_round_array(v: np.ndarray, shift: int, rounding: Rounding, rand=None) -> np.ndarray:
    """:func:`shift_round` on a whole array: int64, or object (Python ints) where values may pass 64 bits.

    ``rand`` holds each element's stochastic addend (its low ``shift`` bits are used).
    """
    if shift <= 0:
        return v << -shift
    rounding = Rounding(rounding)
    if rounding is Rounding.TRN:
        return v >> shift
    if rounding is Rounding.RND:
        return (v + (1 << (shift - 1))) >> shift
    if rounding is Rounding.RND_CONV:
        q = v >> shift
        rem = v - (q << shift)
        half = 1 << (shift - 1)
        return q + ((rem > half) | ((rem == half) & ((q & 1) == 1))).astype(v.dtype)
    return (v + (rand & ((1 << shift) - 1))) >> shift


def apply_overflow_array(v: np.ndarray, fmt: FixedFormat) -> np.ndarray:
    """:func:`apply_overflow` on a whole array (int64, or object for formats wider than 63 bits)."""
    if fmt.overflow is Overflow.SAT:
        return np.minimum(np.maximum(v, fmt.min_raw), fmt.max_raw)
    if fmt.width >= 64 and v.dtype != object:
        return v  # an int64 already holds every 64-bit value
    r = v & ((1 << fmt.width) - 1)
    if fmt.signed:
        r = np.where((r >> (fmt.width - 1)) == 1, r - (1 << fmt.width), r)
    return r
