"""The compiled pass on disk: numba's cache, keyed by the config and the source, so a process starts warm.

numba's own ``cache=True`` cannot serve the composed pass: it keys a closure by a pickle of its
cells, and those hold other dispatchers, whose pickles carry a fresh random UUID in every process
(so the key never matches), and it keeps one index per function for all configs (two processes
saving different configs at once can point one config's entry at the other's code). Here the pass's
top-level dispatcher gets numba's cache machinery with:

* a key that is a hash of everything the generated code depends on: the config and its layer
  plans, the text of every source file of this package and of the ``hwsim`` modules it imports
  (directly or not), and the numba, llvmlite and numpy versions; numba adds the Python version,
  the CPU name and features, and the stamp (mtime, size) of :mod:`hwsim.fast.compiled`;
* one index and one data file per key, written by numba atomically (temp file, then rename): two
  processes compiling the same config at once write the same entry, different configs never share
  a file;
* the key in the name of every kernel of the pass. numba names a closure's machine code after its
  qualified name and a per-process counter, so two passes compiled by two processes (say the first
  pass of each) get the same symbol names; loaded into one process, the second pass would call
  the first one's kernels.

A hit loads the whole pass, callees and intrinsics included, as object code: nothing is compiled.
Entries go where numba puts its cache: ``$NUMBA_CACHE_DIR`` if set, else ``hwsim/fast/__pycache__``
(or numba's user-wide cache directory when that is not writable). Stale entries are never read, but
nothing deletes them: remove the directory to reclaim the space.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

import llvmlite
import numba
import numpy as np
from numba.core.caching import FunctionCache
from numba.core.dispatcher import Dispatcher

__all__ = ["source_digest", "cache_on_disk"]


def _imported_files(path: Path) -> list[Path]:
    """The files of the package-relative imports (``from .x import``, ``from ..y import z``) of one module."""
    out = []
    for node in ast.walk(ast.parse(path.read_bytes(), str(path))):
        if not isinstance(node, ast.ImportFrom) or not node.level:
            continue
        base = path.parent
        for _ in range(node.level - 1):
            base = base.parent
        target = base.joinpath(*node.module.split(".")) if node.module else base
        candidates = [target.with_suffix(".py"), target / "__init__.py"]
        candidates += [target / f"{alias.name}.py" for alias in node.names]
        out += [c for c in candidates if c.is_file()]
    return out


@functools.lru_cache(maxsize=1)
def source_digest() -> str:
    """sha256 over this package's source files and every module they import from their package."""
    todo = sorted(Path(__file__).resolve().parent.glob("*.py"))
    seen: dict[Path, bytes] = {}
    while todo:
        path = todo.pop()
        if path not in seen:
            seen[path] = path.read_bytes()
            todo += _imported_files(path)
    h = hashlib.sha256()
    for path in sorted(seen):
        h.update(path.name.encode() + b"\0" + hashlib.sha256(seen[path]).digest())
    return h.hexdigest()



# Hashed now, while the modules are being imported: a file edited later by a running process's
# user must not lend its hash to code compiled from the version this process loaded.
source_digest()


class _KeyedCache(FunctionCache):
    """numba's cache of one dispatcher, indexed by a given key instead of a pickle of its closure."""

    def __init__(self, py_func, key: str):
        super().__init__(py_func)
        self._key = key

    def _index_key(self, sig, codegen):
        return (sig, codegen.magic_tuple(), self._key)


def _tag_kernels(dispatcher: Dispatcher, tag: str) -> None:
    """Append ``tag`` to the qualified name of ``dispatcher`` and of every dispatcher its closure
    reaches (the layers' kernels), before any is compiled: their symbols then differ per pass."""
    todo, seen = [dispatcher], set()
    while todo:
        d = todo.pop()
        if id(d) in seen:
            continue
        seen.add(id(d))
        d.py_func.__qualname__ += f"__{tag}"
        todo += [c.cell_contents for c in d.py_func.__closure__ or () if isinstance(c.cell_contents, Dispatcher)]


def cache_on_disk(dispatcher: Dispatcher, *what) -> str:
    """Give ``dispatcher`` (a pass, not compiled yet) an on-disk cache keyed by ``what`` (reprs of the
    config-derived constants its code is generated from) and the source; returns the key."""
    h = hashlib.sha256()
    for part in (source_digest(), numba.__version__, llvmlite.__version__, np.__version__, *what):
        h.update(repr(part).encode() + b"\0")
    key = h.hexdigest()
    _tag_kernels(dispatcher, key[:24])   # also names the cache files: one index per key
    dispatcher._cache = _KeyedCache(dispatcher.py_func, key)
    return key
