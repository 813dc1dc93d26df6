"""LFSR leap logic: advance a Fibonacci LFSR (:mod:`hwsim.lfsr`) by many steps in one clock."""

from __future__ import annotations

from amaranth.hdl import Const, Module, Value, unsigned
from amaranth.lib import memory

from hwsim import lfsr

__all__ = ["Gf2Map", "leap_rows", "stream_rows"]

CHUNK = 4   # state bits per lookup table of :class:`Gf2Map`


def _apply(rows: list[int], state: int) -> int:
    """Bit r of the result is the parity of ``state & rows[r]``."""
    return sum((bin(state & row).count("1") & 1) << r for r, row in enumerate(rows))


class Gf2Map:
    """The GF(2) matrix ``rows`` (row r: mask of the state bits XORed into result bit r), applied
    to as many ``width``-bit states as the design needs.

    The map is linear, so it is the XOR of its images of the state's ``CHUNK``-bit slices: one
    16-entry constant table per slice, held in a ROM (an asynchronous-read
    :class:`amaranth.lib.memory.Memory`) that every state reads through a port of its own. Same
    function as one XOR tree per result bit (what synthesis makes of it: each result bit of a
    table is a 4-input function, one LUT4), but a simulator evaluates an array lookup per slice.
    Written as a ``case`` (an ``Array`` of constants), the lookup became a tree of branches on
    the state's bits in Verilator's C++, each mispredicted half the time on random words: about
    a hundred mispredictions per update cycle of the paper engine.

    Parameters
    ----------
    m : Module
        The module the ROMs and read ports are added to.
    rows : list[int]
        One mask per result bit.
    width : int
        State bits.
    name : str
        Prefix of the ROMs' submodule names.
    """

    def __init__(self, m: Module, rows: list[int], width: int, name: str):
        self._m, self._out_bits = m, len(rows)
        self._tables: list[tuple[int, int, memory.Memory]] = []
        for lo in range(0, width, CHUNK):
            n = min(CHUNK, width - lo)
            table = [_apply(rows, v << lo) for v in range(1 << n)]
            if any(table):
                rom = memory.Memory(shape=unsigned(len(rows)), depth=1 << n, init=table)
                m.submodules[f"{name}_{lo}"] = rom
                self._tables.append((lo, n, rom))

    def __call__(self, state: Value) -> Value:
        out: Value = Const(0, self._out_bits)
        for lo, n, rom in self._tables:
            port = rom.read_port(domain="comb")
            self._m.d.comb += port.addr.eq(state[lo:lo + n])
            out = out ^ port.data
        return out


def leap_rows(width: int, n: int) -> list[int]:
    """The map from a state to the state ``n`` steps later (rows of ``lfsr.leap_matrix``)."""
    return list(lfsr.leap_matrix(width, n))


def stream_rows(width: int, count: int) -> list[int]:
    """The map from the state after ``m`` steps to bits ``m .. m + count - 1`` of the bit stream.

    Bit ``n`` is the LSB of the state after ``n + 1`` steps, so bit ``m + q`` is row 0 of the
    ``q + 1``-step leap matrix.
    """
    return [lfsr.leap_matrix(width, q + 1)[0] for q in range(count)]
