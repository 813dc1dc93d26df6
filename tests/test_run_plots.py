"""hwsim.run_plots: the learning-curve and confusion-matrix files of a run folder."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from hwsim.formats import ConfigError
from hwsim.run_plots import confusion, confusion_counts, learning_curve

PNG = b"\x89PNG\r\n\x1a\n"


def test_learning_curve_written_atomically_with_usual_mode(tmp_path):
    path = tmp_path / "run" / "learning_curve.png"
    learning_curve({"fixed": {"train_acc": [0.5, 0.7, 0.8], "test_acc": [0.45, 0.66, 0.75]},
                    "float": {"train_acc": [0.6, 0.8, 0.9], "test_acc": [0.55, 0.7, 0.8]}}, path)
    assert path.read_bytes()[:8] == PNG
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
    assert [p.name for p in path.parent.iterdir()] == ["learning_curve.png"]  # no temp files left


def test_learning_curve_one_mode_and_nothing(tmp_path):
    learning_curve({"fixed": {"train_acc": [0.5], "test_acc": [0.4]}, "float": {}}, tmp_path / "lc.png")
    assert (tmp_path / "lc.png").read_bytes()[:8] == PNG
    with pytest.raises(ConfigError, match="at least one record"):
        learning_curve({"fixed": {"train_acc": []}}, tmp_path / "none.png")


def test_confusion_counts_are_right(tmp_path):
    y_true = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    y_pred = np.array([0, 0, 1, 1, 2, 2, 2, 0, 2])
    C = confusion(y_true, y_pred, 4, tmp_path / "confusion.png")
    want = [[2, 1, 0, 0], [0, 1, 1, 0], [1, 0, 3, 0], [0, 0, 0, 0]]
    assert C.tolist() == want
    assert (tmp_path / "confusion.png").read_bytes()[:8] == PNG
    saved = json.loads((tmp_path / "confusion.json").read_text())
    assert saved["counts"] == want and saved["n"] == 9 and saved["n_classes"] == 4
    assert saved["accuracy"] == pytest.approx(6 / 9)
    assert saved["recall"] == [pytest.approx(2 / 3), 0.5, 0.75, None]


def test_confusion_counts_match_a_loop():
    rng = np.random.default_rng(1)
    t, p = rng.integers(0, 10, 500), rng.integers(0, 10, 500)
    C = confusion_counts(t, p, 10)
    want = np.zeros((10, 10), dtype=np.int64)
    for a, b in zip(t, p):
        want[a, b] += 1
    assert np.array_equal(C, want) and C.sum() == 500


def test_confusion_refuses_bad_labels(tmp_path):
    with pytest.raises(ConfigError, match="integers in 0..2"):
        confusion_counts([0, 3], [0, 1], 3)
    with pytest.raises(ConfigError, match="one length"):
        confusion_counts([0, 1], [0], 3)
