"""LFSR leap logic: advance a Fibonacci LFSR (:mod:`hwsim.lfsr`) by many steps in one clock."""

from __future__ import annotations

from amaranth.hdl import Cat, Value

from hwsim import lfsr

__all__ = ["leap", "stream_bit"]


def leap(state: Value, width: int, n: int) -> Value:
    """The state ``n`` steps after ``state``: one XOR tree per bit (rows of ``lfsr.leap_matrix``)."""
    rows = lfsr.leap_matrix(width, n)
    return Cat(*[(state & mask).xor() for mask in rows])


def stream_bit(state: Value, width: int, q: int) -> Value:
    """Bit ``m + q`` of the LFSR bit stream when ``state`` is the state after ``m`` steps.

    Bit ``n`` is the LSB of the state after ``n + 1`` steps, so this is row 0 of the
    ``q + 1``-step leap matrix applied to ``state``.
    """
    return (state & lfsr.leap_matrix(width, q + 1)[0]).xor()
