"""The six learning rules of the paper: BP, FA, DFA, sDFA, DRTP and shallow learning.

All rules share the forward pass and the output layer, which always learns from its own loss
gradient. They differ in the signal each hidden layer k receives at its *output* (after the
activation, before pooling), which is then multiplied by f'(z_k) -- the convention of the
authors' code (a hook after the activation whose backward replaces the incoming gradient):

=========  ===========================================================================
bp         the true gradient, backpropagated through the forward weights
fa         backpropagated layer by layer through fixed random matrices (same shape as W)
dfa        ``e @ B_k`` with e = output - target (softmax of raw outputs under CE)
sdfa       ``sign(e) @ B_k``
drtp       ``y* @ B_k``: the row of B_k that the one-hot target selects (the target itself
           for regression)
shallow    nothing: hidden layers stay at their initial weights
=========  ===========================================================================

Scaling. ``paper`` reproduces the published code: the output gradient is the mean-reduced
loss's (divided by batch x classes for BCE/MSE, by batch for CE) while the DFA/sDFA/DRTP hidden
signals are summed over the batch, so hidden layers learn about batch x classes faster than
the output layer. ``consistent`` divides those hidden signals by the same count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..formats import ConfigError
from . import conv
from .losses import dfa_output, divisor, output_delta
from .nets import DTYPE, Cache, Conv, Net, activation_grad

__all__ = ["ALGORITHMS", "DIRECT", "SCALINGS", "Feedback", "make_feedback", "Backward", "backward",
           "check_algorithm"]

ALGORITHMS = ("bp", "fa", "dfa", "sdfa", "drtp", "shallow")
DIRECT = ("dfa", "sdfa", "drtp")
SCALINGS = ("paper", "consistent")


def check_algorithm(name: str) -> str:
    name = str(name).lower()
    if name not in ALGORITHMS:
        raise ConfigError(f"algorithm must be one of {', '.join(ALGORITHMS)}, not {name!r}")
    return name


@dataclass
class Feedback:
    """Fixed random feedback: ``fa[k]`` (shape of W_k) for FA, ``direct[k]`` ``(classes, n_k)`` for DFA/DRTP."""

    fa: list
    direct: list


def _kaiming_uniform(rng, shape) -> np.ndarray:
    """PyTorch's ``kaiming_uniform_`` with a=0: U(+-sqrt(6/fan_in)), fan_in = prod(shape[1:])."""
    fan_in = int(np.prod(shape[1:]))
    bound = np.sqrt(6.0 / fan_in)
    return rng.uniform(-bound, bound, size=shape).astype(DTYPE)


def make_feedback(net: Net, algorithm: str, rng: np.random.Generator) -> Feedback:
    """Draw the fixed feedback weights the algorithm needs (none for BP and shallow)."""
    n = len(net.layers)
    fa, direct = [None] * n, [None] * n
    if algorithm == "fa":
        fa = [_kaiming_uniform(rng, layer.W.shape) for layer in net.layers]
    elif algorithm in DIRECT:
        for k in net.hidden():
            layer = net.layers[k]
            shape = layer.act_shape if isinstance(layer, Conv) else layer.out_shape
            direct[k] = _kaiming_uniform(rng, (net.n_classes,) + tuple(shape)).reshape(net.n_classes, -1)
    return Feedback(fa, direct)


@dataclass
class Backward:
    """Parameter gradients ``grads[k] = (dW, db)`` (None: not trained) and ``deltas[k]`` = signal x f'(z)."""

    grads: list
    deltas: list
    reference: list | None = None  # BP's deltas on the same batch, when asked for (alignment angles)


def _lowest_trained(net: Net, algorithm: str) -> int:
    if algorithm == "shallow":
        return len(net.layers) - 1
    for k, layer in enumerate(net.layers):
        if layer.trainable:
            return k
    return len(net.layers) - 1


def _chain(net: Net, cache: Cache, d_out: np.ndarray, mats: list, stop: int) -> list:
    """Backpropagate ``d_out`` down to layer ``stop`` through ``mats`` (W for BP, fixed B for FA)."""
    n_layers = len(net.layers)
    deltas = [None] * n_layers
    deltas[-1] = d = d_out
    for k in range(n_layers - 2, stop - 1, -1):
        above = net.layers[k + 1]
        if isinstance(above, Conv):
            g_in = conv.conv2d_input_grad(d, mats[k + 1], cache.inputs[k + 1].shape, above.pad)
        else:
            g_in = d @ mats[k + 1]
            if cache.masks[k + 1] is not None:
                g_in *= cache.masks[k + 1]
        layer, a = net.layers[k], cache.a[k]
        if isinstance(layer, Conv) and layer.pool:
            g_a = conv.maxpool2_backward(g_in.reshape((len(a),) + layer.out_shape), cache.pool_idx[k], a.shape)
        else:
            g_a = g_in.reshape(a.shape)
        deltas[k] = d = g_a * activation_grad(layer.act, cache.z[k], a)
    return deltas


def _param_grads(net: Net, cache: Cache, deltas: list, stop: int) -> list:
    grads = [None] * len(net.layers)
    for k in range(stop, len(net.layers)):
        layer, d = net.layers[k], deltas[k]
        if d is None or not layer.trainable:
            continue
        if isinstance(layer, Conv):
            grads[k] = conv.conv2d_weight_grad(d, cache.cols[k], layer.W.shape)
        else:
            grads[k] = (d.T @ cache.inputs[k], d.sum(axis=0))
    return grads


def backward(net: Net, fb: Feedback, cache: Cache, targets: np.ndarray, algorithm: str, loss: str,
             scaling: str = "paper", reference: bool = False) -> Backward:
    """Gradient estimates of one mini-batch for ``algorithm`` (forward already run into ``cache``)."""
    out = net.layers[-1]
    y, z = cache.a[-1], cache.z[-1]
    t = targets.astype(y.dtype, copy=False)
    d_out = output_delta(loss, out.act, z, y, t)
    stop = _lowest_trained(net, algorithm)
    if algorithm == "bp":
        deltas = _chain(net, cache, d_out, [layer.W for layer in net.layers], stop)
    elif algorithm == "fa":
        deltas = _chain(net, cache, d_out, fb.fa, stop)
    else:
        deltas = [None] * len(net.layers)
        deltas[-1] = d_out
        if algorithm in DIRECT:
            if algorithm == "drtp":
                s = t
            else:
                s = dfa_output(loss, out.act, y) - t
                if algorithm == "sdfa":
                    s = np.sign(s)
            if scaling == "consistent":
                s = s / y.dtype.type(divisor(loss, len(y), y.shape[1]))
            for k in range(stop, len(net.layers) - 1):
                layer, a = net.layers[k], cache.a[k]
                g = (s @ fb.direct[k]).reshape(a.shape)
                deltas[k] = g * activation_grad(layer.act, cache.z[k], a)
    result = Backward(_param_grads(net, cache, deltas, stop), deltas)
    if reference:
        ref_stop = min(stop, len(net.layers) - 1)
        result.reference = (deltas if algorithm == "bp" else
                            _chain(net, cache, d_out, [layer.W for layer in net.layers], ref_stop))
    return result
