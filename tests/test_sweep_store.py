"""The sweep's results folder and loop, without training: atomic records, resume, failures, reports, cost slot."""

from __future__ import annotations

import concurrent.futures as cf
import csv
import json

import pytest

from hwsim.sweep import SweepError, expand, spec_from_dict
from hwsim.sweep import cost as cost_mod
from hwsim.sweep.report import _pareto, write_reports
from hwsim.sweep.runner import run_points
from hwsim.sweep.store import ResultStore


def _spec(**kw):
    d = {"name": "t", "base": {"bits": 8, "hidden": 16, "dataset": "digits8x8"}, "epochs": 2,
         "grid": {"weight_bits": [3, 4]}, "seeds": 2}
    d.update(kw)
    return spec_from_dict(d)


def _fake_result(task):
    """Accuracies that are a function of the task only (no training)."""
    bits = 8 if task["mode"] == "float" else int(task["config"]["layers"][0]["weight"]["format"][3:])
    acc = 0.1 * bits + 0.01 * task["seed"]
    return {"result": {"config": "x", "dataset": task["dataset"], "seed": task["seed"], "mode": task["mode"],
                       "train_acc": [acc / 2, acc], "test_acc": [acc / 2, acc], "online_acc": [0, 0],
                       "epoch_seconds": [0, 0], "samples_per_s": 1.0, "wall_seconds": 0.5,
                       "final_test_acc": acc},
            "cpu_seconds": 0.25, "host": "h", "pid": 1, "worker": None}


class InlineBackend:
    """Runs each task at submit time in this process; ``fail`` names seeds whose tasks raise."""

    sticky = True

    def __init__(self, fail=()):
        self.fail, self.submitted = set(fail), []

    def submit(self, task, priority, worker=None):
        self.submitted.append((task["id"], worker))
        fut = cf.Future()
        if task["seed"] in self.fail and task["mode"] == "fixed":
            fut.set_exception(RuntimeError(f"boom {task['seed']}"))
        else:
            fut.set_result(_fake_result(task))
        return fut

    def completed(self, futures):
        return _Stream(futures)


class _Stream:
    def __init__(self, futures):
        self.queue = list(futures)

    def __iter__(self):
        while self.queue:
            yield self.queue.pop(0)

    def add(self, fut):
        self.queue.append(fut)


def test_store_roundtrip_and_bad_files(tmp_path, capsys):
    store = ResultStore(tmp_path)
    store.save({"id": "abc", "result": {"x": 1}})
    assert store.load("abc") == {"id": "abc", "result": {"x": 1}}
    assert list((tmp_path / "points").iterdir()) == [tmp_path / "points" / "abc.json"]  # no temp files left
    (tmp_path / "points" / "bad.json").write_text('{"id": "bad", "resu')     # a torn file from elsewhere
    (tmp_path / "points" / ".x.json.tmp").write_text("junk")
    assert store.finished(["abc", "bad", "missing"]).keys() == {"abc"}
    assert "bad.json is unreadable" in capsys.readouterr().err


def test_lock_refuses_a_second_sweep(tmp_path):
    a, b = ResultStore(tmp_path), ResultStore(tmp_path)
    a.lock()
    with pytest.raises(SweepError, match=r"^another sweep \(pid \d+\) is running in "):
        b.lock()
    a.unlock()
    b.lock()
    b.unlock()


def test_loop_saves_resumes_and_records_failures(tmp_path):
    spec = _spec()
    points = expand(spec)
    store = ResultStore(tmp_path)
    backend = InlineBackend(fail={1})
    stats = run_points(points, store, backend, progress=False, log=lambda *a: None)
    assert (stats.done, len(stats.failed)) == (4, 2)          # 2 floats + 2 fixed seed 0; seed 1 raised
    failed = json.loads(next((tmp_path / "failed").iterdir()).read_text())
    assert failed["error"] == "RuntimeError: boom 1" and "Traceback" in failed["traceback"]
    # sticky: seed 1 of a config went after seed 0 of the same config (to its worker)
    order = [pid for pid, _ in backend.submitted]
    by_id = {p.id: p for p in points}
    fixed = [by_id[i] for i in order if by_id[i].mode == "fixed"]
    assert [p.seed for p in fixed] == [0, 0, 1, 1]
    # rerun: only the failed points run, and their failure records go
    backend = InlineBackend()
    stats = run_points(points, store, backend, progress=False, log=lambda *a: None)
    assert (stats.skipped, stats.done, stats.failed) == (4, 2, [])
    assert not list((tmp_path / "failed").iterdir())
    assert len(store.finished(p.id for p in points)) == len(points)


