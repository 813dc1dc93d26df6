"""Sweep specs: value parsing, knobs applied to configs, float-baseline sharing, and bad specs (exit 2)."""

from __future__ import annotations

import pytest

from hwsim.config import CONFIG_DIR
from hwsim.sweep import SweepError, expand, load_spec, spec_from_dict
from hwsim.sweep.__main__ import main
from hwsim.sweep.knobs import apply_path
from hwsim.sweep.spec import parse_values

DIGITS = {"bits": 8, "hidden": 16, "dataset": "digits8x8"}


def _spec(grid, **kw):
    return spec_from_dict({"base": dict(DIGITS), "epochs": 2, "grid": grid, **kw})


@pytest.mark.parametrize("raw, expected", [
    ([2, 4, 8], (2, 4, 8)),
    ("2..5", (2, 3, 4, 5)),
    ("2..16:4", (2, 6, 10, 14)),
    ("4,2,4,8", (4, 2, 8)),          # command-line text, duplicates dropped, order kept
    (6, (6,)),
])
def test_parse_values(raw, expected):
    assert parse_values("weight_bits", raw) == expected


def test_parse_values_sizes_and_enums():
    assert parse_values("hidden", "100,500-500") == ("100", "500-500")
    assert parse_values("topology", [[64, 16, 10], "64-32-10"]) == ("64-16-10", "64-32-10")
    assert parse_values("update_rounding", "trn,stoch") == ("trn", "stoch")


def test_seeds_count_or_list():
    assert _spec({}, seeds=3).seeds == (0, 1, 2)
    assert _spec({}, seeds=[5, 7]).seeds == (5, 7)
    assert _spec({"seed": "1..2"}).seeds == (1, 2)


def _layer_formats(point):
    return [layer["weight"]["format"] for layer in point.config["layers"]]


def test_width_knobs_keep_integer_bits():
    points = expand(_spec({"weight_bits": [4], "act_bits": [6], "error_bits": [5]}, float_baseline=False))
    cfg = points[0].config
    assert _layer_formats(points[0]) == ["s0.4", "s1.3"]
    assert [layer["activation"]["format"] for layer in cfg["layers"]] == ["s1.5", "u1.5"]
    assert [layer["preact"]["format"] for layer in cfg["layers"]] == ["s2.5", "s2.5"]
    assert cfg["layers"][-1]["error"]["format"] == "s2.3"
    # accumulators are re-derived for the new widths (exact: products + log2(n_cols) + 1)
    assert cfg["layers"][0]["accumulator"]["bits"] == 4 + 8 + 1 + 7 + 1


def test_rule_and_path_knobs():
    pts = expand(_spec({"update_rounding": ["trn"], "hidden_shift": [8], "layers.*.update.rule": ["sign"]},
                       float_baseline=False))
    ups = [layer["update"] for layer in pts[0].config["layers"]]
    assert [u["rounding"] for u in ups] == ["trn", "trn"]
    default = expand(_spec({}, float_baseline=False))[0].config["layers"]
    assert [u["shift"] for u in ups] == [8, default[-1]["update"]["shift"]]   # the output layer keeps its own
    assert [u["rule"] for u in ups] == ["sign", "sign"]


def test_apply_path_walks_lists():
    d = {"layers": [{"update": {"shift": 1}}, {"update": {"shift": 2}}], "init": {}}
    apply_path(d, "layers.1.update.shift", 9)
    apply_path(d, "init.scale", 0.5)
    assert d == {"layers": [{"update": {"shift": 1}}, {"update": {"shift": 9}}], "init": {"scale": 0.5}}


def test_points_ids_and_float_sharing():
    spec = _spec({"weight_bits": [3, 4]}, seeds=2)
    points = expand(spec)
    modes = [p.mode for p in points]
    assert modes == ["float"] * 2 + ["fixed"] * 4          # one float baseline per seed, run first
    assert len({p.id for p in points}) == len(points)
    assert [p.id for p in expand(spec)] == [p.id for p in points]   # ids are stable
    assert len({p.float_key for p in points}) == 1
    # a learning-rate shift changes the float twin too: one baseline per value and seed
    points = expand(_spec({"hidden_shift": [8, 10]}, seeds=2))
    assert sum(p.mode == "float" for p in points) == 4


def test_recipe_knobs_rebuild_the_engine():
    points = expand(_spec({"bits": [4, 6], "hidden": ["8", "8-8"]}, float_baseline=False))
    assert [p.config["topology"] for p in points] == [[64, 8, 10], [64, 8, 8, 10]] * 2
    assert points[0].config["layers"][0]["weight"]["format"] == "s0.4"


