"""The bench's checker and port map, without a simulator: the wording of a mismatch and of a bad manifest."""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path

import numpy as np
import pytest
from bench import PORT_NAMES, Checker, EnginePorts, EngineTB, ManifestError  # cocotb_tests/, on pytest's pythonpath

from golden.reader import open_golden
from hwsim.config import load_config

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def golden():
    return open_golden(ROOT / "golden" / "small")


def manifest(cfg, **drop) -> dict:
    ports = [{"name": n, "dir": "in", "width": 1} for n in PORT_NAMES.values()]
    for p in ports:
        if p["name"] == "sample__payload":
            p["fields"] = {"pixels": {"offset": 0, "width": 32}, "label": {"offset": 32, "width": 4},
                           "train": {"offset": 36, "width": 1}}
    ports = [p for p in ports if p["name"] not in drop.get("ports", ())]
    return {"config": {"digest": drop.get("digest", cfg.digest())}, "ports": ports,
            "cycles": {"train": 1261, "inference": 640}}


def test_weight_mismatch_names_sample_layer_neuron_input_and_values(golden, tmp_path):
    report = tmp_path / "r.json"
    chk = Checker(golden, str(report), logging.getLogger("t"))
    expected = golden.weights_after(17)[0]
    got = expected.copy()
    got[5, 12] += 1
    got[30, 64] -= 2
    assert not chk.weights_equal("training", 17, 0, got, expected, lanes=4)
    z, d = golden.train_z[0][17, 5], golden.train_delta[0][17, 5]
    assert chk.first.text == (
        f"training sample 17: layer 0 weight [neuron 5, input 12] (RAM address 77, lane 1) expected "
        f"{expected[5, 12]}, got {expected[5, 12] + 1}; 2 of 2080 weights of layer 0 differ; "
        f"golden z={z}, delta={d} for neuron 5 in that sample")
    assert chk.weights_equal("training", 18, 1, expected[:10, :33] * 0, expected[:10, :33] * 0, 4)
    chk.write({"simulator": "none"})
    r = json.loads(report.read_text())
    assert r["ok"] is False and r["details"]["neuron"] == 5 and r["details"]["input"] == 12
    assert r["weights"] == 2080 + 330


def test_prediction_and_cycle_mismatch_wording(golden):
    chk = Checker(golden, None, logging.getLogger("t"))
    chk.prediction("inference", 3, 7, 2, np.array([1, -2, 30]))
    chk.cycles("training", 4, 1262, 1261)   # only the first difference is kept
    assert chk.first.text == ("inference sample 3: prediction expected 2, got 7 "
                              "(golden output pre-activations [1, -2, 30])")


def test_port_map_from_manifest(golden):
    ports = EnginePorts.from_manifest(golden.cfg, manifest(golden.cfg))
    assert (ports.lanes, ports.beats, ports.groups, ports.n_cols) == (4, 16, (8, 3), (65, 33))
    assert (ports.label_lsb, ports.train_lsb, ports.cycles_train, ports.cycles_infer) == (32, 36, 1261, 640)


def test_manifest_for_another_config(golden):
    with pytest.raises(ManifestError) as exc:
        EnginePorts.from_manifest(golden.cfg, manifest(golden.cfg, digest="0123456789abcdef"))
    assert str(exc.value) == (f"the RTL was generated for config digest 0123456789abcdef, but the golden set is "
                              f"for 'small' (digest {golden.cfg.digest()}); regenerate one of them")


def test_manifest_without_a_port(golden):
    with pytest.raises(ManifestError, match="^the RTL manifest lists no port 'wport__rvalid'; the bench drives "):
        EnginePorts.from_manifest(golden.cfg, manifest(golden.cfg, ports=("wport__rvalid",)))


def test_beats_and_words_follow_the_rtl_layout(golden):
    """Beat and weight-word packing agree with rtl.layer.weight_words (lane p of word g*n_cols+i)."""
    from rtl.layer import weight_words
    cfg = load_config("small")
    ports = EnginePorts.from_manifest(cfg, manifest(cfg))
    tb = EngineTB.__new__(EngineTB)
    tb.p = ports
    tb.junk = random.Random(1)     # the bench fills non-last beats' label/train with junk (ignored by the engine)
    w = golden.init_weights[1]
    words = tb._words(1, w)
    ref = weight_words(cfg, 1, w)
    for word, lanes in zip(words, ref):
        assert [((word >> (8 * p)) & 0xFF) - (256 if (word >> (8 * p + 7)) & 1 else 0) for p in range(4)] == lanes
    beats = tb._beats(golden.train_x[0], 9, True)
    assert len(beats) == 16 and beats[-1] >> 32 == 9 | 16          # label and train from the last beat
    assert any(b >> 32 != 9 | 16 for b in beats[:-1])             # the others carry junk
    assert [(beats[1] >> (8 * p)) & 0xFF for p in range(4)] == list(golden.train_x[0][4:8])
