"""Sweeps that train: on a Dask cluster joined by address, on the local pool, and killed -9 then resumed.

The sweep is small (64-16-10 on the 8x8 digits, 2 epochs) but real: the engine and its float twin.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hwsim.sweep.__main__ import main

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("sweep")]

ROOT = Path(__file__).resolve().parent.parent
SWEEP = ["--bits", "8", "--hidden", "16", "--dataset", "digits8x8", "--epochs", "2", "--seeds", "2",
         "--grid", "weight_bits=3,8", "--name", "t", "--no-progress"]
N_POINTS = 2 + 2 * 2  # float baselines per seed + weight_bits x seeds


def _points(out: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in (out / "points").glob("*.json")}


def _accuracies(records: dict[str, dict]) -> dict[str, tuple]:
    return {pid: (r["mode"], r["seed"], r["result"]["train_acc"], r["result"]["test_acc"], r["result"]["online_acc"])
            for pid, r in records.items()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted sweep run on a Dask LocalCluster that the command joins by its address."""
    from dask.distributed import LocalCluster

    out = tmp_path_factory.mktemp("sweep") / "reference"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                      memory_limit=0) as cluster:
        assert main([*SWEEP, "--out", str(out), "--scheduler", cluster.scheduler_address]) == 0
    return out


def test_dask_cluster_sweep_writes_everything(reference):
    records = _points(reference)
    assert len(records) == N_POINTS
    assert {r["worker"].startswith("tcp://") for r in records.values()} == {True}
    fixed = [r for r in records.values() if r["mode"] == "fixed"]
    assert sorted((r["knobs"]["weight_bits"], r["seed"]) for r in fixed) == [(3, 0), (3, 1), (8, 0), (8, 1)]
    assert all(len(r["result"]["test_acc"]) == 2 for r in records.values())
    table = (reference / "summary.md").read_text().splitlines()
    assert table[2].startswith("| float DRTP | any | 2 | ")
    assert [line.split(" | ")[:2] for line in table[3:]] == [["| engine", "3"], ["| engine", "8"]]
    for name in ("results.csv", "results.json", "summary.csv", "sweep.yaml", "plots/acc_vs_weight_bits.png"):
        assert (reference / name).is_file(), name


def test_rerun_skips_finished_points(reference, capsys):
    before = {p: p.stat().st_mtime_ns for p in (reference / "points").iterdir()}
    assert main([*SWEEP, "--out", str(reference)]) == 0
    assert f"all {N_POINTS} points are already finished" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in (reference / "points").iterdir()} == before


def test_local_pool_gives_the_same_float_baselines(reference, tmp_path):
    out = tmp_path / "local"
    assert main([*SWEEP, "--out", str(out), "--backend", "local", "--workers", "2", "--float-only"]) == 0
    local = _accuracies(_points(out))
    assert len(local) == 2
    assert local == {pid: acc for pid, acc in _accuracies(_points(reference)).items() if pid in local}


def _children(pid: int) -> list[int]:
    import psutil
    try:
        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def test_kill_9_then_rerun_equals_uninterrupted(reference, tmp_path):
    import psutil

    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "hwsim.sweep", *SWEEP, "--out", str(out), "--workers", "1"]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        # one worker runs the points in turn: kill once a fixed point is saved, while the next compiles
        while not any(r["mode"] == "fixed" for r in _points(out).values() if out.exists()):
            assert proc.poll() is None, "the sweep ended before it could be killed"
            assert time.monotonic() < deadline, "no fixed point finished in time"
            time.sleep(0.02)
        workers = _children(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    partial = _points(out)
    assert 0 < len(partial) < N_POINTS
    # the workers die with the sweep: nothing keeps training (and eating the cores) after kill -9
    gone, alive = psutil.wait_procs([psutil.Process(p) for p in workers if psutil.pid_exists(p)], timeout=20)
    assert not alive
    # the same command again: resumes, and ends exactly where an uninterrupted run ends
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"ran {N_POINTS - len(partial)} points ({len(partial)} already finished, 0 failed)" in result.stdout, \
        result.stdout
    resumed = _points(out)
    assert {pid: r["finished_at"] for pid, r in resumed.items() if pid in partial} == \
        {pid: r["finished_at"] for pid, r in partial.items()}      # finished points were not rerun
    assert _accuracies(resumed) == _accuracies(_points(reference))


def test_profile_counts_become_columns(tmp_path):
    """`profile: N` in a spec (or --profile N) records hwsim.profile's counts in results.csv."""
    import csv
    import subprocess
    import sys
    (tmp_path / "spec.yaml").write_text("name: prof\nbase: {bits: 4, hidden: 8, dataset: digits8x8}\nepochs: 1\n"
                                        "seeds: 1\nfloat_baseline: false\nprofile: 40\ngrid: {weight_bits: [3, 4]}\n")
    proc = subprocess.run([sys.executable, "-m", "hwsim.sweep", "spec.yaml", "--backend", "local", "--workers", "1",
                           "--no-plots", "--no-progress", "--out", "s"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(open(tmp_path / "s" / "results.csv")))
    assert len(rows) == 2
    cols = [c for c in rows[0] if c.startswith("prof.")]
    assert "prof.L0.preact.sat_hi" in cols and "prof.L1.preact.sat_lo" in cols, cols
    assert all(row[c] != "" for row in rows for c in cols)
