"""The paper's two synthetic tasks, generated as the authors' ``synth_dataset_gen.py`` does.

Regression: 256 inputs, 10 outputs ``y_i = cos(mean(x) + phi_i)``, ``phi_i = -pi/2 + i*pi/9``
(i = 0..9); per example a mean ``mu ~ U(-pi, pi)`` and ``x_j ~ N(mu, 1)``; 5,000 train / 1,000
test. (The authors draw with PyTorch's RNG; here numpy's PCG64 with the given seed.)

Classification: scikit-learn ``make_classification`` with 256 features of which 128 informative,
no redundant or repeated ones, 10 classes, 5 clusters per class, ``class_sep=4.5``, unit scale,
shuffled, ``random_state=0``; the first 25,000 examples train and the last 5,000 test. This is
bit-for-bit the authors' data set.
"""

from __future__ import annotations

import numpy as np

__all__ = ["regression", "classification", "PHASES"]

PHASES = -np.pi / 2 + np.arange(10) * np.pi / 9


def _regression_split(rng: np.random.Generator, n: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    mu = np.pi * (rng.random(n) * 2 - 1)
    x = rng.normal(loc=mu[:, None], scale=1.0, size=(n, dim))
    y = np.cos(x.mean(axis=1)[:, None] + PHASES[None, :])
    return x.astype(np.float32), y.astype(np.float32)


def regression(n_train: int = 5000, n_test: int = 1000, dim: int = 256, seed: int = 0):
    """``(x_train, y_train, x_test, y_test)`` of the cosine regression task; targets ``(N, 10)``."""
    rng = np.random.default_rng(seed)
    x_tr, y_tr = _regression_split(rng, n_train, dim)
    x_te, y_te = _regression_split(rng, n_test, dim)
    return x_tr, y_tr, x_te, y_te


def classification(n_train: int = 25000, n_test: int = 5000, dim: int = 256, n_informative: int = 128,
                   n_classes: int = 10, seed: int = 0):
    """``(x_train, y_train, x_test, y_test)`` of the make_classification task; labels int64."""
    from sklearn.datasets import make_classification
    x, y = make_classification(n_samples=n_train + n_test, n_features=dim, n_informative=n_informative,
                               n_redundant=0, n_repeated=0, n_classes=n_classes, n_clusters_per_class=5,
                               scale=np.ones(dim), class_sep=4.5, shuffle=True, random_state=seed)
    x = x.astype(np.float32)
    y = y.astype(np.int64)
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]
