"""Engine configs: named configs load, --bits derivation, and every bad field gets one clear sentence."""

import copy
import math

import pytest
import yaml

from hwsim.config import CONFIG_DIR, config_for_bits, config_from_dict, load_config
from hwsim.formats import ConfigError


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
