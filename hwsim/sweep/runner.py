"""Running a sweep's points in parallel: a local process pool or a Dask cluster, resumable.

Each point runs in a worker process (numba compiles per config, and a crash must not take the
sweep down). The parent writes every finished point atomically the moment it arrives, so a
``kill -9`` loses only the points that were running; a rerun skips what is on disk.

Backends:

``dask`` (default)
    Dask distributed. Without an address: a ``LocalCluster`` of single-threaded worker processes,
    one per core. With ``--scheduler tcp://host:8786``: that cluster's workers (they need this
    package installed and, for external data sets, the same ``data_dir``). Dask was chosen over
    Ray: pure Python, a light install, no daemon, and ``dask-scheduler``/``dask-worker`` (or
    dask-jobqueue, dask-kubernetes) join machines with one command each.
``local``
    A ``concurrent.futures`` process pool: no sockets at all, for machines that forbid them.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime
import logging
import os
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field

from ..cli import progress_bar
from .knobs import SweepError
from .spec import Point
from .store import ResultStore

__all__ = ["run_point", "LocalBackend", "DaskBackend", "make_backend", "run_points", "RunStats"]

RECORD_VERSION = 1
_DATA_CACHE: dict = {}


# ---------------------------------------------------------------------------------------------
# Worker side
# ---------------------------------------------------------------------------------------------

def _dataset(name: str, data_dir):
    key = (name, data_dir)
    if key not in _DATA_CACHE:
        from ..datasets import load_dataset
        _DATA_CACHE[key] = load_dataset(name, None if name in ("mnist5k", "digits8x8") else data_dir)
    return _DATA_CACHE[key]


def run_point(task: dict) -> dict:
    """Train one point (in a worker process); returns the result part of its record."""
    from ..config import config_from_dict
    from ..train_loop import train_run

    cpu0 = time.process_time()
    cfg = config_from_dict(task["config"])
    data = _dataset(task["dataset"], task["data_dir"])
    result, engine = train_run(cfg, data, task["epochs"], task["seed"], use_float=task["mode"] == "float")
    out = {"result": result.to_dict(), "host": socket.gethostname(), "pid": os.getpid(), "worker": _dask_worker()}
    if task.get("profile"):
        from ..profile import profile_run
        out["profile"] = profile_run(cfg, data, engine, n_samples=task["profile"], epoch=task["epochs"],
                                     seed=task["seed"]).columns()
    out["cpu_seconds"] = time.process_time() - cpu0
    return out


def _dask_worker() -> str | None:
    """The address of the Dask worker running this task (None outside Dask)."""
    try:
        from distributed import get_worker
        return get_worker().address
    except (ImportError, ValueError):
        return None


def _die_with_parent() -> None:
    """Pool initializer: the kernel kills this worker when the sweep process dies (even by kill -9)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL


# ---------------------------------------------------------------------------------------------
# Backends: submit(task, priority, worker) -> future; completed(futures) yields them as they
# finish (and, when ``sticky``, takes more with .add). A sticky backend can send a task to the
# worker that ran a given task before: the seeds of one config then share its compiled kernels.
# ---------------------------------------------------------------------------------------------

_ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "NUMBA_NUM_THREADS": "1"}


@contextlib.contextmanager
def _worker_environ():
    """Workers inherit one-thread BLAS/numba settings (one point per core: numba's ``parallel=True``
    spin-waits on 2 vCPUs and ran ~200x slower than serial kernels when measured here)."""
    saved = {k: os.environ.get(k) for k in _ONE_THREAD}
    for k, v in _ONE_THREAD.items():
        os.environ.setdefault(k, v)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class LocalBackend:
    """A process pool on this machine (spawned workers; they die with the sweep)."""

    name = "local"
    sticky = False

    def __init__(self, workers: int):
        import concurrent.futures as cf
        import multiprocessing as mp

        self._cf = cf
        self.workers = workers
        with _worker_environ():
            self.pool = cf.ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"),
                                               initializer=_die_with_parent)

    def describe(self) -> str:
        return f"local process pool, {self.workers} workers"

    def submit(self, task: dict, priority: int, worker: str | None = None):
        return self.pool.submit(run_point, task)

    def completed(self, futures):
        return self._cf.as_completed(futures)

    def close(self, cancel: bool = False) -> None:
        self.pool.shutdown(wait=not cancel, cancel_futures=cancel)


