"""Optimizers step for step against PyTorch's written update rules."""

import numpy as np
import pytest

from hwsim.formats import ConfigError
from hwsim.paper.optim import make_optimizer


def _grads(n=4, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=3) for _ in range(n)]


def test_nag_matches_pytorch_formula():
    p = np.array([1.0, -2.0, 0.5])
    opt = make_optimizer([p], "nag", 0.1)
    ref, buf = p.copy(), None
    for g in _grads():
        opt.step([g])
        buf = g.copy() if buf is None else 0.9 * buf + g   # torch: first buffer = the gradient
        ref -= 0.1 * (g + 0.9 * buf)
        np.testing.assert_allclose(p, ref, rtol=1e-12)


def test_momentum_and_sgd():
    p, q = np.zeros(3), np.zeros(3)
    mom, sgd = make_optimizer([p], "momentum", 0.5), make_optimizer([q], "sgd", 0.5)
    buf, ref_p, ref_q = None, np.zeros(3), np.zeros(3)
    for g in _grads():
        mom.step([g])
        sgd.step([g])
        buf = g.copy() if buf is None else 0.9 * buf + g
        ref_p -= 0.5 * buf
        ref_q -= 0.5 * g
    np.testing.assert_allclose(p, ref_p)
    np.testing.assert_allclose(q, ref_q)


def test_adam_matches_pytorch_formula():
    p = np.array([1.0, -2.0, 0.5])
    opt = make_optimizer([p], "adam", 0.01)
    ref, m, v = p.copy(), np.zeros(3), np.zeros(3)
    for t, g in enumerate(_grads(), start=1):
        opt.step([g])
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        ref -= 0.01 / (1 - 0.9 ** t) * m / (np.sqrt(v) / np.sqrt(1 - 0.999 ** t) + 1e-8)
        np.testing.assert_allclose(p, ref, rtol=1e-12)


def test_none_gradient_leaves_parameter_alone():
    p = np.ones(3)
    make_optimizer([p], "nag", 1.0).step([None])
    assert np.all(p == 1)


@pytest.mark.parametrize("kind, lr, words", [
    ("rmsprop", 0.1, "optimizer must be one of nag, momentum, sgd, adam, not 'rmsprop'"),
    ("nag", 0, "learning rate must be a number in (0, 1000], not 0"),
    ("nag", True, "learning rate must be a number in (0, 1000], not True"),
])
def test_errors(kind, lr, words):
    with pytest.raises(ConfigError, match=None) as err:
        make_optimizer([np.zeros(1)], kind, lr)
    assert str(err.value) == words
