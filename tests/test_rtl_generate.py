"""``python -m rtl.generate``: its outputs, its manifest, and its one-sentence errors (exit 2)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hwsim.config import load_config
from hwsim.params import initial_weights
from rtl.generate import main
from rtl.layer import weight_words
from rtl.schedule import cycles


ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "rtl.generate", *args], capture_output=True, text=True, cwd=ROOT)


def write_config(tmp_path, **changes):
    d = load_config("small").to_dict()
    d.update(changes)
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(d))
    return path


def assert_one_sentence(proc, start):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(start), proc.stderr


def test_unknown_config_file(tmp_path):
    proc = run_cli("--config", "configs/no-such.yaml", "-o", str(tmp_path))
    assert_one_sentence(proc, "error: config file 'configs/no-such.yaml' does not exist; give a YAML path or "
                              "one of: ")
    assert "small" in proc.stderr


def test_invalid_config_content(tmp_path):
    path = write_config(tmp_path, lanes="four")
    assert_one_sentence(run_cli("--config", str(path), "-o", str(tmp_path)),
                        "error: cfg.lanes must be an integer in 1..256, not 'four'")


@pytest.mark.parametrize("lanes", [0, 33, -1])
def test_lanes_outside_what_the_design_needs(tmp_path, lanes):
    proc = run_cli("--config", "configs/small.yaml", "--lanes", str(lanes), "-o", str(tmp_path))
    assert_one_sentence(proc, f"error: --lanes must be in 1..32 for topology [64, 32, 10] (each lane computes one "
                              f"neuron and the widest layer has 32), not {lanes}")


def test_formats_the_rtl_cannot_build(tmp_path):
    d = load_config("small").to_dict()
    d["topology"] = [300, 256, 10]
    d["lanes"] = 256
    d["layers"][0]["weight"] = {"format": "s8.24", "overflow": "sat"}
    d["layers"][0]["accumulator"] = {"bits": 48, "overflow": "wrap"}
    path = tmp_path / "wide.yaml"
    path.write_text(yaml.safe_dump(d))
    assert_one_sentence(run_cli("--config", str(path), "-o", str(tmp_path)),
                        "error: wide.layers[0].weight.format s8.24 with 256 lanes makes a 8192-bit weight-memory "
                        "word; the RTL builds words of at most 4096 bits, so use fewer lanes or narrower weights")


def test_layers_with_fewer_columns_than_lanes(tmp_path):
    d = load_config("small").to_dict()
    d["topology"] = [4, 16, 10]
    d["lanes"] = 8
    path = tmp_path / "narrow.yaml"
    path.write_text(yaml.safe_dump(d))
    assert_one_sentence(run_cli("--config", str(path), "-o", str(tmp_path)),
                        "error: narrow.layers[0] has 5 columns (n_in + bias) but 8 lanes; the RTL post-processes a "
                        "group's 8 neurons one per cycle while the next group accumulates, so it needs at least "
                        "as many columns as lanes: use at most 5 lanes")


def test_generates_verilog_init_files_and_manifest(tmp_path, capsys):
    out = tmp_path / "small-p8"
    assert main(["--config", "small", "--lanes", "8", "--seed", "3", "-o", str(out)]) == 0
    man = json.loads((out / "manifest.json").read_text())
    cfg = dataclasses.replace(load_config("small"), lanes=8)
    assert man["top"] == "drtp_engine" and man["parameters"]["lanes"] == 8
    # 8 beats; layer 0: 4 groups x 65 columns; layer 1: 2 groups x 33; forward tail 15 + P (the
    # pipeline steps to the modulatory signal, then the last group's lanes one per cycle), update
    # tail 14; finish
    assert man["cycles"]["schedule"] == "dense"
    assert man["cycles"]["train"] == cycles(cfg, True) == 8 + (260 + 23) + (260 + 14) + (66 + 23) + (66 + 14) + 1
    assert man["cycles"]["inference"] == cycles(cfg, False) == 8 + (260 + 23) + (66 + 23) + 1
    verilog = (out / man["verilog"]).read_text()
    assert "module drtp_engine(" in verilog and "always_ff" not in verilog and "logic " not in verilog
    assert 'initial $readmemh("layer0_weights.hex", bank0);' in verilog
    ports = {p["name"]: p for p in man["ports"]}
    assert ports["sample__payload"]["fields"]["pixels"] == {"offset": 0, "width": 64}
    assert ports["sample__payload"]["fields"]["label"]["offset"] == 64
    assert ports["wport__wdata"]["width"] == 64 and ports["pred"]["dir"] == "out"
    w = initial_weights(cfg, 3)
    for k in range(len(cfg.layers)):
        mem = man["layers"][k]["memories"]["weights"]
        lines = (out / mem["init"]).read_text().split()
        assert len(lines) == mem["depth"] == cfg.groups(k) * cfg.n_cols(k)
        first = weight_words(cfg, k, w[k])[0]
        width = cfg.layers[k].weight.width
        assert int(lines[0], 16) == sum((v & ((1 << width) - 1)) << (p * width) for p, v in enumerate(first))
    assert "P=8" in capsys.readouterr().out


# -- --weights RUN: start from a training run ---------------------------------------------------

@pytest.fixture
def run_folder(tmp_path):
    """A run folder as ``hwsim.train --out`` writes it (weights: initial of seed 5, word counter 12345)."""
    from hwsim.run_dir import save_run
    cfg = load_config("small")
    run = tmp_path / "run"
    save_run(run, cfg, {"mode": "fixed", "epochs": 1, "seed": 5, "dataset": cfg.dataset},
             initial_weights(cfg, 5), 12345)
    return run


def one_sentence(capsys, code, start):
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith(start), err


@pytest.mark.parametrize("args, start", [
    (["--weights", "{run}/missing.npz"], "error: --weights '{run}/missing.npz' does not exist (python -m hwsim.train "
                                          "--out RUN writes RUN/weights.npz)"),
    (["--weights", "{run}/config.yaml"], "error: --weights '{run}/config.yaml' must be a run folder or the "
                                          "weights.npz inside one"),
    (["--weights", "{run}/weights.npz", "--config", "paper-784-500-10"],
     "error: --weights '{run}/weights.npz' was trained with config 'small' (digest "),
    (["--weights", "{run}", "--lanes", "8"], "error: --weights '{run}' was trained with config 'small' (digest "),
    (["--weights", "{run}", "--seed", "1"], "error: --seed names initial weights; with --weights the weights are "
                                            "the run's"),
    ([], "error: give the engine: --config NAME|PATH, --bits N, or --weights RUN (a training run)"),
])
def test_weights_errors(run_folder, tmp_path, capsys, args, start):
    args = [a.format(run=run_folder) for a in args]
    one_sentence(capsys, main([*args, "-o", str(tmp_path / "out")]), start.format(run=run_folder))
    assert not (tmp_path / "out").exists()


def test_weights_of_a_float_run_or_a_folder_without_them(run_folder, tmp_path, capsys):
    record = json.loads((run_folder / "results.json").read_text())
    (run_folder / "results.json").write_text(json.dumps({**record, "mode": "float"}))
    code = main(["--weights", str(run_folder), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err == (f"error: --weights '{run_folder}' holds a float run; only fixed-point runs have "
                                 f"engine weights to load\n")
    (run_folder / "weights.npz").unlink()
    code = main(["--weights", str(run_folder), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"error: --weights '{run_folder}' has no weights.npz"), err
    assert not (tmp_path / "out").exists()


def test_weights_and_random_stream_of_a_run(run_folder, tmp_path, capsys):
    from hwsim.params import lane_reset_words, rng_word
    out = tmp_path / "out"
    assert main(["--weights", str(run_folder / "weights.npz"), "--config", "small", "-o", str(out)]) == 0
    assert "random stream at word 12345" in capsys.readouterr().out
    man = json.loads((out / "manifest.json").read_text())
    cfg = load_config("small")
    assert man["generator"]["weights"] == str(run_folder / "weights.npz") and man["generator"]["rng_word"] == 12345
    assert man["generator"]["weight_seed"] is None
    assert man["parameters"]["rng_lane_reset"] == lane_reset_words(cfg, 12345) == \
        [rng_word(cfg, 12345 + p) for p in range(cfg.lanes)]
    w = initial_weights(cfg, 5)
    for k in range(len(cfg.layers)):
        width = cfg.layers[k].weight.width
        words = [sum((v & ((1 << width) - 1)) << (p * width) for p, v in enumerate(lanes))
                 for lanes in weight_words(cfg, k, w[k])]
        assert [int(line, 16) for line in (out / f"layer{k}_weights.hex").read_text().split()] == words


def test_weight_writes_option_wording(tmp_path):
    proc = run_cli("--config", "configs/small.yaml", "--weight-writes", "bytes", "-o", str(tmp_path))
    assert_one_sentence(proc, "error: argument --weight-writes: invalid choice: 'bytes' (choose from")


@pytest.mark.parametrize("schedule,writes,expect", [
    ("event", "lanes", "lanes"), ("event", "word", "word"), ("dense", "lanes", "word"), ("dense", "word", "word")])
def test_weight_writes_in_the_manifest_and_the_ram(tmp_path, schedule, writes, expect):
    """``--weight-writes``: the manifest says what the weight RAMs do (dense writes whole words anyway), and
    the Verilog's weight RAM write enables are one per lane (16 + 1 bits) or one per word."""
    out = tmp_path / "rtl"
    assert main(["--config", "configs/small.yaml", "--schedule", schedule, "--weight-writes", writes,
                 "--no-weight-init", "-o", str(out)]) == 0
    man = json.loads((out / "manifest.json").read_text())
    assert man["parameters"]["weight_writes"] == expect
    text = (out / "drtp_engine.v").read_text()
    lanes = load_config("small").lanes
    assert (f"reg [{lanes - 1}:0] g0_we " in text) == (expect == "lanes")
    assert ("reg g0_we " in text) == (expect == "word")
