"""The IDX file format of MNIST and Fashion-MNIST: a checked reader and a writer, plain or gzip.

An IDX file is a 4-byte magic number ``00 00 <type code> <number of dimensions>``, one
big-endian uint32 per dimension, then the elements in C order, big-endian. A name ending in
``.gz`` (or content starting with the gzip magic) is decompressed first. Every malformed file
raises :class:`DataError` with one sentence naming the file and what was expected.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from .formats import ConfigError

__all__ = ["DataError", "IDX_TYPES", "read_idx", "write_idx", "read_file_bytes"]


class DataError(ConfigError):
    """A data set, data directory or data file the kit cannot read. The message is one sentence."""


# type code -> (big-endian numpy dtype, name used in messages)
IDX_TYPES: dict[int, tuple[str, str]] = {
    0x08: (">u1", "unsigned byte"),
    0x09: (">i1", "signed byte"),
    0x0B: (">i2", "16-bit integer"),
    0x0C: (">i4", "32-bit integer"),
    0x0D: (">f4", "32-bit float"),
    0x0E: (">f8", "64-bit float"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def read_file_bytes(path: str | Path) -> bytes:
    """Return a file's bytes, gunzipped when its name ends in ``.gz`` or it starts with the gzip magic."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from None
    if path.suffix == ".gz" or data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
            raise DataError(f"gzip file {path} is corrupt or truncated ({exc})") from None
    return data


def _shape_text(shape) -> str:
    return "x".join(str(d) for d in shape) if shape else "scalar"


def read_idx(path: str | Path, *, type_code: int | None = 0x08, ndim: int | None = None) -> np.ndarray:
    """Read an IDX file into a read-only native-endian array.

    Parameters
    ----------
    path : str or Path
        The file, plain or gzip-compressed.
    type_code : int or None
        The element type the caller expects (0x08 = unsigned byte); ``None`` accepts any IDX type.
    ndim : int or None
        The number of dimensions the caller expects; ``None`` accepts any (at least 1).

    Raises
    ------
    DataError
        Bad magic number, unexpected type code or dimension count, or a size that does not match
        the header (the message gives expected and actual bytes).
    """
    path = Path(path)
    data = read_file_bytes(path)
    if len(data) < 4:
        raise DataError(f"IDX file {path} is truncated: expected at least 4 header bytes, "
                        f"found {len(data)}")
    zero, code, nd = data[0] << 8 | data[1], data[2], data[3]
    magic = int.from_bytes(data[:4], "big")
    if zero != 0:
        if type_code is not None and ndim is not None:
            dims = "1 dimension" if ndim == 1 else f"{ndim} dimensions"
            expected = f"0x{type_code << 8 | ndim:08x} ({IDX_TYPES[type_code][1]}s, {dims})"
        else:
            expected = "two zero bytes, a type code and the number of dimensions"
        raise DataError(f"IDX file {path} has a bad magic number 0x{magic:08x}; expected {expected}")
    if code not in IDX_TYPES:
        allowed = ", ".join(f"0x{c:02x}" for c in IDX_TYPES)
        raise DataError(f"IDX file {path} has unknown data type code 0x{code:02x}; "
                        f"IDX allows {allowed}")
    if type_code is not None and code != type_code:
        raise DataError(f"IDX file {path} has data type code 0x{code:02x} ({IDX_TYPES[code][1]}); "
                        f"expected 0x{type_code:02x} ({IDX_TYPES[type_code][1]})")
    if ndim is not None and nd != ndim:
        raise DataError(f"IDX file {path} has {nd} dimensions; expected {ndim}")
    if nd == 0:
        raise DataError(f"IDX file {path} has 0 dimensions; expected at least 1")
    header = 4 + 4 * nd
    if len(data) < header:
        raise DataError(f"IDX file {path} is truncated: expected {header} header bytes "
                        f"for {nd} dimensions, found {len(data)}")
    shape = struct.unpack(f">{nd}I", data[4:header])
    dtype = np.dtype(IDX_TYPES[code][0])
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        what = "is truncated" if len(data) < expected else "is too long"
        raise DataError(f"IDX file {path} {what}: its header declares {_shape_text(shape)} "
                        f"{IDX_TYPES[code][1]}s, i.e. {expected} bytes, but it holds {len(data)} bytes")
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    if not dtype.isnative and dtype.itemsize > 1:
        array = array.astype(dtype.newbyteorder("="))
    array.flags.writeable = False
    return array


def write_idx(path: str | Path, array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file (gzip-compressed, reproducibly, when the name ends in ``.gz``)."""
    path = Path(path)
    array = np.asarray(array)
    codes = {np.dtype(be).newbyteorder("="): code for code, (be, _) in IDX_TYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        allowed = ", ".join(str(d) for d in codes)
        raise ConfigError(f"IDX cannot store dtype {array.dtype}; allowed dtypes are {allowed}")
    if array.ndim == 0 or array.ndim > 255:
        raise ConfigError(f"IDX arrays need 1..255 dimensions, not {array.ndim}")
    code = codes[native]
    body = (bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
            + np.ascontiguousarray(array, dtype=IDX_TYPES[code][0]).tobytes())
    if path.suffix == ".gz":
        body = gzip.compress(body, mtime=0)
    path.write_bytes(body)
    return path
