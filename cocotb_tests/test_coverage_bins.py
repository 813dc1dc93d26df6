"""The coverage replay (coverage_bins.py) reproduces golden sets bit for bit, and refuses one it does not."""

from __future__ import annotations

import numpy as np
import pytest

import coverage_bins as cov
from golden.reader import open_golden
from hwsim.config import load_config
from hwsim.reference import stochastic_word_bits
from simsetup import ROOT, golden_dir


@pytest.mark.parametrize("drop, bits", [(1, 16), (10, 16), (16, 16), (20, 16), (3, 8)])
def test_word_bits_match_reference(drop, bits):
    words = np.arange(0, 1 << bits, 97, dtype=np.int64)
    got = cov.stochastic_word_bits_array(words, drop, bits)
    assert [int(v) for v in got] == [stochastic_word_bits(int(w), drop, bits) for w in words]


def test_replay_reproduces_committed_set():
    bins = cov.replay(open_golden(golden_dir("small")))
    d = bins.to_dict()
    assert d["bins"]["layer0.update.stoch_up"]["hits"] > 0 and d["bins"]["layer0.update.stoch_down"]["hits"] > 0
    assert all(d["bins"][f"label.{c}"]["hits"] for c in range(10))
    assert d["bins"]["layer0.accumulator.wrap_high"]["unreachable"].startswith("every partial sum")


def test_replay_refuses_other_records():
    gs = open_golden(golden_dir("small"))
    gs.train_z[1][3, 2] += 1
    with pytest.raises(cov.CoverageError, match="training sample 3 layer 1 pre-activations differ"):
        cov.replay(gs)


def test_ragged_config_reaches_every_overflow():
    """The ragged bench config exists to reach the wrap bins the stress config cannot."""
    bins = cov.number_bins(load_config(ROOT / "golden" / "configs" / "small-ragged.yaml"))
    for b in ("layer0.accumulator.wrap_high", "layer0.preact.wrap_low", "layer1.weight.wrap_high",
              "layer1.error.wrap_high"):
        assert b in bins.hits and b not in bins.unreachable
