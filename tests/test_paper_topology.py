"""Topology strings of hwsim.paper: shapes, and one-sentence errors naming the bad token."""

import pytest

from hwsim.formats import ConfigError
from hwsim.paper.topology import ConvSpec, DenseSpec, parse_topology


@pytest.mark.parametrize("text, shape, layers", [
    ("784-500-10", (784,), (DenseSpec(500), DenseSpec(10))),
    ("784-500-500-10", (784,), (DenseSpec(500), DenseSpec(500), DenseSpec(10))),
    ("28x28-32c5-2p-1000-10", (1, 28, 28), (ConvSpec(32, 5, True), DenseSpec(1000), DenseSpec(10))),
    ("32x32x3-64c3-2p-256c3-2p-1000-1000-10", (3, 32, 32),
     (ConvSpec(64, 3, True), ConvSpec(256, 3, True), DenseSpec(1000), DenseSpec(1000), DenseSpec(10))),
    ("8x8-4c3-10", (1, 8, 8), (ConvSpec(4, 3, False), DenseSpec(10))),
])
def test_parse(text, shape, layers):
    topo = parse_topology(text)
    assert topo.input_shape == shape
    assert topo.layers == layers
    assert topo.n_outputs == 10


def test_conv_padding_is_same():
    assert ConvSpec(32, 5).pad == 2
    assert ConvSpec(64, 3).pad == 1


@pytest.mark.parametrize("text, words", [
    ("784", "needs an input and at least an output layer"),
    ("abc-10", "starts with 'abc'"),
    ("784-32c5-10", "is not an image"),
    ("28x28-100-32c5-10", "after a fully connected layer"),
    ("28x28-2p-10", "pooling '2p' that does not follow a convolution"),
    ("28x28-8c4-10", "kernels must be odd"),
    ("784-500-x-10", "token 'x'"),
    ("28x28-8c3-2p", "must end in a fully connected output layer"),
    ("784-500-1", "at least 2 outputs"),
    ("784-0-10", "0 units"),
])
def test_errors(text, words):
    with pytest.raises(ConfigError) as err:
        parse_topology(text)
    msg = str(err.value)
    assert words in msg
    assert msg.startswith(f"topology {text!r}")
    assert "\n" not in msg
