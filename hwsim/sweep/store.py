"""A sweep's results folder: one atomically written JSON file per finished point, so a rerun resumes.

Layout of ``OUT/``::

    sweep.yaml            the spec as last run (for the record; resuming keys on point ids, not on it)
    points/<id>.json      one finished point (written by rename: a reader never sees half a file)
    failed/<id>.json      the error of a point that raised; retried by the next run
    .lock                 held (flock) while a sweep runs here, released even by kill -9

A point's id is a hash of (mode, config digest, data set, epochs, seed): a rerun of the same spec
finds its finished points, a changed spec reuses the points it still shares.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
from pathlib import Path

from ..fileio import write_json_atomic
from .knobs import SweepError

__all__ = ["ResultStore"]


class ResultStore:
    """The results folder of one sweep."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.points_dir = self.root / "points"
        self.failed_dir = self.root / "failed"
        self._lock_fd = None

    # -- locking: two sweeps writing one folder would run the same points twice ---------------
    def lock(self) -> None:
        """Take the folder's lock, or raise :class:`SweepError` naming the sweep that holds it."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise SweepError(f"another sweep (pid {holder}) is running in {self.root}; wait for it or "
                             f"use another --out") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- points ---------------------------------------------------------------------------------
    def path(self, point_id: str) -> Path:
        return self.points_dir / f"{point_id}.json"

    def load(self, point_id: str) -> dict | None:
        """A finished point's record, or None (missing, or unreadable: then it is run again)."""
        p = self.path(point_id)
        try:
            record = json.loads(p.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            print(f"warning: {p} is unreadable ({exc}); its point will run again", file=sys.stderr)
            return None
        if not isinstance(record, dict) or record.get("id") != point_id or "result" not in record:
            print(f"warning: {p} is not a point record; its point will run again", file=sys.stderr)
            return None
        return record

    def finished(self, point_ids) -> dict[str, dict]:
        """The records of those of ``point_ids`` that are finished."""
        out = {}
        for pid in point_ids:
            record = self.load(pid)
            if record is not None:
                out[pid] = record
        return out

    def save(self, record: dict) -> None:
        write_json_atomic(self.path(record["id"]), record)
        failed = self.failed_dir / f"{record['id']}.json"
        if failed.exists():
            failed.unlink()

    def save_failure(self, point_id: str, info: dict) -> None:
        write_json_atomic(self.failed_dir / f"{point_id}.json", {"id": point_id, **info})
