"""Maximal-length LFSRs: the only source of random bits inside the engine.

One definition, used by the slow reference (stepping), the fast model (precomputed tables) and
the RTL generator (seeds and leap matrices). An L-bit *Fibonacci* LFSR shifting left:

    new_bit = XOR of state bits (t - 1) for every tap t in TAPS[L]
    state'  = ((state << 1) | new_bit) & (2**L - 1)

The all-zero state is forbidden. The taps are the maximal-length ones of Xilinx XAPP052
(period 2**L - 1); ``tests/test_lfsr.py`` checks every period.

* Bit stream: ``bit_n`` is the LSB of the state after n + 1 steps (the n-th new bit).
* Word stream: ``word_n`` is the state after ``n * L`` steps (each word is L fresh bits).
"""

from __future__ import annotations

import functools
import math

import numba
import numpy as np

from .formats import ConfigError

__all__ = ["TAPS", "step", "steps", "word", "bit_start_state", "word_table", "word_period", "bit_stream",
           "leap_matrix", "apply_leap", "check_width", "period"]

TAPS: dict[int, tuple[int, ...]] = {
    8: (8, 6, 5, 4), 9: (9, 5), 10: (10, 7), 11: (11, 9), 12: (12, 6, 4, 1),
    13: (13, 4, 3, 1), 14: (14, 5, 3, 1), 15: (15, 14), 16: (16, 15, 13, 4), 17: (17, 14),
    18: (18, 11), 19: (19, 6, 2, 1), 20: (20, 17), 21: (21, 19), 22: (22, 21), 23: (23, 18),
    24: (24, 23, 22, 17),
}


def check_width(width: int, field: str) -> None:
    if width not in TAPS:
        raise ConfigError(f"{field} must be an LFSR width in {min(TAPS)}..{max(TAPS)}, not {width!r}")


def period(width: int) -> int:
    return (1 << width) - 1


def step(state: int, width: int) -> int:
    """One step of the LFSR (the reference definition)."""
    fb = 0
    for t in TAPS[width]:
        fb ^= (state >> (t - 1)) & 1
    return ((state << 1) | fb) & ((1 << width) - 1)


def steps(state: int, width: int, n: int) -> int:
    for _ in range(n):
        state = step(state, width)
    return state


def word(width: int, seed: int, n: int) -> int:
    """``word_n`` of the word stream from ``seed``: the state after ``n * L`` steps.

    Far positions (a trained engine's counter) are read from the precomputed state sequence,
    the same states stepping reaches.
    """
    n_steps = (n * width) % period(width)
    if n_steps > _STEP_DIRECTLY:
        return int(_state_sequence(width, seed)[n_steps])
    return steps(seed, width, n_steps)


_STEP_DIRECTLY = 1 << 12


def bit_start_state(width: int, seed: int, n: int) -> int:
    """The state whose next step makes ``bit_n`` of the bit stream: the state after ``n`` steps."""
    return steps(seed, width, n % period(width))


@numba.njit(cache=True)
def _fill_states(seed: int, width: int, taps: np.ndarray, out: np.ndarray) -> None:
    mask = (1 << width) - 1
    state = seed
    for n in range(out.shape[0]):
        out[n] = state
        fb = 0
        for t in taps:
            fb ^= (state >> (t - 1)) & 1
        state = ((state << 1) | fb) & mask


@functools.lru_cache(maxsize=8)
def _state_sequence(width: int, seed: int) -> np.ndarray:
    """All 2**L - 1 states from ``seed`` on: ``out[s]`` is the state after s steps."""
    out = np.empty(period(width), dtype=np.uint32)
    _fill_states(seed, width, np.array(TAPS[width], dtype=np.int64), out)
    out.setflags(write=False)
    return out


def word_table(width: int, seed: int, extend: int = 0) -> np.ndarray:
    """``word_n`` for one full word period, with the first ``extend`` words appended again.

    Appending lets the fast model read any window of ``extend`` consecutive words as one slice.
    """
    states = _state_sequence(width, seed)
    n_words = period(width) // math.gcd(width, period(width))
    idx = (np.arange(n_words, dtype=np.int64) * width) % period(width)
    words = states[idx]
    if extend:
        reps = -(-extend // n_words)
        words = np.concatenate([words] + [words] * reps)[: n_words + extend]
    return np.ascontiguousarray(words)


def word_period(width: int) -> int:
    return period(width) // math.gcd(width, period(width))


def bit_stream(width: int, seed: int, start: int, count: int) -> np.ndarray:
    """``bit_start .. bit_{start+count-1}`` of the stream from ``seed`` (0/1 uint8)."""
    states = _state_sequence(width, seed)
    idx = (np.arange(start + 1, start + count + 1, dtype=np.int64)) % period(width)
    return (states[idx] & 1).astype(np.uint8)


def leap_matrix(width: int, n: int) -> list[int]:
    """GF(2) matrix of ``n`` steps: row r is a bit mask of the old state bits XORed into new bit r.

    The RTL uses it to advance a lane register by many steps in one clock.
    """
    rows = [1 << r for r in range(width)]  # identity: new bit r = old bit r
    for _ in range(n):
        fb = 0
        for t in TAPS[width]:
            fb ^= rows[t - 1]
        rows = [fb] + rows[:-1]
    return rows


def apply_leap(rows: list[int], state: int) -> int:
    out = 0
    for r, mask in enumerate(rows):
        out |= (bin(state & mask).count("1") & 1) << r
    return out
