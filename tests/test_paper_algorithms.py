"""The six rules against their definitions: BP == finite differences, and the published code's conventions."""

import numpy as np
import pytest

from hwsim.paper import algorithms, losses, nets
from hwsim.paper.topology import parse_topology


def _net(topo, rng, out_act="sigmoid", hidden="tanh", init="default", dropout=0.0, freeze_conv=False):
    net = nets.build_net(parse_topology(topo), rng, hidden, out_act, "tanh", init, dropout, freeze_conv)
    for layer in net.layers:
        layer.W, layer.b = layer.W.astype(np.float64), layer.b.astype(np.float64)
    return net


def _batch(net, rng, n=4):
    x = rng.normal(size=(n,) + net.topology.input_shape)
    t = np.eye(net.n_classes)[rng.integers(0, net.n_classes, n)]
    return x, t


def _grads(net, x, t, alg, loss="bce", scaling="paper", fb=None, seed=0):
    fb = fb or algorithms.make_feedback(net, alg, np.random.default_rng(seed))
    cache = nets.forward(net, x)
    return algorithms.backward(net, fb, cache, t, alg, loss, scaling), cache, fb


@pytest.mark.parametrize("topo, loss, out_act, hidden", [
    ("12-7-5-3", "bce", "sigmoid", "tanh"),
    ("12-7-5-3", "mse", "none", "relu"),
    ("12-7-5-3", "ce", "none", "sigmoid"),
    ("12-7-3", "ce", "sigmoid", "tanh"),
    ("6x6x2-3c3-2p-4c3-7-3", "bce", "sigmoid", "tanh"),
    ("7x7-3c3-2p-7-3", "mse", "tanh", "tanh"),
])
def test_bp_matches_finite_differences(topo, loss, out_act, hidden):
    rng = np.random.default_rng(1)
    net = _net(topo, rng, out_act, hidden)
    x, t = _batch(net, rng)

    def mean_loss():
        y = nets.forward(net, x).output
        return losses.loss_sum(loss, y, t) / losses.divisor(loss, len(y), y.shape[1])

    res, _, _ = _grads(net, x, t, "bp", loss)
    for k, layer in enumerate(net.layers):
        for arr, g in ((layer.W, res.grads[k][0]), (layer.b, res.grads[k][1])):
            for _ in range(4):
                i = tuple(rng.integers(0, s) for s in arr.shape)
                old = arr[i]
                arr[i] = old + 1e-6
                lp = mean_loss()
                arr[i] = old - 1e-6
                lm = mean_loss()
                arr[i] = old
                assert g[i] == pytest.approx((lp - lm) / 2e-6, rel=1e-5, abs=1e-9)


def test_feedback_shapes_and_bounds():
    rng = np.random.default_rng(0)
    net = _net("20-8-6-4", rng)
    fb = algorithms.make_feedback(net, "drtp", rng)
    assert fb.direct[0].shape == (4, 8) and fb.direct[1].shape == (4, 6) and fb.direct[2] is None
    assert np.abs(fb.direct[0]).max() <= np.sqrt(6 / 8)
    assert np.abs(fb.direct[1]).max() <= np.sqrt(6 / 6)
    fa = algorithms.make_feedback(net, "fa", rng).fa
    assert [b.shape for b in fa] == [layer.W.shape for layer in net.layers]
    assert np.abs(fa[1]).max() <= np.sqrt(6 / 8)
    conv = nets.build_net(parse_topology("8x8-3c3-2p-5-4"), rng)
    b = algorithms.make_feedback(conv, "dfa", rng).direct[0]
    assert b.shape == (4, 3 * 8 * 8)  # injected at the activation map, before pooling
    assert np.abs(b).max() <= np.sqrt(6 / (3 * 8 * 8))


def test_forward_init_follows_pytorch_defaults():
    rng = np.random.default_rng(0)
    net = nets.build_net(parse_topology("400-100-10"), rng)
    assert np.abs(net.layers[0].W).max() <= 1 / 20 and np.abs(net.layers[0].W).max() > 0.9 / 20
    assert np.abs(net.layers[0].b).max() <= 1 / 20
    he = nets.build_net(parse_topology("400-100-10"), rng, init="he")
    assert np.abs(he.layers[0].W).max() > 0.9 * np.sqrt(6 / 400)
    zero = nets.build_net(parse_topology("400-100-10"), rng, init="zero")
    assert not zero.layers[0].W.any() and not zero.layers[1].W.any()
    assert zero.layers[0].b.any()  # the published --fc-zero-init zeroes weights only


@pytest.mark.parametrize("alg", ["drtp", "dfa", "sdfa"])
def test_direct_signals(alg):
    rng = np.random.default_rng(2)
    net = _net("10-6-5-3", rng)
    x, t = _batch(net, rng, 5)
    res, cache, fb = _grads(net, x, t, alg)
    y = cache.output
    e = {"drtp": t, "dfa": y - t, "sdfa": np.sign(y - t)}[alg]
    for k in (0, 1):
        a = cache.a[k]
        expect = (e @ fb.direct[k]) * (1 - a * a)
        np.testing.assert_allclose(res.deltas[k], expect, rtol=1e-12)
        np.testing.assert_allclose(res.grads[k][0], expect.T @ cache.inputs[k], rtol=1e-12)
    if alg == "drtp":  # the row of B selected by the label
        label = t[0].argmax()
        np.testing.assert_allclose(res.deltas[0][0], fb.direct[0][label] * (1 - cache.a[0][0] ** 2))


