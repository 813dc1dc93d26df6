"""Float networks of the paper: layers, activations, initialisation and the forward pass.

Layout follows PyTorch so the authors' conventions carry over one to one: dense weights are
``(n_out, n_in)``, kernels ``(F, C, K, K)``, feature maps NCHW. Initialisation ``default`` is
PyTorch's ``nn.Linear``/``nn.Conv2d`` default, U(+-1/sqrt(fan_in)) for weights and biases, which
the published DRTP code uses although its help text says "He"; ``he`` is true He-uniform
U(+-sqrt(6/fan_in)); ``zero`` zeroes the weights and keeps the default biases (the code's
``--fc-zero-init``, which applies to fully connected layers only).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..formats import ConfigError
from . import conv
from .topology import ConvSpec, DenseSpec, Topology

__all__ = ["ACTIVATIONS", "INITS", "activate", "activation_grad", "Dense", "Conv", "Net", "Cache",
           "build_net", "forward", "predict"]

ACTIVATIONS = ("tanh", "sigmoid", "relu", "none")
INITS = ("default", "he", "zero")
DTYPE = np.float32


def activate(kind: str, z: np.ndarray) -> np.ndarray:
    if kind == "tanh":
        return np.tanh(z)
    if kind == "sigmoid":
        # 1 / (1 + exp(-z)) without overflow warnings for large |z|
        return (0.5 * (1.0 + np.tanh(0.5 * z))).astype(z.dtype, copy=False)
    if kind == "relu":
        return np.maximum(z, 0)
    return z


def activation_grad(kind: str, z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """f'(z), computed from the activation output where that is cheaper."""
    if kind == "tanh":
        return 1 - a * a
    if kind == "sigmoid":
        return a * (1 - a)
    if kind == "relu":
        return (z > 0).astype(z.dtype)
    return np.ones_like(z)


@dataclass
class Dense:
    """A fully connected layer; ``W`` is ``(n_out, n_in)``."""

    W: np.ndarray
    b: np.ndarray
    act: str
    trainable: bool = True

    @property
    def out_shape(self) -> tuple[int, ...]:
        return (self.W.shape[0],)


@dataclass
class Conv:
    """A stride-1 'same' convolution, its activation, then an optional 2x2 max-pool."""

    W: np.ndarray
    b: np.ndarray
    act: str
    pool: bool
    in_shape: tuple[int, int, int]
    trainable: bool = True

    @property
    def pad(self) -> int:
        return self.W.shape[2] // 2

    @property
    def act_shape(self) -> tuple[int, int, int]:
        """Shape of the activation map (where the DRTP/DFA signal is injected), before pooling."""
        c, h, w = self.in_shape
        k = self.W.shape[2]
        return (self.W.shape[0], conv.conv_out_size(h, k, self.pad), conv.conv_out_size(w, k, self.pad))

    @property
    def out_shape(self) -> tuple[int, int, int]:
        f, h, w = self.act_shape
        return (f, h // 2, w // 2) if self.pool else (f, h, w)


@dataclass
class Net:
    """Layers in order; the last is the output layer. ``dropout`` applies to every dense layer's input."""

    topology: Topology
    layers: list
    dropout: float = 0.0

    @property
    def n_classes(self) -> int:
        return self.layers[-1].W.shape[0]

    def params(self) -> list[np.ndarray]:
        out = []
        for layer in self.layers:
            out += [layer.W, layer.b]
        return out

    def hidden(self) -> range:
        return range(len(self.layers) - 1)


def _uniform(rng, bound: float, shape) -> np.ndarray:
    return rng.uniform(-bound, bound, size=shape).astype(DTYPE)


def build_net(topology: Topology, rng: np.random.Generator, hidden_act: str = "tanh",
              output_act: str = "sigmoid", conv_act: str = "tanh", init: str = "default",
              dropout: float = 0.0, freeze_conv: bool = False) -> Net:
    """Make a network with fresh weights drawn from ``rng`` (layers in order, weight then bias)."""
    for name, value, allowed in (("hidden activation", hidden_act, ACTIVATIONS[:3]),
                                 ("output activation", output_act, ("sigmoid", "tanh", "none")),
                                 ("conv activation", conv_act, ACTIVATIONS[:3]), ("init", init, INITS)):
        if value not in allowed:
            raise ConfigError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"dropout must be a probability in [0, 1), not {dropout!r}")
    layers: list = []
    shape = topology.input_shape
    last = len(topology.layers) - 1
    for i, spec in enumerate(topology.layers):
        if isinstance(spec, ConvSpec):
            fan_in = shape[0] * spec.kernel ** 2
            bound = 1 / np.sqrt(fan_in) if init != "he" else np.sqrt(6 / fan_in)
            W = _uniform(rng, bound, (spec.channels, shape[0], spec.kernel, spec.kernel))
            b = _uniform(rng, 1 / np.sqrt(fan_in), (spec.channels,))
            layer = Conv(W, b, conv_act, spec.pool, shape, trainable=not freeze_conv)
            if min(layer.out_shape[1:]) < 1:
                raise ConfigError(f"topology {topology.text!r} pools a feature map down to nothing")
        else:
            assert isinstance(spec, DenseSpec)
            fan_in = int(np.prod(shape))
            bound = 1 / np.sqrt(fan_in) if init != "he" else np.sqrt(6 / fan_in)
            W = _uniform(rng, bound, (spec.units, fan_in))
            b = _uniform(rng, 1 / np.sqrt(fan_in), (spec.units,))
            if init == "zero":
                W[...] = 0
            layer = Dense(W, b, output_act if i == last else hidden_act)
        layers.append(layer)
        shape = layer.out_shape
    return Net(topology, layers, dropout)


