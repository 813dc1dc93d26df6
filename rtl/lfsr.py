"""LFSR leap logic: advance a Fibonacci LFSR (:mod:`hwsim.lfsr`) by many steps in one clock."""

from __future__ import annotations

from amaranth.hdl import Array, Const, Value

from hwsim import lfsr

__all__ = ["gf2_map", "leap", "stream_bits"]

CHUNK = 4   # state bits per lookup table of :func:`gf2_map`


def _apply(rows: list[int], state: int) -> int:
    """Bit r of the result is the parity of ``state & rows[r]``."""
    return sum((bin(state & row).count("1") & 1) << r for r, row in enumerate(rows))


def gf2_map(state: Value, rows: list[int]) -> Value:
    """The GF(2) matrix ``rows`` (row r: mask of the state bits XORed into result bit r) times ``state``.

    The map is linear, so it is the XOR of its images of the state's ``CHUNK``-bit slices: one
    16-entry constant table per slice. Same function as one XOR tree per result bit (what a
    synthesis tool makes of either), but a simulator evaluates a few table lookups instead of
    assembling every masked bit (Verilator spent most of each cycle of the paper engine on that).
    """
    width = len(state)
    out = Const(0, len(rows))
    for lo in range(0, width, CHUNK):
        n = min(CHUNK, width - lo)
        table = [_apply(rows, v << lo) for v in range(1 << n)]
        if any(table):
            out = out ^ Array(Const(t, len(rows)) for t in table)[state[lo:lo + n]]
    return out


def leap(state: Value, width: int, n: int) -> Value:
    """The state ``n`` steps after ``state`` (rows of ``lfsr.leap_matrix``)."""
    return gf2_map(state, lfsr.leap_matrix(width, n))


def stream_bits(state: Value, width: int, count: int) -> Value:
    """Bits ``m .. m + count - 1`` of the LFSR bit stream when ``state`` is the state after ``m`` steps.

    Bit ``n`` is the LSB of the state after ``n + 1`` steps, so bit ``m + q`` is row 0 of the
    ``q + 1``-step leap matrix applied to ``state``.
    """
    return gf2_map(state, [lfsr.leap_matrix(width, q + 1)[0] for q in range(count)])
