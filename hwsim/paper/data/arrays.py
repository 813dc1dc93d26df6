"""One loader for every task of the paper: float inputs, float targets, and what the task is.

Image sets come from :func:`hwsim.datasets.load_dataset` as uint8 pixels and are scaled to
``x / 255`` only (as the authors' MNIST loader: ``ToTensor`` then ``Normalize((0,), (1,))``);
CIFAR-10 is then normalised per channel with the authors' means and standard deviations.
Synthetic tasks are generated on first use and cached per process.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ...formats import ConfigError
from . import synthetic

__all__ = ["TaskData", "load_task", "TASKS", "SYNTHETIC"]

SYNTHETIC = ("regression", "classification")
TASKS = SYNTHETIC + ("mnist5k", "digits8x8", "mnist", "fashion-mnist", "cifar10")
_CIFAR_MEAN = np.array([125.3, 123.0, 113.9], dtype=np.float32) / 255
_CIFAR_STD = np.array([63.0, 62.1, 66.7], dtype=np.float32) / 255


@dataclass(frozen=True, eq=False)
class TaskData:
    """Inputs ``(N, *input_shape)`` float32; targets: class labels (int64) or regression values (float32).

    ``input_shape`` is ``(D,)`` for flat data and ``(C, H, W)`` for images.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    input_shape: tuple[int, ...]
    n_outputs: int
    regression: bool = False

    def targets(self, y: np.ndarray) -> np.ndarray:
        """Float targets: the one-hot rows for labels, the values themselves for regression."""
        if self.regression:
            return y.astype(np.float32, copy=False)
        t = np.zeros((len(y), self.n_outputs), dtype=np.float32)
        t[np.arange(len(y)), y] = 1.0
        return t

    def shaped(self, x: np.ndarray, conv: bool) -> np.ndarray:
        """Flat rows for fully connected nets, ``(N, C, H, W)`` for convolutional ones."""
        return x.reshape((len(x),) + self.input_shape) if conv else x.reshape(len(x), -1)


@functools.lru_cache(maxsize=4)
def _synthetic(name: str, seed: int) -> TaskData:
    if name == "regression":
        x_tr, y_tr, x_te, y_te = synthetic.regression(seed=seed)
        return TaskData(name, x_tr, y_tr, x_te, y_te, (x_tr.shape[1],), y_tr.shape[1], regression=True)
    x_tr, y_tr, x_te, y_te = synthetic.classification(seed=seed)
    return TaskData(name, x_tr, y_tr, x_te, y_te, (x_tr.shape[1],), 10)


def load_task(name: str, data_dir: str | None = None, seed: int = 0) -> TaskData:
    """Load task ``name`` (one of :data:`TASKS`) as float arrays; errors are one sentence."""
    if name in SYNTHETIC:
        return _synthetic(name, seed)
    if name not in TASKS:
        raise ConfigError(f"data set must be one of {', '.join(TASKS)}, not {name!r}")
    from ...datasets import load_dataset
    ds = load_dataset(name, data_dir)
    shape = tuple(ds.image_shape)
    shape = (1,) + shape if len(shape) == 2 else shape
    x_tr = ds.x_train.astype(np.float32) / 255
    x_te = ds.x_test.astype(np.float32) / 255
    if name == "cifar10":
        c = shape[0]
        x_tr = ((x_tr.reshape(len(x_tr), c, -1) - _CIFAR_MEAN[:, None]) / _CIFAR_STD[:, None]).reshape(len(x_tr), -1)
        x_te = ((x_te.reshape(len(x_te), c, -1) - _CIFAR_MEAN[:, None]) / _CIFAR_STD[:, None]).reshape(len(x_te), -1)
    return TaskData(name, x_tr, np.asarray(ds.y_train, np.int64), x_te, np.asarray(ds.y_test, np.int64),
                    shape, int(ds.n_classes))
