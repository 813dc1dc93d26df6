"""The long runs' plan and verdict (cocotb_tests/long_plan.py), without a simulator.

What ``make sim-long`` runs per simulator, the override variables and their error sentences, and
the rules that turn a bench report into a pass or a failure sentence; plus the golden checkpoints
the long runs read back at (``simsetup.ensure_golden(checkpoints=...)``).
"""

from __future__ import annotations

import json

import pytest

from long_plan import (LABELS, LongPlan, LongPlanError, failures, long_enabled, overrides, plan_for, results,
                       summary_line, whole_epochs)


def test_switch():
    assert not long_enabled({}) and not long_enabled({"DRTP_LONG": "0"}) and long_enabled({"DRTP_LONG": "1"})


def test_verilator_lengths_are_the_issues():
    """Issue 18: >= 10,000 small and stress samples; one MNIST-5k epoch (4,000), read-backs every 250,
    then the 1,000 test samples."""
    from hwsim.datasets import load_dataset
    digits = load_dataset("digits8x8")
    for label in ("small", "stress"):
        p = plan_for("verilator", label, env={})
        assert p.samples >= 10_000 and p.samples % digits.n_train == 0 and p.samples - digits.n_train < 10_000
        assert p.every == 250 and p.infer == digits.n_test
    assert plan_for("verilator", "stress", env={}).stimulus == "edge"
    paper = plan_for("verilator", "paper", env={})
    assert (paper.samples, paper.every, paper.infer, paper.stimulus) == (4000, 250, 1000, "data")
    assert paper.readbacks() == list(range(249, 4000, 250)) and len(paper.readbacks()) == 16


@pytest.mark.parametrize("label", LABELS)
def test_icarus_runs_shorter(label):
    ic, ve = plan_for("icarus", label, env={}), plan_for("verilator", label, env={})
    assert ic.config == ve.config and ic.stimulus == ve.stimulus
    assert 0 < ic.samples < ve.samples and 0 < ic.infer <= ve.infer and ic.readbacks()[-1] == ic.samples - 1


def test_readbacks_include_the_last_sample():
    assert LongPlan("x", "small", 10031, 250, 0).readbacks()[-2:] == [9999, 10030]
    assert LongPlan("x", "small", 3, 250, 0).readbacks() == [2]
    assert whole_epochs(1433, 10_000) == 10031 and whole_epochs(4000, 4000) == 4000


def test_golden_folder_names_the_lengths():
    a, b = LongPlan("x", "small", 100, 10, 5), LongPlan("x", "small", 100, 20, 5)
    assert a.golden_name("small") == "small-data-n100-e10-i5" and a.golden_name("small") != b.golden_name("small")


def test_overrides_apply():
    p = overrides(LongPlan("small", "small", 10031, 250, 364), {"DRTP_LONG_SAMPLES": "40", "DRTP_LONG_INFER": "0"})
    assert (p.samples, p.every, p.infer) == (40, 250, 0)
    assert p.note == "overridden by DRTP_LONG_SAMPLES=40, DRTP_LONG_INFER=0"


@pytest.mark.parametrize("env, message", [
    ({"DRTP_LONG_SAMPLES": "0"}, "DRTP_LONG_SAMPLES must be a whole number of at least 1, not '0'"),
    ({"DRTP_LONG_SAMPLES": "1e4"}, "DRTP_LONG_SAMPLES must be a whole number of at least 1, not '1e4'"),
    ({"DRTP_LONG_EVERY": "-5"}, "DRTP_LONG_EVERY must be a whole number of at least 1, not '-5'"),
    ({"DRTP_LONG_INFER": "many"}, "DRTP_LONG_INFER must be a whole number of at least 0, not 'many'"),
])
def test_bad_overrides_are_one_sentence(env, message):
    with pytest.raises(LongPlanError) as exc:
        plan_for("icarus", "small", env=env)
    assert str(exc.value) == message


def test_bad_label_and_simulator():
    with pytest.raises(LongPlanError, match=r"^long run label must be one of small, stress, paper, not 'big'$"):
        plan_for("verilator", "big", env={})
    with pytest.raises(LongPlanError, match=r"^SIM must be icarus or verilator for a long run, not 'ghdl'$"):
        plan_for("ghdl", "small", env={})


PLAN = LongPlan("small", "small", 500, 250, 100)


