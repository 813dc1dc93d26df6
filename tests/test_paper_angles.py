"""Alignment angles: geometry, BP against itself, and the published DRTP behaviour on a tiny task."""

import numpy as np
import pytest

from hwsim.paper import algorithms, nets
from hwsim.paper.angles import batch_angles, matrix_angle, row_angles
from hwsim.paper.topology import parse_topology


def test_row_angles():
    a = np.array([[1.0, 0], [1, 1], [0, 0], [1, 0]])
    b = np.array([[0.0, 2], [2, 2], [1, 0], [-3, 0]])
    np.testing.assert_allclose(row_angles(a, b)[[0, 1, 3]], [90, 0, 180], atol=1e-4)
    assert np.isnan(row_angles(a, b)[2])
    assert matrix_angle(np.eye(2), np.eye(2)) == pytest.approx(0, abs=1e-3)
    assert np.isnan(matrix_angle(np.zeros(3), np.ones(3)))


def test_fa_with_weights_as_feedback_has_zero_angle():
    rng = np.random.default_rng(0)
    net = nets.build_net(parse_topology("10-8-6-3"), rng)
    x, t = rng.normal(size=(6, 10)).astype(np.float32), np.eye(3, dtype=np.float32)[rng.integers(0, 3, 6)]
    cache = nets.forward(net, x)
    fb = algorithms.Feedback([layer.W.copy() for layer in net.layers], [None] * 3)
    res = algorithms.backward(net, fb, cache, t, "fa", "bce", reference=True)
    for k, (s, u) in batch_angles(net, cache, res).items():
        assert s == pytest.approx(0, abs=0.1) and u == pytest.approx(0, abs=0.1)


def test_shallow_angles_are_undefined():
    rng = np.random.default_rng(1)
    net = nets.build_net(parse_topology("10-8-3"), rng)
    x, t = rng.normal(size=(4, 10)).astype(np.float32), np.eye(3, dtype=np.float32)[[0, 1, 2, 0]]
    cache = nets.forward(net, x)
    res = algorithms.backward(net, algorithms.make_feedback(net, "shallow", rng), cache, t, "shallow", "bce",
                              reference=True)
    s, u = batch_angles(net, cache, res)[0]
    assert np.isnan(s) and np.isnan(u)
