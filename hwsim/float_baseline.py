"""The engine's float twin: the same topology, activations and DRTP rules with no quantization.

It answers "what does quantization cost?": the fixed-point engine's accuracy next to the same
algorithm in float64. Learning rates are the config's shifts (eta = 2**-shift) for both update
rules (a sign update has no float meaning, so the float twin uses the shifted rule's eta).
Inputs are the u0.8 values pixel/256 the engine sees; initial weights are the engine's uniform
draws before quantization (same seed, same order).
"""

from __future__ import annotations

import numba
import numpy as np
from numba.typed import List

from .config import Activation, EngineConfig, InitKind
from .params import random_vectors

__all__ = ["FloatEngine"]

_ACT_CODE = {Activation.CLIPPED_RELU: 0, Activation.HARD_TANH: 1, Activation.HARD_SIGMOID: 2}


@numba.njit(cache=True)
def _activate(z, code, y, d):
    for j in range(z.shape[0]):
        v = z[j]
        if code == 0:
            lo, hi = 0.0, 1.0
        elif code == 1:
            lo, hi = -1.0, 1.0
        else:
            v = v + 0.5
            lo, hi = 0.0, 1.0
        y[j] = min(max(v, lo), hi)
        d[j] = 1.0 if lo < v < hi else 0.0


@numba.njit(cache=True)
def _run(weights, etas, codes, bvecs, error_sign, bias, x, labels, order, train, preds):
    n_layers = len(weights)
    for s in range(order.shape[0]):
        n = order[s]
        a = x[n]
        label = labels[n]
        for k in range(n_layers):
            W = weights[k]
            n_out, n_cols = W.shape
            a_ext = np.empty(n_cols)
            a_ext[: a.shape[0]] = a
            if bias:
                a_ext[n_cols - 1] = 1.0
            z = W @ a_ext
            y = np.empty(n_out)
            d = np.empty(n_out)
            _activate(z, codes[k], y, d)
            if k == n_layers - 1:
                best = 0
                for j in range(n_out):
                    if z[j] > z[best]:
                        best = j
                preds[s] = best
            if train:
                eta = etas[k]
                for j in range(n_out):
                    if k < n_layers - 1:
                        dj = bvecs[k][label, j] * d[j]
                    else:
                        dj = y[j] - (1.0 if j == label else 0.0)
                        if error_sign:
                            dj = np.sign(dj)
                    if dj == 0.0:
                        continue
                    step = eta * dj
                    for i in range(n_cols):
                        if a_ext[i] != 0.0:
                            W[j, i] -= step * a_ext[i]
            a = y


class FloatEngine:
    """Float64 DRTP with the engine's structure; ``train``/``infer`` mirror :class:`hwsim.fast.Engine`."""

    def __init__(self, cfg: EngineConfig, seed: int):
        self.cfg = cfg
        rng = np.random.default_rng(seed)
        self.weights = List()
        for k, layer in enumerate(cfg.layers):
            shape = (layer.n_out, cfg.n_cols(k))
            if cfg.init is InitKind.ZERO:
                self.weights.append(np.zeros(shape))
            else:
                limit = cfg.init_scale / np.sqrt(layer.n_in)
                self.weights.append(rng.uniform(-limit, limit, shape))
        self.etas = np.array([2.0 ** -layer.update_shift for layer in cfg.layers])
        self.codes = np.array([_ACT_CODE[layer.activation] for layer in cfg.layers], dtype=np.int64)
        self.bvecs = List()
        for k in cfg.hidden_layers:
            self.bvecs.append(random_vectors(cfg, k).astype(np.float64))
        if not len(self.bvecs):  # numba needs a typed (if empty) list
            self.bvecs.append(np.zeros((1, 1)))
        self.error_sign = not cfg.layers[-1].sends_error

    @staticmethod
    def inputs(pixels: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(pixels, dtype=np.float64) / 256.0

    def train(self, pixels: np.ndarray, labels: np.ndarray, order: np.ndarray | None = None) -> np.ndarray:
        x = self.inputs(pixels)
        order = np.arange(len(x)) if order is None else np.asarray(order, dtype=np.int64)
        preds = np.empty(len(order), dtype=np.int64)
        _run(self.weights, self.etas, self.codes, self.bvecs, self.error_sign, self.cfg.bias, x,
             np.asarray(labels, dtype=np.int64), order, True, preds)
        return preds

    def infer(self, pixels: np.ndarray) -> np.ndarray:
        x = self.inputs(pixels)
        order = np.arange(len(x), dtype=np.int64)
        preds = np.empty(len(x), dtype=np.int64)
        _run(self.weights, self.etas, self.codes, self.bvecs, self.error_sign, self.cfg.bias, x,
             np.zeros(len(x), dtype=np.int64), order, False, preds)
        return preds
