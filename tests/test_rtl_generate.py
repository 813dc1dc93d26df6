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
    # 8 beats; layer 0: 4 groups x 65 columns; layer 1: 2 groups x 33; forward tail 2 + P (the last
    # group's lanes post-processed one per cycle), update tail 1; finish
    assert man["cycles"]["train"] == cycles(cfg, True) == 8 + (260 + 10) + (260 + 1) + (66 + 10) + (66 + 1) + 1
    assert man["cycles"]["inference"] == cycles(cfg, False) == 8 + 270 + 76 + 1
    verilog = (out / man["verilog"]).read_text()
    assert "module drtp_engine(" in verilog and "always_ff" not in verilog and "logic " not in verilog
    assert 'initial $readmemh("layer0_weights.hex", weights);' in verilog
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