class DaskBackend:
    """Dask distributed: a LocalCluster of processes, or the cluster at ``address``."""

    name = "dask"
    sticky = True

    def __init__(self, workers: int | None = None, address: str | None = None, cluster=None):
        from dask.distributed import Client, LocalCluster, as_completed

        self._as_completed = as_completed
        self.cluster = None
        self.own_cluster = False
        if cluster is not None:
            self.client = Client(cluster)
        elif address:
            try:
                self.client = Client(address, timeout="10s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise SweepError(f"cannot reach the Dask scheduler at {address} ({exc}); start one with "
                                 f"`dask scheduler` or drop --scheduler to run locally") from None
        else:
            import dask
            # no work stealing on our own cluster: the seeds of a config wait for the worker that
            # compiled it (a few seconds) rather than move and compile again (~10 s of CPU each)
            with _worker_environ(), dask.config.set({"distributed.scheduler.work-stealing": False}):
                self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                            dashboard_address=":0", memory_limit=0,
                                            silence_logs=logging.ERROR)
            self.own_cluster = True
            self.client = Client(self.cluster)
        self.address = address

    def describe(self) -> str:
        n = len(self.client.nthreads())
        where = f"scheduler {self.address}" if self.address else "LocalCluster"
        return f"dask ({where}), {n} workers"

    def submit(self, task: dict, priority: int, worker: str | None = None):
        # a hint, not a pin: another worker may still take the task (work stealing, a lost worker)
        where = {"workers": [worker], "allow_other_workers": True} if worker else {}
        return self.client.submit(run_point, task, key=f"point-{task['id']}", pure=False, priority=priority,
                                  **where)

    def completed(self, futures):
        return self._as_completed(futures)

    def close(self, cancel: bool = False) -> None:
        with contextlib.suppress(Exception):
            self.client.close()
        if self.own_cluster:
            with contextlib.suppress(Exception):
                self.cluster.close()


def make_backend(name: str, workers: int | None, address: str | None):
    workers = workers or os.cpu_count() or 1
    if address and name == "local":
        raise SweepError("--scheduler needs the dask backend, not --backend local")
    if name == "local":
        return LocalBackend(workers)
    return DaskBackend(workers, address)


# ---------------------------------------------------------------------------------------------
# The loop
# ---------------------------------------------------------------------------------------------

@dataclass
class RunStats:
    total: int = 0
    skipped: int = 0
    done: int = 0
    failed: list = field(default_factory=list)
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0  # summed over the points run now


def _record(point: Point, out: dict) -> dict:
    return {"version": RECORD_VERSION, "id": point.id, "mode": point.mode, "knobs": dict(point.knobs),
            "seed": point.seed, "epochs": point.epochs, "dataset": point.dataset,
            "config_digest": point.digest, "float_key": point.float_key, **out,
            "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "config": point.config}


def run_points(points: list[Point], store: ResultStore, backend, progress: bool = True,
               desc: str = "sweep", log=print) -> RunStats:
    """Run the points not yet in ``store`` on ``backend``, saving each as it finishes.

    Points go out in spec order (float baselines first: they are the longest). On a sticky
    backend only the first seed of each config goes out at first; its other seeds follow to the
    worker that ran it, where numba has already compiled that config.
    """
    start = time.perf_counter()
    done = store.finished(p.id for p in points)
    todo = [p for p in points if p.id not in done]
    stats = RunStats(total=len(points), skipped=len(done))
    followers: dict[str, list[Point]] = {}
    first = todo
    if backend.sticky:
        leaders: dict[tuple, Point] = {}
        first = []
        for p in todo:
            key = (p.mode, p.digest) if p.mode == "fixed" else (p.mode, p.id)
            if key in leaders:
                followers[leaders[key].id].append(p)
            else:
                leaders[key] = p
                followers[p.id] = []
                first.append(p)
    bar = progress_bar(progress, total=len(points), initial=len(done), unit="point", desc=desc, smoothing=0.1)
    say = bar.write if bar is not None else log
    if done:
        say(f"resuming: {len(done)} of {len(points)} points already finished")
    futures = {}
    try:
        for i, p in enumerate(first):
            futures[backend.submit(p.task(), priority=len(first) - i)] = p
        stream = backend.completed(list(futures))
        for fut in stream:
            p = futures.pop(fut)
            out = None
            try:
                out = fut.result()
            except Exception as exc:  # a point that raised is recorded and retried by the next run
                tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
                store.save_failure(p.id, {"label": p.label(), "error": f"{type(exc).__name__}: {exc}",
                                          "traceback": tb})
                stats.failed.append((p, f"{type(exc).__name__}: {exc}"))
                say(f"FAILED {p.label()}: {type(exc).__name__}: {exc}")
            else:
                store.save(_record(p, out))
                stats.done += 1
                stats.cpu_seconds += out.get("cpu_seconds", 0.0)
                if bar is not None:
                    acc = out["result"]["final_test_acc"]
                    bar.set_postfix_str(f"last: {p.label()} test {100 * acc:.1f}%", refresh=False)
            for q in followers.pop(p.id, []):  # ahead of every leader still waiting
                fq = backend.submit(q.task(), priority=len(first) + 1, worker=(out or {}).get("worker"))
                futures[fq] = q
                stream.add(fq)
            if bar is not None:
                bar.update(1)
    except BaseException:
        for fut in futures:
            fut.cancel()
        raise
    finally:
        if bar is not None:
            bar.close()
        stats.wall_seconds = time.perf_counter() - start
    return stats
