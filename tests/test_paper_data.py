"""The synthetic tasks as the seed generates them, and image sets scaled to x/255."""

import numpy as np
import pytest

from hwsim.formats import ConfigError
from hwsim.paper.data import load_task, synthetic


def test_regression_targets_follow_the_formula():
    x_tr, y_tr, x_te, y_te = synthetic.regression(n_train=50, n_test=20, seed=3)
    assert x_tr.shape == (50, 256) and y_tr.shape == (50, 10) and x_te.shape == (20, 256)
    phases = -np.pi / 2 + np.arange(10) * np.pi / 9
    np.testing.assert_allclose(y_tr, np.cos(x_tr.astype(np.float64).mean(axis=1)[:, None] + phases), atol=1e-5)
    np.testing.assert_allclose(phases, np.pi * (np.arange(10) - 4.5) / 9)  # the authors' form


def test_regression_inputs_are_gaussians_around_a_uniform_mean():
    x, _, _, _ = synthetic.regression(n_train=2000, n_test=1, seed=0)
    means = x.mean(axis=1)
    assert -np.pi - 0.3 < means.min() < -np.pi + 0.3 and np.pi - 0.3 < means.max() < np.pi + 0.3
    assert np.std(x - means[:, None]) == pytest.approx(1.0, abs=0.02)


def test_classification_is_sklearn_make_classification():
    from sklearn.datasets import make_classification
    x_tr, y_tr, x_te, y_te = synthetic.classification(n_train=300, n_test=100)
    x, y = make_classification(n_samples=400, n_features=256, n_informative=128, n_redundant=0, n_repeated=0,
                               n_classes=10, n_clusters_per_class=5, scale=np.ones(256), class_sep=4.5,
                               shuffle=True, random_state=0)
    np.testing.assert_array_equal(x_tr, x[:300].astype(np.float32))
    np.testing.assert_array_equal(y_te, y[300:])


def test_default_sizes_are_the_papers():
    data = load_task("regression")
    assert (len(data.x_train), len(data.x_test), data.n_outputs, data.regression) == (5000, 1000, 10, True)


def test_images_are_scaled_to_unit_range():
    data = load_task("digits8x8")
    assert data.input_shape == (1, 8, 8)
    assert data.x_train.dtype == np.float32 and data.x_train.max() == 1.0 and data.x_train.min() == 0.0
    t = data.targets(data.y_train[:5])
    assert t.shape == (5, 10) and np.all(t.sum(axis=1) == 1) and np.all(t.argmax(axis=1) == data.y_train[:5])
    assert data.shaped(data.x_train[:2], conv=True).shape == (2, 1, 8, 8)


def test_unknown_task():
    with pytest.raises(ConfigError) as err:
        load_task("svhn")
    assert str(err.value).startswith("data set must be one of regression, classification, mnist5k")


def test_cifar10_is_normalised_per_channel(monkeypatch):
    import hwsim.datasets
    from hwsim.paper.data import arrays

    class Fake:
        x_train = np.full((2, 3 * 4 * 4), 255, np.uint8)
        x_test = np.zeros((1, 3 * 4 * 4), np.uint8)
        y_train, y_test = np.array([1, 2]), np.array([3])
        image_shape, n_classes = (3, 4, 4), 10

    monkeypatch.setattr(hwsim.datasets, "load_dataset", lambda name, data_dir=None: Fake())
    data = load_task("cifar10", "/somewhere")
    assert data.input_shape == (3, 4, 4)
    img = data.x_train.reshape(2, 3, 16)
    np.testing.assert_allclose(img[0, :, 0], (1 - arrays._CIFAR_MEAN) / arrays._CIFAR_STD, rtol=1e-6)
    np.testing.assert_allclose(data.x_test.reshape(1, 3, 16)[0, :, 5], -arrays._CIFAR_MEAN / arrays._CIFAR_STD,
                               rtol=1e-6)
