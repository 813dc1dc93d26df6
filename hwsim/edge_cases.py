"""The one table of named edge cases that drives every twin pair (hwsim function vs RTL block).

A case is a name, the reason it matters, and a rule that turns a :class:`Domain` (the format a
raw value lives in, how many bits an operation drops, the format it lands in) into raw integers.
Block tests cross the cases of each input, so a failure names the case (``tie_odd``, ``sat_hi``)
instead of a bare number; small formats are swept exhaustively on top of this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

from .formats import FixedFormat

__all__ = ["Domain", "EdgeCase", "CASES", "case_names", "named_values", "values"]


@dataclass(frozen=True)
class Domain:
    """Where a raw value lives and where it is going.

    Parameters
    ----------
    src : FixedFormat
        The format of the raw values the cases produce (they are clipped to its range).
    shift : int
        Bits an operation drops on the way (``from_frac - dst.frac_bits``; negative = left shift).
    dst : FixedFormat or None
        The format the value is brought into, if any (saturation boundaries refer to it).
    """

    src: FixedFormat
    shift: int = 0
    dst: FixedFormat | None = None


@dataclass(frozen=True)
class EdgeCase:
    name: str
    why: str
    rule: Callable[[Domain], list[int]]


def _one(dom: Domain) -> int:
    return 1 << dom.src.frac_bits if dom.src.frac_bits >= 0 else 0


def _ties(dom: Domain, offset: int, odd: bool) -> list[int]:
    if dom.shift <= 0:
        return []
    half = 1 << (dom.shift - 1)
    qs = (1, -1, 3, -3) if odd else (0, 2, -2, -4)
    return [(q << dom.shift) + half + offset for q in qs]


def _sat(dom: Domain, hi: bool, beyond: bool) -> list[int]:
    """Source values whose shifted result is the destination's bound (or one past it)."""
    if dom.dst is None:
        return []
    target = (dom.dst.max_raw + 1 if beyond else dom.dst.max_raw) if hi else \
        (dom.dst.min_raw - 1 if beyond else dom.dst.min_raw)
    if dom.shift <= 0:
        return [target >> -dom.shift, (target >> -dom.shift) + 1]
    base = target << dom.shift
    half = 1 << (dom.shift - 1)
    # the exact multiple, the largest value still truncating to it, and both sides of its tie
    return [base, base + (1 << dom.shift) - 1, base - half, base + half - 1, base + half]


CASES: tuple[EdgeCase, ...] = (
    EdgeCase("zero", "0 must pass every unit unchanged (and give derivative/sign 0 where relevant)",
             lambda d: [0]),
    EdgeCase("lsb", "one LSB either side of zero: sign changes, smallest non-zero products",
             lambda d: [1, -1]),
    EdgeCase("max", "largest raw value of the source format", lambda d: [d.src.max_raw]),
    EdgeCase("min", "smallest raw value (most negative; its negation overflows when signed)",
             lambda d: [d.src.min_raw]),
    EdgeCase("near_max", "one below the largest value", lambda d: [d.src.max_raw - 1]),
    EdgeCase("near_min", "one above the smallest value", lambda d: [d.src.min_raw + 1]),
    EdgeCase("one", "+-1.0: the bias input, the activation clip points, the label target",
             lambda d: [_one(d), -_one(d), _one(d) - 1, _one(d) + 1, -_one(d) - 1, -_one(d) + 1]),
    EdgeCase("half", "+-1/2: hard_sigmoid's offset and its derivative window",
             lambda d: [_one(d) >> 1, -(_one(d) >> 1), (_one(d) >> 1) - 1, (_one(d) >> 1) + 1,
                        -(_one(d) >> 1) - 1, -(_one(d) >> 1) + 1]),
    EdgeCase("tie_even", "exactly half way with an even quotient: RND rounds up, RND_CONV stays",
             lambda d: _ties(d, 0, odd=False)),
    EdgeCase("tie_odd", "exactly half way with an odd quotient: RND and RND_CONV both round up",
             lambda d: _ties(d, 0, odd=True)),
    EdgeCase("below_tie", "one LSB below half way: every rounding but STOCH rounds down",
             lambda d: _ties(d, -1, odd=False) + _ties(d, -1, odd=True)),
    EdgeCase("above_tie", "one LSB above half way: RND and RND_CONV round up, TRN does not",
             lambda d: _ties(d, 1, odd=False) + _ties(d, 1, odd=True)),
    EdgeCase("sat_hi", "lands exactly on the destination's maximum", lambda d: _sat(d, True, False)),
    EdgeCase("over_hi", "one destination LSB past the maximum: SAT clamps, WRAP wraps to min",
             lambda d: _sat(d, True, True)),
    EdgeCase("sat_lo", "lands exactly on the destination's minimum", lambda d: _sat(d, False, False)),
    EdgeCase("under_lo", "one destination LSB below the minimum: SAT clamps, WRAP wraps to max",
             lambda d: _sat(d, False, True)),
)


def case_names() -> list[str]:
    return [c.name for c in CASES]


def named_values(dom: Domain) -> Iterator[tuple[str, int]]:
    """Every case's raw values that fit ``dom.src``, as ``(name, raw)``, each raw value once."""
    seen = set()
    for case in CASES:
        for raw in case.rule(dom):
            raw = int(raw)
            if dom.src.min_raw <= raw <= dom.src.max_raw and raw not in seen:
                seen.add(raw)
                yield case.name, raw


def values(dom: Domain) -> list[int]:
    return [raw for _, raw in named_values(dom)]
