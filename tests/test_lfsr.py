"""LFSRs: maximal periods, the stepping definition against the tables, leap matrices."""

import numpy as np
import pytest

from hwsim import lfsr


@pytest.mark.parametrize("width", [w for w in sorted(lfsr.TAPS) if w <= 20])
def test_maximal_period(width):
    states = lfsr._state_sequence(width, 1)
    assert len(np.unique(states)) == lfsr.period(width) and states.min() >= 1


@pytest.mark.slow
@pytest.mark.parametrize("width", [w for w in sorted(lfsr.TAPS) if w > 20])
def test_maximal_period_wide(width):
    states = lfsr._state_sequence(width, 1)
    assert len(np.unique(states)) == lfsr.period(width) and states.min() >= 1


@pytest.mark.parametrize("width", sorted(lfsr.TAPS))
def test_tables_follow_step(width):
    seed = 0x5A5 & ((1 << width) - 1) or 1
    words = lfsr.word_table(width, seed, extend=5)
    state = seed
    for n in range(40):
        assert words[n] == state
        state = lfsr.steps(state, width, width)
    assert list(words[lfsr.word_period(width):]) == list(words[:5])
    bits = lfsr.bit_stream(width, seed, 3, 30)
    state = lfsr.steps(seed, width, 3)
    for b in bits:
        state = lfsr.step(state, width)
        assert b == state & 1


@pytest.mark.parametrize("width, n", [(8, 1), (16, 64), (16, 256), (24, 16 * 24), (11, 1000)])
def test_leap_matrix(width, n):
    rows = lfsr.leap_matrix(width, n)
    for state in (1, 0x3, (1 << width) - 1, 0x2AAAAA & ((1 << width) - 1)):
        assert lfsr.apply_leap(rows, state) == lfsr.steps(state, width, n)


@pytest.mark.parametrize("width, n", [(16, 5000), (16, 123_457), (11, 10_000)])
def test_far_word_reads_the_table(width, n):
    """Positions past the direct-stepping limit come from the state table: same state as stepping."""
    seed = 0xACE1 & ((1 << width) - 1)
    assert lfsr.word(width, seed, n) == lfsr.steps(seed, width, (n * width) % lfsr.period(width))
