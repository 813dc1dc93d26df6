"""Topology strings of the paper's networks: ``784-500-10`` and ``28x28-32c5-2p-1000-10``.

Grammar (tokens joined by ``-``): the first token is the input, either a size (``784``) or an
image ``HxW`` / ``HxWxC``; then ``<F>c<K>`` is a stride-1 convolution with F kernels of KxK and
"same" zero padding (K // 2, as the paper's 32c5 with padding 2), optionally followed by ``2p``,
a 2x2 max-pool; a plain integer is a fully connected layer. The last token is the output layer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..formats import ConfigError

__all__ = ["ConvSpec", "DenseSpec", "Topology", "parse_topology"]

_EXAMPLES = "like '784-500-10' or '28x28-32c5-2p-1000-10'"


@dataclass(frozen=True)
class ConvSpec:
    """A convolution block: ``channels`` kernels of ``kernel`` x ``kernel``, padding, then optional pooling."""

    channels: int
    kernel: int
    pool: bool = False

    @property
    def pad(self) -> int:
        return self.kernel // 2


@dataclass(frozen=True)
class DenseSpec:
    """A fully connected layer of ``units`` outputs."""

    units: int


@dataclass(frozen=True)
class Topology:
    """Input shape (``(D,)`` or ``(C, H, W)``) and the layers in order; the last one is the output."""

    text: str
    input_shape: tuple[int, ...]
    layers: tuple

    @property
    def n_outputs(self) -> int:
        return self.layers[-1].units

    @property
    def n_inputs(self) -> int:
        n = 1
        for d in self.input_shape:
            n *= d
        return n

    @property
    def is_conv(self) -> bool:
        return any(isinstance(l, ConvSpec) for l in self.layers)

    def __str__(self) -> str:
        return self.text


def _bad(text: str, why: str) -> ConfigError:
    return ConfigError(f"topology {text!r} {why}; write it {_EXAMPLES}")


def parse_topology(text: str) -> Topology:
    """Parse and check a topology string; errors are one sentence naming the bad token."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"topology must be a string {_EXAMPLES}, not {text!r}")
    tokens = text.strip().lower().split("-")
    if len(tokens) < 2:
        raise _bad(text, "needs an input and at least an output layer")
    head = tokens[0]
    if re.fullmatch(r"\d+", head):
        shape: tuple[int, ...] = (int(head),)
    elif re.fullmatch(r"\d+x\d+(x\d+)?", head):
        dims = [int(v) for v in head.split("x")]
        shape = (dims[2] if len(dims) == 3 else 1, dims[0], dims[1])
    else:
        raise _bad(text, f"starts with {head!r}, which is not an input size (784) or image (28x28, 32x32x3)")
    if any(d < 1 for d in shape):
        raise _bad(text, "has an input dimension of 0")
    layers: list = []
    for tok in tokens[1:]:
        m = re.fullmatch(r"(\d+)c(\d+)", tok)
        if m:
            if len(shape) != 3:
                raise _bad(text, f"has a convolution {tok!r} but its input {head!r} is not an image")
            if layers and isinstance(layers[-1], DenseSpec):
                raise _bad(text, f"has a convolution {tok!r} after a fully connected layer")
            ch, k = int(m.group(1)), int(m.group(2))
            if ch < 1 or k < 1 or k % 2 == 0:
                raise _bad(text, f"has a convolution {tok!r}; kernels must be odd (same padding) and channels >= 1")
            layers.append(ConvSpec(ch, k))
        elif tok == "2p":
            if not layers or not isinstance(layers[-1], ConvSpec) or layers[-1].pool:
                raise _bad(text, "has a pooling '2p' that does not follow a convolution")
            layers[-1] = ConvSpec(layers[-1].channels, layers[-1].kernel, True)
        elif re.fullmatch(r"\d+", tok):
            if int(tok) < 1:
                raise _bad(text, "has a layer of 0 units")
            layers.append(DenseSpec(int(tok)))
        else:
            raise _bad(text, f"has a token {tok!r} that is neither a layer size, '<F>c<K>' nor '2p'")
    if not isinstance(layers[-1], DenseSpec):
        raise _bad(text, "must end in a fully connected output layer")
    if layers[-1].units < 2:
        raise _bad(text, "must end in at least 2 outputs")
    return Topology(text.strip(), shape, tuple(layers))
