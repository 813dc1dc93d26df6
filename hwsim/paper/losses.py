"""Losses of the paper (BCE, CE, MSE) with PyTorch's reductions, and the output error DFA projects.

PyTorch's defaults decide the scale of every output-layer gradient: ``binary_cross_entropy`` and
``mse_loss`` average over batch x classes, ``cross_entropy`` over the batch. ``divisor`` returns
that count; the "consistent" scaling mode divides the hidden-layer DFA/DRTP signals by it too.
"""

from __future__ import annotations

import numpy as np

from ..formats import ConfigError
from .nets import activation_grad

__all__ = ["LOSSES", "check_loss", "divisor", "loss_sum", "output_delta", "dfa_output"]

LOSSES = ("bce", "ce", "mse")


def check_loss(loss: str, output_act: str) -> str:
    loss = str(loss).lower()
    if loss not in LOSSES:
        raise ConfigError(f"loss must be one of {', '.join(LOSSES)}, not {loss!r}")
    if loss == "bce" and output_act != "sigmoid":
        raise ConfigError(f"loss bce needs output activation sigmoid (outputs in (0, 1)), not {output_act!r}")
    return loss


def divisor(loss: str, n: int, classes: int) -> int:
    """How many terms PyTorch's mean reduction divides by for a batch of ``n``."""
    return n if loss == "ce" else n * classes


def _softmax(y: np.ndarray) -> np.ndarray:
    e = np.exp(y - y.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def loss_sum(loss: str, y: np.ndarray, t: np.ndarray) -> float:
    """The loss summed over the batch (PyTorch ``reduction='sum'``); ``y`` after the output activation."""
    y = y.astype(np.float64)
    if loss == "bce":  # PyTorch clamps the logs at -100
        with np.errstate(divide="ignore"):
            return float(-np.sum(t * np.maximum(np.log(y), -100) + (1 - t) * np.maximum(np.log1p(-y), -100)))
    if loss == "ce":
        shifted = y - y.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return float(-np.sum(logp[np.arange(len(y)), t.argmax(axis=1)]))
    return float(np.sum((y - t) ** 2))


def output_delta(loss: str, output_act: str, z: np.ndarray, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """dL/dz of the output layer for the mean-reduced loss (what autograd gives the output layer)."""
    n, c = y.shape
    if loss == "bce":
        # sigmoid + BCE: the 1/(y(1-y)) of the loss cancels the sigmoid's derivative
        return (y - t) / y.dtype.type(n * c)
    if loss == "ce":
        dy = (_softmax(y) - t) / y.dtype.type(n)
    else:
        dy = 2 * (y - t) / y.dtype.type(n * c)
    return dy if output_act == "none" else dy * activation_grad(output_act, z, y)


def dfa_output(loss: str, output_act: str, y: np.ndarray) -> np.ndarray:
    """The output the authors' DFA compares with the target: softmax(y) for CE on raw outputs, else y."""
    return _softmax(y) if (loss == "ce" and output_act == "none") else y