@pytest.mark.parametrize("name", sorted(p.stem for p in (CONFIG_DIR / "sweeps").glob("*.yaml")))
def test_shipped_specs_expand(name):
    points = expand(load_spec(name))
    assert points and all(p.epochs <= 20 for p in points)


# -- bad specs: one sentence, exit 2, before any work --------------------------------------------

BAD = [
    (["--grid", "weight_bitz=2,4"], "error: unknown knob 'weight_bitz'; knobs are bits, hidden,"),
    (["--grid", "weight_bits=8..2"], "error: knob weight_bits has an empty range '8..2'; write it low..high like 2..8"),
    (["--grid", "weight_bits="], "error: knob weight_bits has an empty range; give at least one value"),
    (["--grid", "weight_bits=1,4"], "error: invalid value 1 for knob weight_bits: it takes integers in 2..32"),
    (["--grid", "update_rounding=nearest"],
     "error: invalid value 'nearest' for knob update_rounding: it takes one of trn, rnd, rnd_conv, stoch"),
    (["--grid", "layers.*.update.shiftt=3"],
     "error: invalid value 3 for knob layers.*.update.shiftt: unknown config key 'config.layers[0].update.shiftt'"),
    (["--grid", "layers.4.update.shift=3"],
     "error: invalid value 3 for knob layers.4.update.shift: the config has no layers.4"),
    (["--grid", "topology=784-100-10"],
     "error: invalid value '784-100-10' for knob topology: topology starts with 784 inputs but data set digits8x8"),
    (["--grid", "weight_bits=4", "--seeds", "0..-1"], "error: knob seed has an empty range '0..-1'"),
    (["--grid", "noequals"], "error: --grid takes KNOB=VALUES like weight_bits=2,4,8, not 'noequals'"),
]


@pytest.mark.parametrize("extra, message", BAD, ids=[b[1].split(":")[1][:30] for b in BAD])
def test_bad_spec_exit_2(tmp_path, capsys, extra, message):
    out = tmp_path / "out"
    argv = ["--bits", "8", "--hidden", "16", "--dataset", "digits8x8", "--epochs", "1", "--out", str(out), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(message), err
    assert err.count("\n") == 1
    assert not out.exists()  # nothing started


def test_bad_combination_names_the_values(tmp_path, capsys):
    # weight_bits=20 alone fits a 25-bit accumulator of configs/small.yaml; the spec file fixes it there
    assert main(["--config", "small", "--grid", "weight_bits=4,20", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: invalid value 20 for knob weight_bits: config.layers[0].accumulator.bits is 25, "
                          "too narrow for its 20-bit x 8-bit products")


@pytest.mark.parametrize("d, message", [
    ({"grid": {"weight_bits": [4]}, "bogus": 1}, "unknown key 'bogus' in sweep spec; allowed keys are name, base"),
    ({"base": {"config": "small", "bits": 4}}, "sweep spec base with a config file takes no other keys"),
    ({"base": {"config": "small"}, "grid": {"bits": [4]}}, "knob bits rebuilds the engine and needs a derived base"),
    ({"grid": {"seed": [1]}, "seeds": 2}, "sweep spec gives seeds twice"),
    ({"grid": [1, 2]}, "sweep spec grid must map knob names to value lists"),
    ({"fixed": False, "float_baseline": False}, "sweep spec runs nothing"),
])
def test_bad_spec_dicts(d, message):
    with pytest.raises(SweepError) as info:
        spec_from_dict(d)
    assert str(info.value).startswith(message)


def test_missing_spec_file_lists_the_shipped_ones(capsys):
    assert main(["no-such-sweep", "--dry-run"]) == 2
    assert "one of: " in capsys.readouterr().err


def test_dry_run_lists_points(capsys):
    assert main(["smoke-digits", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "weight_bits[3] x 2 seeds = 6 engine runs + 2 float baseline runs" in out
    assert out.count("fixed weight_bits=") == 6


def test_configs_with_one_float_view_train_the_same_float_twin():
    """The float baseline is shared by float_view: configs that differ only in widths/rounding/rule
    must give the float twin identical results (else sharing would be wrong)."""
    from hwsim.config import config_from_dict
    from hwsim.datasets import load_dataset
    from hwsim.train_loop import train_run

    points = expand(_spec({"weight_bits": [3], "update_rounding": ["trn"], "update_rule": ["sign"],
                           "act_bits": [4]}, float_baseline=False))
    plain = expand(_spec({}, float_baseline=False))
    assert points[0].float_key == plain[0].float_key and points[0].digest != plain[0].digest
    data = load_dataset("digits8x8")
    runs = [train_run(config_from_dict(p.config), data, 1, 0, use_float=True)[0] for p in (points[0], plain[0])]
    assert runs[0].test_acc == runs[1].test_acc and runs[0].online_acc == runs[1].online_acc