def _report(**change) -> dict:
    """A bench report (test_long.long_run) of a passing run of PLAN."""
    r = {"ok": True, "mismatch": None, "samples": 600, "predictions": 600, "weights": 4 * 2410,
         "padding_weights": 4 * 66, "internal_values": 70000, "cycle_counts": 600, "protocol_checks": 600,
         "readbacks": 2, "sim_cycles": 700_000, "cycles_per_s": 300_000, "test_wall_s": 3.0,
         "train": {"samples": 500, "wall_s": 2.0, "cycles": 651_500, "sim_wall_s": 1.8, "cycles_per_s": 361_944},
         "infer": {"samples": 100, "wall_s": 0.3, "cycles": 66_600, "sim_wall_s": 0.25, "cycles_per_s": 266_400,
                   "rtl_accuracy": 0.83, "golden_accuracy": 0.83}}
    r.update(change)
    return r


def _record(report=None, model=None) -> dict:
    return results("verilator", PLAN, report or _report(), {"model_accuracy": model, "model_note": "n/a",
                                                             "load_start": 2.0, "load_end": 2.5})


def test_a_passing_record():
    rec = _record(model=0.83)
    assert failures(rec) == []
    assert rec["samples"] == {"train": 500, "infer": 100} and rec["predictions_compared"] == 600
    assert rec["weights_compared"] == 9640 and rec["weight_readbacks"] == 2 and rec["mismatches"] == 0
    assert rec["accuracy"] == {"rtl": 0.83, "golden_model": 0.83, "training_run": 0.83, "training_run_note": "n/a"}
    json.dumps(rec)   # the record is written as JSON
    line = summary_line(rec)
    assert line.startswith("[verilator long small] 500 training samples") and line.endswith("; ok")
    assert "361944 cycles/s" in line and "accuracy RTL 0.8300 / golden model 0.8300 / training run 0.8300" in line


def test_a_mismatch_is_the_benchs_sentence():
    text = "training sample 317: prediction expected 4, got 9 (golden output pre-activations [...])"
    rec = _record(_report(ok=False, mismatch=text))
    assert failures(rec) == [f"verilator long run small: {text}"] and rec["mismatches"] == 1
    assert summary_line(rec).endswith(f"FAILED: verilator long run small: {text}")


@pytest.mark.parametrize("report, model, sentence", [
    (_report(train={**_report()["train"], "samples": 499}), None,
     "verilator long run small: 499 train samples ran, the plan has 500"),
    (_report(infer={**_report()["infer"], "samples": 99}), None,
     "verilator long run small: 99 infer samples ran, the plan has 100"),
    (_report(readbacks=1), None, "verilator long run small: 1 weight read-backs during training, the plan has 2"),
    (_report(infer={**_report()["infer"], "rtl_accuracy": 0.82}), None,
     "verilator long run small: test accuracy RTL 0.82 differs from the golden model's 0.83"),
    (_report(), 0.84, "verilator long run small: test accuracy RTL 0.83 differs from the training run's 0.84 "
                      "(hwsim.train_loop.train_run, same seed and epochs)"),
])
def test_short_or_unequal_runs_fail(report, model, sentence):
    assert failures(_record(report, model)) == [sentence]


def test_golden_checkpoints_for_long_runs(tmp_path):
    """ensure_golden(checkpoints=...) writes full weights at those samples, and a set made with other
    checkpoints is regenerated, not reused."""
    from golden.reader import open_golden
    from simsetup import ensure_golden
    out = tmp_path / "g"
    ensure_golden("small", samples=12, infer=2, out=out, checkpoints="every:5")
    gs = open_golden(out)
    assert gs.meta.checkpoints == [4, 9, 11] and sorted(gs.checkpoints) == [4, 9, 11]
    assert all((a == b).all() for a, b in zip(gs.checkpoints[9], gs.weights_after(9)))
    ensure_golden("small", samples=12, infer=2, out=out)
    assert open_golden(out).meta.checkpoints == [11]


@pytest.mark.parametrize("width, signed", [(8, True), (63, False), (128, False), (128, True)])
def test_probe_words_wider_than_int64(width, signed):
    """The paper-size engine's probes hand over lane groups of 16 x 8 = 128 bits (monitor.lanes_of):
    split exactly, not overflowed into int64."""
    from monitor import lanes_of
    fields = [(1 << width) - 1, 1, (1 << (width - 1)) + 3, 0]
    word = sum(v << (i * width) for i, v in enumerate(fields))
    got = [int(v) for v in lanes_of(word, len(fields), width, signed)]
    assert got == [v - (1 << width) if signed and v >> (width - 1) else v for v in fields]
