"""Engine configs: named configs load, --bits derivation, and every bad field gets one clear sentence."""

import copy
import dataclasses
import math
from pathlib import Path

import pytest
import yaml

from hwsim.config import (CONFIG_DIR, DEFAULT_LANES, TERNARY, ErrorSignal, config_for_bits, config_from_dict,
                          default_acc_bits, load_config)
from hwsim.formats import ConfigError, FixedFormat, parse_format

ENGINE_MD = Path(__file__).resolve().parent.parent / "docs" / "engine.md"


@pytest.mark.parametrize("path", sorted(CONFIG_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_named_configs_load_and_round_trip(path):
    cfg = load_config(path)
    again = config_from_dict(yaml.safe_load(cfg.dump_yaml()))
    assert again.to_dict() == cfg.to_dict() and again.digest() == cfg.digest()


@pytest.mark.parametrize("bits", [2, 3, 4, 6, 8, 12, 16, 24])
def test_config_for_bits(bits):
    cfg = config_for_bits(bits, (784, 100, 10))
    assert cfg.layers[0].weight.width == bits and cfg.layers[0].act.width == bits
    assert cfg.input.width == min(bits, 8)
    # exact accumulators: products plus a carry bit per doubling of the column count
    for k, layer in enumerate(cfg.layers):
        assert cfg.acc_format(k).width >= (layer.weight.width + cfg.in_format(k).width
                                          + math.ceil(math.log2(cfg.n_cols(k))))


def test_load_by_name():
    assert load_config("small").topology == (64, 32, 10)


def _small():
    return yaml.safe_load((CONFIG_DIR / "small.yaml").read_text())


def _set(d, path, value):
    node = d
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return d


_DELETE = object()

BAD = [
    (("colour",), "red", "unknown config key 'config.colour'; allowed keys there are: bias, dataset"),
    (("layers", 0, "weight", "fromat"), "s1.7", "unknown config key 'config.layers[0].weight.fromat'"),
    (("layers", 0, "weight", "format"), "s20.20", "config.layers[0].weight.format: format s20.20 has width 40; "
                                                  "allowed widths are 2..32 bits"),
    (("layers", 0, "weight", "format"), "u0.8", "config.layers[0].weight.format must be signed, not u0.8"),
    (("layers", 0, "accumulator", "bits"), 12, "config.layers[0].accumulator.bits is 12, too narrow for its "
                                               "8-bit x 8-bit products, which need 17 bits"),
    (("layers", 1, "preact", "rounding"), "stoch", "config.layers[1].preact.rounding 'stoch' is allowed only for "
                                                   "updates"),
    (("layers", 0, "activation", "kind"), "sigmoid", "config.layers[0].activation.kind must be one of "
                                                     "clipped_relu, hard_tanh, hard_sigmoid, not 'sigmoid'"),
    (("layers", 0, "activation", "kind"), "hard_sigmoid", "hard_sigmoid is for the output layer"),
    (("layers", 0, "update", "rule"), "adam", "config.layers[0].update.rule must be one of shift, sign"),
    (("layers", 0, "update", "shift"), -1, "config.layers[0].update.shift must be an integer in 0..40, not -1"),
    (("layers", 1, "error"), _DELETE, "config key 'config.layers[1].error' is missing"),
    (("topology",), [64, 10], "config.layers must list 1 layers (one per weight layer of topology [64, 10])"),
    (("topology",), [64, 0, 10], "config.topology entries must be an integer in 1..65536, not 0"),
    (("input", "format"), "s1.7", "config.input.format must be unsigned (pixels are >= 0), not s1.7"),
    (("lanes",), 0, "config.lanes must be an integer in 1..256, not 0"),
    (("lanes",), 33, "config.lanes must be in 1..32 for topology [64, 32, 10] (each lane computes one neuron "
                     "and the widest layer has 32), not 33"),
    (("input", "rounding"), "stoch", "config.input.rounding 'stoch' is allowed only for updates; use trn, rnd "
                                     "or rnd_conv"),
    (("random_vectors", "lfsr_bits"), 40, "config.random_vectors.lfsr_bits must be an LFSR width in 8..24, not 40"),
    (("random_vectors", "seeds"), [0], "config.random_vectors.seeds entries must be an integer in 1..65535, not 0"),
    (("stochastic_rng", "seed"), 0, "config.stochastic_rng.seed must be an integer in 1..65535, not 0"),
    (("init", "kind"), "he", "config.init.kind must be one of uniform, zero, not 'he'"),
]


@pytest.mark.parametrize("path, value, message", BAD, ids=[".".join(map(str, b[0])) for b in BAD])
def test_bad_config_one_sentence(path, value, message):
    d = _set(copy.deepcopy(_small()), path, value)
    with pytest.raises(ConfigError) as info:
        config_from_dict(d)
    text = str(info.value)
    assert message in text
    assert "\n" not in text


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="config file 'nope.yaml' does not exist; give a YAML path or one of: "):
        load_config("nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("topology: [1, 2\n")
    with pytest.raises(ConfigError, match=r"config file '.*bad.yaml' is not valid YAML at line"):
        load_config(bad)


# -- lanes: one rule, the RTL's, applied at load and to every --lanes flag ---------------------

def test_lanes_with_fewer_columns_than_lanes():
    d = _set(_set(_small(), ("topology",), [4, 32, 10]), ("lanes",), 8)
    with pytest.raises(ConfigError) as info:
        config_from_dict(d, origin="narrow")
    assert str(info.value) == ("narrow.layers[0] has 5 columns (n_in + bias) but 8 lanes; the RTL post-processes "
                               "a group's 8 neurons one per cycle while the next group accumulates, so it needs "
                               "at least as many columns as lanes: use at most 5 lanes")


def test_lanes_default_is_16_or_the_most_the_topology_allows():
    d = _set(_small(), ("lanes",), _DELETE)
    assert DEFAULT_LANES == 16
    assert config_from_dict(_set(copy.deepcopy(d), ("topology",), [64, 40, 10])).lanes == 16
    assert config_from_dict(d).lanes == 16
    assert config_from_dict(_set(d, ("topology",), [64, 12, 10])).lanes == 12   # the widest layer
    assert config_for_bits(8, (784, 7, 10)).lanes == 8   # layer 1 has 7 + 1 columns


@pytest.mark.parametrize("topology", [(64, 32, 10), (784, 500, 10), (4, 16, 10), (300, 600, 10)])
def test_max_lanes_is_exactly_where_check_lanes_starts_refusing(topology):
    cfg = config_for_bits(8, topology)
    top = cfg.max_lanes()
    cfg.with_lanes(top)
    with pytest.raises(ConfigError, match=r"^(lanes must be|layers\[\d\] )"):
        cfg.with_lanes(top + 1)
    with pytest.raises(ConfigError, match=r"^lanes must be"):
        cfg.with_lanes(0)


def test_flag_and_file_share_the_limit():
    with pytest.raises(ConfigError, match=r"^--lanes must be in 1\.\.32 for topology \[64, 32, 10\]"):
        load_config("small").with_lanes(200, "--lanes")
    with pytest.raises(ConfigError, match=r"^lanes must be in 1\.\.32 for topology \[64, 32, 10\]"):
        config_for_bits(8, (64, 32, 10), lanes=200)
    with pytest.raises(ConfigError, match=r"^lanes must be in 1\.\.32"):
        dataclasses.replace(load_config("small"), lanes=200).check_buildable()


# -- derived rules -----------------------------------------------------------------------------

def test_derived_rules():
    cfg = load_config("small")
    assert [cfg.is_output(k) for k in range(2)] == [False, True] and list(cfg.hidden_layers) == [0]
    assert cfg.delta_is_ternary(0) and not cfg.delta_is_ternary(1)
    assert cfg.delta_format(0) == TERNARY and cfg.delta_format(1) == cfg.layers[1].error
    assert [cfg.delta_frac(k) for k in range(2)] == [0, cfg.layers[1].error.frac_bits]
    assert [cfg.bias_input(k) for k in range(2)] == [1 << cfg.input.frac_bits, 1 << cfg.layers[0].act.frac_bits]
    sign = dataclasses.replace(cfg, layers=(cfg.layers[0], dataclasses.replace(cfg.layers[1],
                                                                               error_signal=ErrorSignal.SIGN)))
    assert sign.delta_is_ternary(1) and sign.delta_format(1) == TERNARY
    out = cfg.layers[1]
    assert out.target_one() == min(out.act.one_raw(), out.act.max_raw)
    for k, layer in enumerate(cfg.layers):
        assert cfg.update_is_stochastic(k) == (layer.rounds_stochastically and cfg.update_drop_bits(k) > 0)


# -- docs/engine.md section 2: the default accumulator width -----------------------------------

def _documented_acc_bits(weight: FixedFormat, in_fmt: FixedFormat, n_in: int) -> int:
    """The formula as docs/engine.md writes it, evaluated independently of hwsim.config."""
    product = weight.width + in_fmt.width + (0 if in_fmt.signed else 1)
    return min(product + math.ceil(math.log2(n_in + 1)) + 1, 64)


def test_the_document_states_the_formula():
    text = ENGINE_MD.read_text()
    assert "product_bits = W_w + W_in (+1 if the input is unsigned)" in text
    assert "min(product_bits + ceil(log2(n_in + 1)) + 1, 64)" in text


ACC_CASES = [
    ("small", {}),
    ("small-no-bias", {"bias": False}),
    ("pow2-inputs", {"topology": [128, 32, 10]}),
    ("one-input", {"topology": [1, 16, 10], "lanes": 2}),
    ("wide-input", {"topology": [64, 32, 10], "input": {"format": "u4.12"}}),
    ("capped-at-64", {"topology": [65536, 32, 10], "input": {"format": "u8.8"}}),
]


@pytest.mark.parametrize("name,changes", ACC_CASES, ids=[c[0] for c in ACC_CASES])
def test_default_accumulator_width_is_the_documented_formula(name, changes):
    d = _small()
    d.update(changes)
    for layer in d["layers"]:
        layer.pop("accumulator", None)
    if name == "capped-at-64":
        d["layers"][0]["weight"] = {"format": "s16.16"}
        d["layers"][0]["preact"] = {"format": "s16.16"}
    cfg = config_from_dict(d, origin=name)
    for k, layer in enumerate(cfg.layers):
        want = _documented_acc_bits(layer.weight, cfg.in_format(k), layer.n_in)
        assert layer.acc_bits == want == default_acc_bits(layer.weight, cfg.in_format(k), layer.n_in)
    if name == "small-no-bias":   # the numbers: 25 and 23 bits, whether or not bias is on
        assert [l.acc_bits for l in cfg.layers] == [25, 23]
    if name == "capped-at-64":
        assert cfg.layers[0].acc_bits == 64


def test_wrap_of_one_point_zero_is_as_documented():
    from hwsim.formats import requantize
    assert requantize(256, 8, parse_format("u0.8", "trn", "wrap")) == 0
    assert requantize(128, 7, parse_format("s1.7", "trn", "wrap")) == -128
    assert requantize(256, 8, parse_format("s0.8", "trn", "wrap")) == 0
    assert requantize(128, 7, parse_format("s1.7", "trn", "sat")) == 127