@dataclass
class Cache:
    """What the backward pass needs from the forward pass, one entry per layer."""

    inputs: list = field(default_factory=list)  # what layer k multiplied (dense: after flatten+dropout)
    masks: list = field(default_factory=list)   # dropout keep-masks scaled by 1/(1-p), or None
    cols: list = field(default_factory=list)    # im2col matrices of conv layers
    z: list = field(default_factory=list)
    a: list = field(default_factory=list)       # activation outputs (before pooling)
    pool_idx: list = field(default_factory=list)

    @property
    def output(self) -> np.ndarray:
        return self.a[-1]


def forward(net: Net, x: np.ndarray, rng: np.random.Generator | None = None, keep: bool = True) -> Cache:
    """Run ``x`` through the net. Dropout is active only when an ``rng`` is given (training)."""
    cache = Cache()
    h = x
    for layer in net.layers:
        mask = cols = idx = None
        if isinstance(layer, Conv):
            z, cols = conv.conv2d(h, layer.W, layer.b, layer.pad)
            a = activate(layer.act, z)
            out = a
            if layer.pool:
                out, idx = conv.maxpool2(a)
            inp = h
        else:
            inp = h.reshape(h.shape[0], -1)
            if net.dropout and rng is not None:
                mask = (rng.random(inp.shape, dtype=DTYPE) >= net.dropout).astype(DTYPE) / DTYPE(1 - net.dropout)
                inp = inp * mask
            z = inp @ layer.W.T
            z += layer.b
            a = out = activate(layer.act, z)
        if keep:
            cache.inputs.append(inp)
            cache.masks.append(mask)
            cache.cols.append(cols)
            cache.z.append(z)
            cache.a.append(a)
            cache.pool_idx.append(idx)
        else:
            cache.a[:] = [a]
        h = out
    return cache


def predict(net: Net, x: np.ndarray, batch: int = 1000) -> np.ndarray:
    """Network outputs (after the output activation) for all of ``x``, in chunks, no dropout."""
    outs = [forward(net, x[i:i + batch], keep=False).output for i in range(0, len(x), batch)]
    return np.concatenate(outs) if outs else np.zeros((0, net.n_classes), DTYPE)