def test_reports_table_csv_plot(tmp_path):
    spec = _spec()
    points = expand(spec)
    store = ResultStore(tmp_path)
    run_points(points, store, InlineBackend(), progress=False)
    groups, table, _ = write_reports(spec, points, store.finished(p.id for p in points), tmp_path)
    lines = table.splitlines()
    assert lines[0] == "| run | weight_bits | seeds | test acc % (mean ± std) | train acc % (mean ± std) | wall s/run |"
    assert lines[2] == "| float DRTP | any | 2 | 80.50 ± 0.71 | 80.50 ± 0.71 | 0.5 |"   # sample std of 80, 81
    assert lines[3] == "| engine | 3 | 2 | 30.50 ± 0.71 | 30.50 ± 0.71 | 0.5 |"
    rows = list(csv.DictReader((tmp_path / "results.csv").open()))
    assert list(rows[0])[:4] == ["id", "mode", "weight_bits", "seed"]
    assert len(rows) == 6 and json.loads(rows[2]["test_acc"]) == pytest.approx([0.15, 0.3])
    assert (tmp_path / "plots" / "acc_vs_weight_bits.png").stat().st_size > 10_000
    assert not list((tmp_path / "plots").glob("pareto_*"))        # no estimator: no costs, no Pareto plot
    assert "cost_" not in (tmp_path / "results.csv").read_text()
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["spec"]["grid"] == {"weight_bits": [3, 4]} and len(data["points"]) == 6


def test_cost_slot_adds_columns_and_pareto(tmp_path):
    spec = _spec()
    points = expand(spec)
    store = ResultStore(tmp_path)
    run_points(points, store, InlineBackend(), progress=False)
    cost_mod.set_cost_estimator(lambda cfg: {"weight_bits_total": float(sum(
        l.weight.width * l.n_in * l.n_out for l in cfg.layers))})
    try:
        groups, table, _ = write_reports(spec, points, store.finished(p.id for p in points), tmp_path)
    finally:
        cost_mod.set_cost_estimator(None)
    assert "weight_bits_total" in table.splitlines()[0]
    assert (tmp_path / "plots" / "pareto_weight_bits_total.png").exists()
    assert "cost_weight_bits_total" in (tmp_path / "results.csv").read_text().splitlines()[0]


def test_float_baselines_named_by_the_knobs_they_serve(tmp_path):
    spec = _spec(grid={"weight_bits": [3, 4], "hidden_shift": [9, 11]}, seeds=1)
    points = expand(spec)
    store = ResultStore(tmp_path)
    run_points(points, store, InlineBackend(), progress=False)
    _, table, plots = write_reports(spec, points, store.finished(p.id for p in points), tmp_path, plots=False)
    assert plots == []
    lines = table.splitlines()
    assert [line.split(" | ")[:3] for line in lines[2:4]] == [["| float DRTP", "any", "9"],
                                                             ["| float DRTP", "any", "11"]]
    assert len(lines) == 2 + 2 + 4


def test_pareto_front():
    # (cost, accuracy): the front is the cheapest point of each new best accuracy
    assert _pareto([(1, 50), (2, 40), (3, 70), (3, 60), (5, 70), (6, 90)]) == [0, 2, 5]


def test_cost_estimator_reference_errors():
    with pytest.raises(SweepError, match="^--cost must name a function as package.module:function"):
        cost_mod.load_cost_estimator("nocolon")
    with pytest.raises(SweepError, match="^cannot load cost estimator 'hwsim.nope:f'"):
        cost_mod.load_cost_estimator("hwsim.nope:f")
