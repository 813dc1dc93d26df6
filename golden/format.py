"""The golden-vector file layout: raw integers in ``$readmemh`` text files, a meta.json that checks them.

A golden set is one directory::

    meta.json           kind, format version, generator, config (canonical dict + digest), data set,
                        seeds, sample counts, and for every data file: what it holds, its shape, its
                        number format, its size in bytes and its sha256
    config.yaml         the engine config (``python -m rtl.generate --config`` reads it), its size
                        and sha256 in meta.json ``config_yaml`` like every data file
    init_w<k>.hex       layer k's initial weights, canonical (n_out, n_cols) row-major, bias last
    train_x.hex         training inputs in the order the engine sees them, (N, n_in)
    train_label.hex     their labels, (N,)
    train_pred.hex      the prediction made for each sample before its updates, (N,)
    train_z<k>.hex      layer k's pre-activations per sample, (N, n_out)
    train_y<k>.hex      layer k's activations per sample, (N, n_out)
    train_delta<k>.hex  layer k's modulatory signal per sample, (N, n_out)
    train_wcount<k>.hex how many weights of layer k each training sample changed, (N,)
    train_wdiff<k>.hex  those weights, as records ``index value`` in sample order, one per line;
                        ``index = j * n_cols + i``, ``value`` = the weight after that sample
                        (init_w<k> plus these records gives the weights after every sample)
    ckpt_w<k>_s<S>.hex  full weights after sample S (checkpoints; the last sample always has one)
    infer_x.hex, infer_label.hex, infer_pred.hex, infer_z.hex
                        an inference slice run with the weights after the last training sample
    train_counts.hex    per training sample, the work it did and its clock cycles (docs/engine.md
                        §11): records ``cycles load events<k>... active<k>... visits<k>... writes<k>...
                        changes<k>...``
    infer_counts.hex    the same per inference sample (active, visits and writes are 0)

Every value is one whitespace-separated hex token, two's complement in its format's width
(``ceil(width / 4)`` digits), one sample's values on one line: ``$readmemh`` loads a file into a
``reg [W-1:0] mem [0:N*n-1]`` and :func:`read_hex` into an ``(N, n)`` int64 array. Record files
give each column its own format (meta.json ``columns``); ``$readmemh`` reads them three words per
record. Reading a set
(:func:`open_golden`) checks everything meta.json promises; any problem is one :class:`GoldenError`
sentence naming the file and what to do.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hwsim.config import EngineConfig, config_from_dict
from hwsim.cycles import COUNT_FIELDS
from hwsim.fileio import write_atomic
from hwsim.formats import ConfigError, FixedFormat

__all__ = ["count_columns", "GoldenError", "KIND", "FORMAT_VERSION", "HexFormat", "encode_hex", "decode_hex",
           "sha256_file", "GoldenFile", "GoldenMeta", "read_meta", "read_hex", "REGENERATE_HINT"]

KIND = "drtp-golden-vectors"
FORMAT_VERSION = 4
REGENERATE_HINT = "python -m golden.generate --config <config> --samples <N> -o <dir>"


def count_columns(n_layers: int) -> tuple[str, ...]:
    """Columns of ``train_counts.hex`` / ``infer_counts.hex`` (:data:`hwsim.cycles.COUNT_FIELDS`)."""
    return ("cycles", "load") + tuple(f"{f}{k}" for f in COUNT_FIELDS[1:] for k in range(n_layers))


class GoldenError(ValueError):
    """A golden set that cannot be trusted or read. The message is one sentence for the user."""


@dataclass(frozen=True)
class HexFormat:
    """How one file's raw integers are written: ``width`` bits, two's complement when ``signed``."""

    width: int
    signed: bool

    @classmethod
    def of(cls, fmt: FixedFormat) -> "HexFormat":
        return cls(fmt.width, fmt.signed)

    @classmethod
    def unsigned_for(cls, max_value: int) -> "HexFormat":
        """The narrowest unsigned format (a whole number of hex digits) that holds ``max_value``."""
        return cls(max(4, -(-max(1, int(max_value)).bit_length() // 4) * 4), False)

    @property
    def digits(self) -> int:
        return -(-self.width // 4)

    @property
    def min(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    def to_dict(self) -> dict:
        return {"width": self.width, "signed": self.signed}


def encode_hex(values: np.ndarray, fmts: tuple[HexFormat, ...]) -> bytes:
    """Raw integers -> hex text, one row of a 2-D array per line (a 1-D array: one value per line).

    ``fmts`` holds one format for every value, or one per column.
    """
    v = np.asarray(values, dtype=np.int64)
    if v.ndim == 1:
        v = v.reshape(-1, 1)
    cols = _column_formats(fmts, v.shape[1])
    u = np.empty_like(v)
    for c, fmt in enumerate(cols):
        col = v[:, c]
        if col.size and (col.min() < fmt.min or col.max() > fmt.max):
            raise GoldenError(f"values {col.min()}..{col.max()} do not fit the {fmt.width}-bit "
                              f"{'signed' if fmt.signed else 'unsigned'} golden format")
        u[:, c] = col & ((1 << fmt.width) - 1)
    specs = [f"%0{fmt.digits}x" for fmt in cols]
    if len(set(specs)) == 1:
        spec = " ".join([specs[0]] * len(cols))
    else:
        spec = " ".join(specs)
    lines = [spec % tuple(row) for row in u.tolist()]
    return ("\n".join(lines) + "\n").encode() if lines else b""


def _column_formats(fmts: tuple[HexFormat, ...], n_cols: int) -> tuple[HexFormat, ...]:
    return tuple(fmts) * n_cols if len(fmts) == 1 else tuple(fmts)


def decode_hex(text: bytes, fmts: tuple[HexFormat, ...], name: str) -> np.ndarray:
    """Hex text -> a flat int64 array, sign-extended per (column) format; a bad token is a :class:`GoldenError`."""
    tokens = text.split()
    try:
        u = np.array([int(t, 16) for t in tokens], dtype=np.int64)
    except ValueError:
        bad = next(t for t in tokens if not _is_hex(t))
        raise GoldenError(f"golden file {name} holds {bad.decode(errors='replace')!r}, which is not a hex "
                          f"number; regenerate the set with `{REGENERATE_HINT}`") from None
    n_cols = len(fmts)
    if u.size % n_cols:
        raise GoldenError(f"golden file {name} ends in the middle of a {n_cols}-value record; "
                          f"regenerate the set with `{REGENERATE_HINT}`")
    table = u.reshape(-1, n_cols)
    for c, fmt in enumerate(fmts):
        col = table[:, c]
        if col.size and (col.min() < 0 or col.max() >= (1 << fmt.width)):
            raise GoldenError(f"golden file {name} holds a value wider than its {fmt.width} bits; "
                              f"regenerate the set with `{REGENERATE_HINT}`")
        if fmt.signed and col.size:
            table[:, c] = np.where(col >= (1 << (fmt.width - 1)), col - (1 << fmt.width), col)
    return table.reshape(-1)


def _is_hex(token: bytes) -> bool:
    try:
        int(token, 16)
        return True
    except ValueError:
        return False


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass(frozen=True)
class GoldenFile:
    """One data file as meta.json describes it: one number format, or one per named column."""

    name: str
    what: str
    shape: tuple[int, ...]
    fmts: tuple[HexFormat, ...]
    bytes: int
    sha256: str
    columns: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        if self.columns:
            fmt = {"columns": [{"name": c, **f.to_dict()} for c, f in zip(self.columns, self.fmts)]}
        else:
            fmt = self.fmts[0].to_dict()
        return {"what": self.what, "shape": list(self.shape), **fmt, "bytes": self.bytes, "sha256": self.sha256}

    @classmethod
    def from_dict(cls, name: str, d: dict) -> "GoldenFile":
        if "columns" in d:
            cols = tuple(str(c["name"]) for c in d["columns"])
            fmts = tuple(HexFormat(int(c["width"]), bool(c["signed"])) for c in d["columns"])
        else:
            cols, fmts = (), (HexFormat(int(d["width"]), bool(d["signed"])),)
        for f in fmts:
            if not 1 <= f.width <= 63:
                raise ValueError(f"width {f.width}")
        return cls(name, str(d["what"]), tuple(int(n) for n in d["shape"]), fmts, int(d["bytes"]),
                   str(d["sha256"]), cols)


@dataclass(frozen=True)
class GoldenMeta:
    """The parsed meta.json of a golden set (its config rebuilt and checked against its digest)."""

    root: Path
    cfg: EngineConfig
    raw: dict
    files: dict[str, GoldenFile]

    @property
    def n_train(self) -> int:
        return int(self.raw["train"]["count"])

    @property
    def n_infer(self) -> int:
        return int(self.raw["infer"]["count"])

    @property
    def checkpoints(self) -> list[int]:
        return [int(s) for s in self.raw["train"]["checkpoints"]]


def _where(root: Path) -> str:
    return str(root)


def read_meta(root: str | Path) -> GoldenMeta:
    """Parse and check meta.json (not yet the data files): kind, version, config and its digest."""
    root = Path(root)
    path = root / "meta.json"
    if not root.is_dir():
        raise GoldenError(f"golden set {_where(root)} does not exist; generate it with `{REGENERATE_HINT}`")
    if not path.is_file():
        raise GoldenError(f"golden set {_where(root)} has no meta.json; generate it with `{REGENERATE_HINT}`")
    try:
        raw = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise GoldenError(f"golden file {path} is not valid JSON (truncated or edited); regenerate the set "
                          f"with `{REGENERATE_HINT}`") from None
    if not isinstance(raw, dict) or raw.get("kind") != KIND:
        raise GoldenError(f"golden file {path} is not a DRTP golden-vector meta file (kind must be {KIND!r})")
    if raw.get("format_version") != FORMAT_VERSION:
        raise GoldenError(f"golden set {_where(root)} has format version {raw.get('format_version')!r}, but this "
                          f"reader understands version {FORMAT_VERSION}; regenerate it with `{REGENERATE_HINT}`")
    try:
        cfg = config_from_dict(raw["config"], origin="meta.json config")
        files = {name: GoldenFile.from_dict(name, d) for name, d in raw["files"].items()}
        for key in ("count", "checkpoints"):
            raw["train"][key]
        raw["infer"]["count"]
        digest = raw["config_digest"]
        yaml_size, yaml_sha = int(raw["config_yaml"]["bytes"]), str(raw["config_yaml"]["sha256"])
    except ConfigError as exc:
        raise GoldenError(f"golden file {path} holds an invalid config ({exc})") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise GoldenError(f"golden file {path} lacks or garbles the entry {exc}; regenerate the set "
                          f"with `{REGENERATE_HINT}`") from None
    if cfg.digest() != digest:
        raise GoldenError(f"golden file {path} has config digest {digest} but its config hashes to "
                          f"{cfg.digest()}: meta.json was edited; regenerate the set with `{REGENERATE_HINT}`")
    yaml_path = root / "config.yaml"
    if not yaml_path.is_file():
        raise GoldenError(f"golden file {yaml_path} is missing; regenerate the set with `{REGENERATE_HINT}`")
    data = yaml_path.read_bytes()
    if len(data) != yaml_size or hashlib.sha256(data).hexdigest() != yaml_sha:
        raise GoldenError(f"golden file {yaml_path} fails its checksum: it changed after generation, so it may "
                          f"no longer be the config of these vectors; regenerate the set with `{REGENERATE_HINT}`")
    return GoldenMeta(root, cfg, raw, files)


def read_hex(meta: GoldenMeta, name: str, verify: bool = True) -> np.ndarray:
    """One data file as an int64 array of its meta shape, after checking size and checksum."""
    if name not in meta.files:
        raise GoldenError(f"golden set {_where(meta.root)} has no file {name} in its meta.json")
    info = meta.files[name]
    path = meta.root / name
    if not path.is_file():
        raise GoldenError(f"golden file {path} is missing; regenerate the set with `{REGENERATE_HINT}`")
    data = path.read_bytes()
    if verify:
        if len(data) < info.bytes:
            raise GoldenError(f"golden file {path} is truncated: {len(data)} bytes, meta.json says "
                              f"{info.bytes}; regenerate the set with `{REGENERATE_HINT}`")
        if len(data) > info.bytes:
            raise GoldenError(f"golden file {path} is longer than meta.json says ({len(data)} bytes, not "
                              f"{info.bytes}); regenerate the set with `{REGENERATE_HINT}`")
        digest = hashlib.sha256(data).hexdigest()
        if digest != info.sha256:
            raise GoldenError(f"golden file {path} fails its checksum (sha256 {digest[:12]}..., meta.json "
                              f"says {info.sha256[:12]}...): it changed after generation; regenerate the "
                              f"set with `{REGENERATE_HINT}`")
    values = decode_hex(data, info.fmts, str(path))
    count = int(np.prod(info.shape)) if info.shape else 1
    if values.size != count:
        raise GoldenError(f"golden file {path} holds {values.size} values, but its shape {list(info.shape)} "
                          f"needs {count}; regenerate the set with `{REGENERATE_HINT}`")
    return values.reshape(info.shape)


def write_meta(root: Path, raw: dict) -> None:
    write_atomic(Path(root) / "meta.json", (json.dumps(raw, indent=1) + "\n").encode())


def file_entry(root: Path, name: str, what: str, values, fmt: HexFormat | tuple[HexFormat, ...],
               columns: tuple[str, ...] = ()) -> GoldenFile:
    """Write one data file atomically (one row of ``values`` per line) and describe it."""
    values = np.asarray(values, dtype=np.int64)
    fmts = tuple(fmt) if isinstance(fmt, tuple) else (fmt,)
    data = encode_hex(values, fmts)
    write_atomic(Path(root) / name, data)
    return GoldenFile(name, what, tuple(int(n) for n in values.shape), fmts, len(data),
                      hashlib.sha256(data).hexdigest(), tuple(columns))