def test_dfa_uses_softmax_of_raw_outputs_under_ce():
    rng = np.random.default_rng(3)
    net = _net("10-6-3", rng, out_act="none")
    x, t = _batch(net, rng)
    res, cache, fb = _grads(net, x, t, "dfa", loss="ce")
    z = cache.output
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(res.deltas[0], ((p - t) @ fb.direct[0]) * (1 - cache.a[0] ** 2), rtol=1e-10)


def test_output_layer_is_the_same_for_every_rule():
    rng = np.random.default_rng(4)
    net = _net("10-6-5-3", rng)
    x, t = _batch(net, rng)
    ref, _, _ = _grads(net, x, t, "bp")
    for alg in ("dfa", "sdfa", "drtp", "shallow"):
        res, _, _ = _grads(net, x, t, alg)
        np.testing.assert_allclose(res.grads[-1][0], ref.grads[-1][0])
        np.testing.assert_allclose(res.deltas[-1], (nets.forward(net, x).output - t) / (4 * 3))


def test_fa_with_feedback_equal_to_weights_is_bp():
    rng = np.random.default_rng(5)
    net = _net("6x6-2c3-2p-5-4-3", rng)
    x, t = _batch(net, rng)
    ref, _, _ = _grads(net, x, t, "bp")
    fb = algorithms.Feedback([layer.W.copy() for layer in net.layers], [None] * 4)
    res, _, _ = _grads(net, x, t, "fa", fb=fb)
    for g, r in zip(res.grads, ref.grads):
        np.testing.assert_allclose(g[0], r[0], rtol=1e-12)


def test_fa_uses_its_own_matrices():
    rng = np.random.default_rng(6)
    net = _net("10-6-3", rng)
    x, t = _batch(net, rng)
    res, cache, fb = _grads(net, x, t, "fa")
    expect = (res.deltas[1] @ fb.fa[1]) * (1 - cache.a[0] ** 2)
    np.testing.assert_allclose(res.deltas[0], expect, rtol=1e-12)


def test_shallow_trains_only_the_output_layer():
    rng = np.random.default_rng(7)
    net = _net("10-6-5-3", rng)
    x, t = _batch(net, rng)
    res, _, _ = _grads(net, x, t, "shallow")
    assert res.grads[0] is None and res.grads[1] is None and res.grads[2] is not None


def test_frozen_conv_gets_no_gradient():
    rng = np.random.default_rng(8)
    net = _net("6x6-2c3-2p-5-3", rng, freeze_conv=True)
    x, t = _batch(net, rng)
    for alg in ("bp", "drtp"):
        res, _, _ = _grads(net, x, t, alg)
        assert res.grads[0] is None and res.grads[1] is not None


@pytest.mark.parametrize("loss, out_act, div", [("bce", "sigmoid", 5 * 3), ("mse", "none", 5 * 3), ("ce", "none", 5)])
def test_consistent_scaling_divides_hidden_signal_like_the_loss(loss, out_act, div):
    rng = np.random.default_rng(9)
    net = _net("10-6-3", rng, out_act=out_act)
    x, t = _batch(net, rng, 5)
    paper, _, _ = _grads(net, x, t, "drtp", loss)
    cons, _, _ = _grads(net, x, t, "drtp", loss, scaling="consistent")
    np.testing.assert_allclose(cons.deltas[0] * div, paper.deltas[0], rtol=1e-12)
    np.testing.assert_allclose(cons.deltas[1], paper.deltas[1])


def test_dropout_mask_is_applied_in_backprop():
    rng = np.random.default_rng(10)
    net = _net("10-6-3", rng, dropout=0.5)
    x, t = _batch(net, rng)
    cache = nets.forward(net, x, rng=np.random.default_rng(0))
    assert set(np.unique(cache.masks[1])) <= {0.0, 2.0}
    res = algorithms.backward(net, algorithms.make_feedback(net, "bp", rng), cache, t, "bp", "bce")
    g_in = (res.deltas[1] @ net.layers[1].W) * cache.masks[1]
    np.testing.assert_allclose(res.deltas[0], g_in * (1 - cache.a[0] ** 2), rtol=1e-12)


def test_cifar_net_trains_its_conv_layers():
    rng = np.random.default_rng(11)
    net = nets.build_net(parse_topology("32x32x3-64c3-2p-256c3-2p-1000-1000-10"), rng)
    assert [layer.out_shape for layer in net.layers] == [(64, 16, 16), (256, 8, 8), (1000,), (1000,), (10,)]
    x = rng.normal(size=(2, 3, 32, 32)).astype(np.float32)
    t = np.eye(10, dtype=np.float32)[[3, 7]]
    cache = nets.forward(net, x)
    for alg in ("bp", "fa", "drtp"):
        res = algorithms.backward(net, algorithms.make_feedback(net, alg, rng), cache, t, alg, "bce")
        assert [g[0].shape for g in res.grads] == [layer.W.shape for layer in net.layers]
        assert all(np.isfinite(g[0]).all() and g[0].any() for g in res.grads)
