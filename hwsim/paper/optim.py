"""Optimizers with PyTorch's exact update formulas: SGD, SGD with momentum, Nesterov (NAG), Adam.

``nag`` (momentum 0.9, Nesterov) is the paper's default. Buffers start at zero, which gives the
same first step as PyTorch's "buffer = first gradient".
"""

from __future__ import annotations

import numpy as np

from ..formats import ConfigError

__all__ = ["OPTIMIZERS", "Optimizer", "make_optimizer"]

OPTIMIZERS = ("nag", "momentum", "sgd", "adam")


class Optimizer:
    """Updates a list of parameter arrays in place from a list of gradients (None: skip)."""

    def __init__(self, params: list[np.ndarray], kind: str, lr: float, momentum: float = 0.9,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        self.params, self.kind, self.lr = params, kind, lr
        self.momentum, self.betas, self.eps = momentum, betas, eps
        self.state = [None] * len(params)
        self.t = [0] * len(params)

    def step(self, grads: list) -> None:
        for i, (p, g) in enumerate(zip(self.params, grads)):
            if g is None:
                continue
            if self.kind == "sgd":
                p -= self.lr * g
                continue
            if self.kind in ("nag", "momentum"):
                if self.state[i] is None:
                    self.state[i] = np.zeros_like(p)
                buf = self.state[i]
                buf *= self.momentum
                buf += g
                p -= self.lr * (g + self.momentum * buf if self.kind == "nag" else buf)
                continue
            if self.state[i] is None:
                self.state[i] = (np.zeros_like(p), np.zeros_like(p))
            m, v = self.state[i]
            b1, b2 = self.betas
            self.t[i] += 1
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            bc1, bc2 = 1 - b1 ** self.t[i], 1 - b2 ** self.t[i]
            p -= (self.lr / bc1) * m / (np.sqrt(v) / np.sqrt(bc2) + self.eps)


def make_optimizer(params: list[np.ndarray], kind: str, lr: float) -> Optimizer:
    kind = str(kind).lower()
    if kind not in OPTIMIZERS:
        raise ConfigError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {kind!r}")
    if isinstance(lr, bool) or not (isinstance(lr, (int, float)) and 0 < lr <= 1000):
        raise ConfigError(f"learning rate must be a number in (0, 1000], not {lr!r}")
    return Optimizer(params, kind, float(lr))
