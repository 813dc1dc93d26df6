"""rtl.estimate with data: per-sample counts of a test set from the fast engine.

Dense figures must be the closed form for every sample; event figures must equal a recount from the
reference engine's per-sample counts, started from the same state; the options that choose the data
(--dataset, --samples, --weights, --seed, --no-data, --lanes) fail with one sentence and exit 2.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from hwsim.config import config_for_bits, load_config
from hwsim.cycles import SampleCounts, sample_cycles
from hwsim.datasets import load_dataset, quantize_inputs
from hwsim.params import initial_weights
from hwsim.reference import ReferenceEngine
from hwsim.run_dir import save_run
from hwsim.train_loop import epoch_order
from rtl.estimate import energy, ops
from rtl.estimate.__main__ import main
from rtl.estimate.report import estimate
from rtl.estimate.workload import TEST_EPOCH, run_workload

# 64-8-10 on the 8x8 digits, 4 lanes: layer 0 has 2 groups x 65 columns, layer 1 3 groups x 9 columns.
EVENT = config_for_bits(8, (64, 8, 10), lanes=4, dataset="digits8x8")
DENSE = config_for_bits(8, (64, 8, 10), lanes=4, dataset="digits8x8", schedule="dense")
N = 24


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits8x8")


def _after_one_epoch(cfg, data, seed):
    """The start state run_workload uses: initial weights trained one epoch (the fast engine)."""
    from hwsim.fast import Engine
    eng = Engine(cfg, initial_weights(cfg, seed))
    eng.train(quantize_inputs(data.x_train, cfg.input), data.y_train, epoch_order(seed, 0, data.n_train))
    return eng.weights(), eng.rng_word


def _stats(values, nd):
    v = np.asarray(values, dtype=np.float64)
    return {"mean": round(float(v.mean()), nd), "p50": round(float(np.median(v)), nd),
            "p99": round(float(np.percentile(v, 99)), nd)}


def test_dense_figures_are_the_closed_form(digits):
    w = run_workload(DENSE, digits, samples=N)
    got, closed = estimate(DENSE, workload=w), estimate(DENSE)
    assert w.samples == N and w.inference.train.sum() == 0 and w.train.train.all()
    for mode in ("inference", "train"):
        c, e = closed["cycles"][mode], closed[f"energy_nj_{mode}"]
        assert got["per_sample"][mode] == {"cycles": {"mean": c, "p50": c, "p99": c},
                                           "energy_nj": {"mean": e, "p50": e, "p99": e}}
        assert got["cycles"][mode] == c and got[f"energy_nj_{mode}"] == e
        assert got[f"energy_pj_{mode}"] == closed[f"energy_pj_{mode}"]
        assert got[f"ops_{mode}"] == closed[f"ops_{mode}"]
    assert {k: v for k, v in got["learning_overhead"].items()} == closed["learning_overhead"]
    assert got["basis"] == "digits8x8 test set, 24 samples" and "workload" not in closed


def _recount(cfg, traces, train):
    """Cycles and energy (pJ) of each traced sample, one sample at a time."""
    cycles, pj = [], []
    for t in traces:
        c = SampleCounts.empty(cfg, 1)
        c.train[:], c.load[:] = train, t.load
        for f in ("events", "active", "visits", "writes", "changes"):
            getattr(c, f)[0] = getattr(t, f)
        cycles.append(sample_cycles(cfg, t.load, t.events, t.visits, train))
        pj.append(float(energy.energy_pj(ops.sample_ops(cfg, c))[0]))
    return cycles, pj


def test_event_figures_equal_a_recount_from_the_reference(digits):
    seed = 3
    w = run_workload(EVENT, digits, samples=N, seed=seed)
    got = estimate(EVENT, workload=w)
    weights, rng_word = _after_one_epoch(EVENT, digits, seed)
    ref = ReferenceEngine(EVENT, weights, rng_word)
    order = epoch_order(seed, TEST_EPOCH, digits.n_test)[:N]
    x = quantize_inputs(digits.x_test, EVENT.input)
    inferred = [ref.run(x[i], 0, train=False) for i in order]
    trained = [ref.run(x[i], int(digits.y_test[i]), train=True) for i in order]
    for mode, traces, counts in (("inference", inferred, w.inference), ("train", trained, w.train)):
        for f in ("load", "events", "active", "visits", "writes", "changes"):
            assert getattr(counts, f).tolist() == [getattr(t, f) for t in traces], (mode, f)
        cycles, pj = _recount(EVENT, traces, mode == "train")
        assert got["per_sample"][mode] == {"cycles": _stats(cycles, 1),
                                           "energy_nj": _stats(np.array(pj) / 1000, 3)}
    # the events really skip work: fewer cycles and less energy than the closed form, and samples differ
    closed = estimate(EVENT)
    for mode in ("inference", "train"):
        assert got["cycles"][mode] < closed["cycles"][mode]
        assert got[f"energy_nj_{mode}"] < closed[f"energy_nj_{mode}"]
        assert got["per_sample"][mode]["cycles"]["p99"] > got["per_sample"][mode]["cycles"]["p50"]
    act = got["workload"]["activity"]["train"]
    assert all(v <= e * a for v, e, a in zip(act["visits"], act["events"], [2, 3]))


def test_weights_from_a_run_folder_give_the_same_figures(digits, tmp_path, capsys):
    seed = 5
    weights, rng_word = _after_one_epoch(EVENT, digits, seed)
    run = tmp_path / "run"
    save_run(run, EVENT, {"mode": "fixed", "epochs": 1, "seed": seed, "dataset": "digits8x8"}, weights, rng_word)
    direct = estimate(EVENT, workload=run_workload(EVENT, digits, samples=N, seed=seed))
    out = tmp_path / "est"
    assert main(["--weights", str(run), "--samples", str(N), "--seed", str(seed), "-o", str(out)]) == 0
    (res,) = json.loads((out / "estimate.json").read_text())
    assert res["per_sample"] == direct["per_sample"]
    assert res["workload"]["start"].startswith(f"the weights of run {run} (trained 1 epoch on digits8x8, seed 5")
    assert "test samples of digits8x8 counted in" in capsys.readouterr().err


def test_cli_reports_mean_p50_p99_per_config_and_lane_count(tmp_path):
    out = tmp_path / "est"
    assert main(["--config", "small", "--schedule", "dense,event", "--lanes", "2,4", "--samples", "16",
                 "-o", str(out)]) == 0
    res = json.loads((out / "estimate.json").read_text())
    assert [(r["config"], r["schedule"], r["lanes"]) for r in res] == [
        ("small+dense-P2", "dense", 2), ("small+dense-P4", "dense", 4), ("small+event-P2", "event", 2),
        ("small+event-P4", "event", 4)]
    for r in res:
        assert r["workload"]["samples"] == 16 and r["workload"]["dataset"] == "digits8x8"
        assert "trained one epoch over the 1,433 training samples of digits8x8" in r["workload"]["start"]
        for mode in ("inference", "train"):
            s = r["per_sample"][mode]
            assert s["cycles"]["mean"] == r["cycles"][mode] and s["energy_nj"]["mean"] == r[f"energy_nj_{mode}"]
        lo = r["learning_overhead"]
        assert lo["energy_ratio"] == pytest.approx(r["energy_nj_train"] / r["energy_nj_inference"], abs=2e-3)
        power = (r["energy_nj_train"] / r["cycles"]["train"]) / (r["energy_nj_inference"] / r["cycles"]["inference"])
        assert lo["power_pct_same_clock"] == pytest.approx(100 * (power - 1), abs=0.2)
    md = (out / "estimate.md").read_text()
    assert "| small+event-P4 | event | 4 | digits8x8 test set, 16 samples | " in md
    assert md.count("| SPOON (28 nm) |") == 4


FAKE_SYNTH = {"gates": {"nand2_eq": 1000.0, "flip_flops": 10, "learning_nand2_eq": 150.0, "blocks_nand2_eq": {
    "layer0": 400.0, "layer0.mac": 200.0, "layer0.update": 100.0, "layer1": 300.0, "layer1.mac": 100.0,
    "rng": 50.0, "argmax": 20.0}}}


def test_gate_weighted_energy_follows_the_counts(digits):
    dense = run_workload(DENSE, digits, samples=N)
    assert estimate(DENSE, FAKE_SYNTH, workload=dense)["synth_energy"] == estimate(DENSE, FAKE_SYNTH)["synth_energy"]
    event = estimate(EVENT, FAKE_SYNTH, workload=run_workload(EVENT, digits, samples=N))["synth_energy"]
    closed = estimate(EVENT, FAKE_SYNTH)["synth_energy"]
    for key in ("logic_inference_nj", "logic_train_nj", "sram_inference_nj", "sram_train_nj"):
        assert 0 < event[key] < closed[key], key


CLI_ERRORS = [  # (arguments after --config small unless they name their own, the one sentence after "error: ")
    (["--no-data", "--samples", "5"], "--no-data counts no data set, so --samples cannot be given with it"),
    (["--no-data", "--weights", "x"], "--no-data counts no data set, so --weights cannot be given with it"),
    (["--dataset", "nope"], "unknown data set 'nope'; allowed data sets are mnist5k, digits8x8, mnist, "
                            "fashion-mnist, cifar10"),
    (["--dataset", "mnist5k"], "topology starts with 64 inputs but data set mnist5k has 784 pixels per image; "
                               "use a config whose first layer has 784 inputs"),
    (["--data-dir", "/nowhere"], "data set digits8x8 is built in and takes no data_dir, not '/nowhere'"),
    (["--weights", "/nowhere"], "--weights '/nowhere' is not a run folder (python -m hwsim.train --out writes one)"),
    (["--samples", "0"], "argument --samples: must be an integer >= 1, not 0 (see --help)"),
    (["--seed", "-1"], "argument --seed: must be an integer in 0..4294967295, not -1 (see --help)"),
    (["--lanes", "0"], "argument --lanes: must be integers in 1..256 like 8, 4,6,8 or 2..16, not '0' (see --help)"),
    (["--lanes", "64"], "--lanes must be in 1..32 for topology [64, 32, 10] (each lane computes one neuron and "
                        "the widest layer has 32), not 64"),
    (["--schedule", "sparse"],
     "argument --schedule: must be a comma-separated subset of dense,event, not 'sparse' (see --help)"),
    (["--config", "small@8+dense", "--schedule", "event"],
     "--schedule applies to configs without a +SCHEDULE suffix, not 'small@8+dense'; give one or the other"),
]


@pytest.mark.parametrize("args, message", CLI_ERRORS, ids=[
    "no-data-samples", "no-data-weights", "dataset-unknown", "dataset-topology", "data-dir-builtin",
    "weights-missing", "samples-0", "seed-negative", "lanes-0", "lanes-too-many", "schedule-unknown",
    "schedule-and-suffix"])
def test_cli_bad_data_option_is_one_sentence_exit_2(args, message, tmp_path, capsys):
    out = tmp_path / "est"
    try:
        code = main(["--config", "small", *args, "-o", str(out)])
    except SystemExit as exc:          # argparse's own errors
        code = exc.code
    assert code == 2
    assert capsys.readouterr().err == f"error: {message}\n"
    assert not out.exists()


def test_cli_needs_a_config_or_a_run(tmp_path, capsys):
    assert main(["-o", str(tmp_path / "est")]) == 2
    assert capsys.readouterr().err == "error: name a config with --config NAME (or a trained run with --weights RUN)\n"


def test_cli_weights_of_another_engine_is_one_sentence(tmp_path, capsys):
    run = tmp_path / "run"
    save_run(run, EVENT, {"mode": "fixed", "epochs": 0, "seed": 0, "dataset": "digits8x8"},
             initial_weights(EVENT, 0), 0)
    assert main(["--config", "small", "--weights", str(run), "-o", str(tmp_path / "est")]) == 2
    assert capsys.readouterr().err == (
        f"error: --weights '{run}' holds weights of config {EVENT.name}, which differs from small in more than "
        f"name, data set, epochs, lanes and schedule; estimate {EVENT.name} (or name its config.yaml) instead\n")
    assert not (tmp_path / "est").exists()


def test_run_weights_fit_other_schedules_and_lanes(tmp_path, digits):
    cfg = load_config("small")
    run = tmp_path / "run"
    save_run(run, cfg, {"mode": "fixed", "epochs": 0, "seed": 0, "dataset": "digits8x8"}, initial_weights(cfg, 0), 0)
    out = tmp_path / "est"
    assert main(["--config", "small+event", "--weights", str(run), "--lanes", "2", "--samples", "4",
                 "-o", str(out)]) == 0
    (res,) = json.loads((out / "estimate.json").read_text())
    assert res["config"] == "small+event-P2" and res["workload"]["start"].startswith("the weights of run")


def test_write_baseline_keeps_the_closed_form(tmp_path, monkeypatch):
    from rtl.estimate import baseline
    monkeypatch.setattr(baseline, "BASELINE_DIR", tmp_path)
    assert main(["--config", "small+event", "--samples", "4", "--write-baseline", "-o", str(tmp_path / "est")]) == 0
    stored = json.loads((tmp_path / "small+event.json").read_text())["metrics"]
    closed = estimate(load_config("small").with_schedule("event"))
    assert stored["energy_nj_train"]["value"] == closed["energy_nj_train"]
    assert stored["cycles.train"]["value"] == closed["cycles"]["train"]
