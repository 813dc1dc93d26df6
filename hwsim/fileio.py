"""Result files written atomically with the usual permissions, and output paths checked before any work.

Every tool of the kit (training, sweeps, paper runs, golden sets, RTL, estimates) writes through
this module, so a reader never sees half a file, files get ``0666 & ~umask`` like any other
program's (a bare ``tempfile.mkstemp`` would leave them ``0600``), and a bad output path is one
sentence before training starts, not a traceback after it.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from pathlib import Path

from .formats import ConfigError

__all__ = ["OutputError", "write_atomic", "write_text_atomic", "write_json_atomic", "save_figure_atomic",
           "check_output_dir", "replace_dir_atomic", "file_mode", "make_temp_dir"]


class OutputError(ConfigError):
    """An output path the tool cannot or must not write (a file, read-only, someone else's folder)."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode a plain ``open(path, "w")`` would give a new file: 0666 minus the umask."""
    return 0o666 & ~_umask()


def write_atomic(path: str | Path, data: bytes | str) -> None:
    """Write a file so that a reader never sees half of it: temp file in the same folder, then rename."""
    path = Path(path)
    if isinstance(data, str):
        data = data.encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    write_atomic(path, text.encode())


def write_json_atomic(path: str | Path, obj, indent: int = 1) -> None:
    write_atomic(path, (json.dumps(obj, indent=indent) + "\n").encode())


def save_figure_atomic(fig, path: str | Path, **savefig_kwargs) -> None:
    """A matplotlib figure as a PNG (or the format of the suffix), written atomically."""
    buf = io.BytesIO()
    fmt = Path(path).suffix.lstrip(".") or "png"
    fig.savefig(buf, format=fmt, **savefig_kwargs)
    write_atomic(path, buf.getvalue())


def _nearest_existing(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_output_dir(path: str | Path, option: str = "--out", *, empty_or_ours: str | None = None) -> Path:
    """Check that ``path`` can become an output folder; raise :class:`OutputError` (one sentence) if not.

    It may exist as a folder or not yet exist; every existing ancestor must be a folder and the
    nearest existing one writable. With ``empty_or_ours="meta.json"`` an existing folder must be
    empty or hold that file (a folder this tool wrote before), so that replacing it never deletes
    what the tool did not write. Nothing is created.
    """
    path = Path(path)
    shown = str(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{option} {shown!r} is a file, not a folder; give a folder path")
    base = _nearest_existing(path.absolute())
    if not base.is_dir():
        raise OutputError(f"{option} {shown!r} lies under {str(base)!r}, which is a file, not a folder")
    if not os.access(base, os.W_OK | os.X_OK) or (path.is_dir() and not os.access(path, os.W_OK | os.X_OK)):
        where = path if path.is_dir() else base
        raise OutputError(f"{option} {shown!r} is not writable ({str(where)!r} is read-only); "
                          f"choose a folder you can write")
    if empty_or_ours and path.is_dir() and any(path.iterdir()) and not (path / empty_or_ours).is_file():
        raise OutputError(f"{option} {shown!r} is a non-empty folder that this tool did not write (no "
                          f"{empty_or_ours}); give a new or empty folder, so nothing of yours is deleted")
    return path


def make_temp_dir(out: Path) -> Path:
    """A fresh hidden folder beside ``out`` (same file system, so it can be renamed into place)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    return tmp


def replace_dir_atomic(tmp: Path, out: Path, ours: str) -> None:
    """Move the finished folder ``tmp`` to ``out``; an old ``out`` is removed only if it holds ``ours``.

    The old folder is first renamed aside, so a reader sees either the old set or the new one;
    it is deleted only after the new one is in place.
    """
    mode = file_mode()
    for f in tmp.rglob("*"):
        f.chmod(mode | 0o111 if f.is_dir() else mode)
    tmp.chmod(mode | 0o111)
    old = None
    if out.exists():
        if any(out.iterdir()) and not (out / ours).is_file():
            raise OutputError(f"{str(out)!r} is a non-empty folder that this tool did not write (no {ours}); "
                              f"nothing was replaced")
        old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".old"))
        old.rmdir()
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old)
