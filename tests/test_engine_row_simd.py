"""The explicit-vector full-row updates (hwsim.fast.row_simd) against the reference and the numba loop.

They are taken by inputs-major hidden layers with a ternary update: non-stochastic (sign rule or
a rounded shift) when the dW table has the weights' storage type and the padded lanes are a
multiple of the vector length; stochastic when the table and words are int16 and the lanes a
multiple of 64. These configs are built to hit them with every overflow form the intrinsics
emit (saturating full-range, saturating narrow, wrapping full-width, wrapping narrow) in int8
and int16 storage, with lane counts below one block of vectors, one block plus a tail, and a
second hidden layer whose signed inputs give rows of different dW (runs of rows). The stochastic
ones also run in the event schedule, whose rows with inactive lane groups read their words at
per-chunk offsets.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from hwsim.config import Schedule, config_for_bits, config_from_dict
from hwsim.fast import Engine, compiled_kernels
from hwsim.params import initial_weights
from hwsim.fast.update import rows_simd_applies, stoch_simd_applies, ternary_table

from test_engine_equivalence import check_equivalent, first_weight_difference, random_inputs


def _config(name: str, weight: dict, update: dict, hidden=(128, 96), lanes: int = 16):
    def hidden_layer():
        return {"weight": dict(weight), "accumulator": {"bits": 32, "overflow": "sat"},
                "preact": {"format": "s2.9", "rounding": "rnd", "overflow": "sat"},
                "activation": {"kind": "hard_tanh", "format": "s1.6", "rounding": "trn", "overflow": "sat"},
                "update": dict(update)}
    out = {"weight": {"format": "s1.7"}, "preact": {"format": "s3.8", "rounding": "rnd", "overflow": "sat"},
           "activation": {"kind": "hard_sigmoid", "format": "u1.7", "rounding": "trn", "overflow": "sat"},
           "error": {"signal": "sign", "format": "s2.6", "rounding": "rnd", "overflow": "sat"},
           "update": {"rule": "sign"}}
    d = {"name": name, "topology": [45, *hidden, 6], "lanes": lanes, "bias": True,
         "input": {"format": "u1.7"}, "layers": [hidden_layer() for _ in hidden] + [out],
         "stochastic_rng": {"lfsr_bits": 12, "seed": 5}, "init": {"kind": "uniform", "scale": 1.0}}
    return config_from_dict(d, origin=name)


SIGN = {"rule": "sign"}
CONFIGS = {
    # int8 storage, the format's full range: one saturating add
    "sat-s0.8-sign": lambda: _config("sat-s0.8-sign", {"format": "s0.8", "overflow": "sat"}, SIGN),
    # 4-bit weights in int8: saturating add, then the format's bounds (hit often: dW up to 16);
    # dW varies with the input
    "sat-s1.3-trn": lambda: _config("sat-s1.3-trn", {"format": "s1.3", "overflow": "sat"},
                                    {"rule": "shift", "shift": 0, "rounding": "trn"}),
    # wrapping in the full storage width: a plain add
    "wrap-s0.8-sign": lambda: _config("wrap-s0.8-sign", {"format": "s0.8", "overflow": "wrap"}, SIGN),
    # 6-bit wrapping weights: add, then sign extension from bit 5; shift 0 makes dW up to +-32
    "wrap-s1.5-rnd": lambda: _config("wrap-s1.5-rnd", {"format": "s1.5", "overflow": "wrap"},
                                     {"rule": "shift", "shift": 0, "rounding": "rnd"}),
    # int16 storage (13-bit weights), 96 and 640 lanes: tail vectors only, a block plus a tail
    "sat-s3.9-rnd-int16": lambda: _config("sat-s3.9-rnd-int16", {"format": "s3.9", "overflow": "sat"},
                                          {"rule": "shift", "shift": 2, "rounding": "rnd_conv"},
                                          hidden=(96, 630)),
    # 16-bit wrapping weights: a plain int16 add
    "wrap-s7.9-sign-int16": lambda: _config("wrap-s7.9-sign-int16", {"format": "s7.9", "overflow": "wrap"},
                                            SIGN, hidden=(640, 64)),
    # stochastic rounding (the default rule): the same four overflow forms, int8 and int16
    "stoch-sat-s0.8": lambda: _config("stoch-sat-s0.8", {"format": "s0.8", "overflow": "sat"},
                                      {"rule": "shift", "shift": 3, "rounding": "stoch"}, hidden=(128, 192)),
    "stoch-sat-s1.3": lambda: _config("stoch-sat-s1.3", {"format": "s1.3", "overflow": "sat"},
                                      {"rule": "shift", "shift": 0, "rounding": "stoch"}, hidden=(128, 192)),
    "stoch-wrap-s1.5": lambda: _config("stoch-wrap-s1.5", {"format": "s1.5", "overflow": "wrap"},
                                       {"rule": "shift", "shift": 0, "rounding": "stoch"}, hidden=(128, 192)),
    "stoch-sat-s3.9-int16": lambda: _config("stoch-sat-s3.9-int16", {"format": "s3.9", "overflow": "sat"},
                                            {"rule": "shift", "shift": 1, "rounding": "stoch"}, hidden=(128, 192)),
    "stoch-wrap-s7.9-int16": lambda: _config("stoch-wrap-s7.9-int16", {"format": "s7.9", "overflow": "wrap"},
                                             {"rule": "shift", "shift": 0, "rounding": "stoch"}, hidden=(640, 64)),
}


def _simd_layers(cfg) -> list[int]:
    return [p.k for p in compiled_kernels(cfg).plans
            if rows_simd_applies(p, t := ternary_table(cfg, p)) or stoch_simd_applies(p, t)]


# Against the slow reference: one config by default (the stochastic ones take the reference ~2
# minutes each), every config in the slow run (make test). The quick comparisons with the numba
# loops below cover every config; those loops meet the reference in the random sweep.
QUICK = {"sat-s0.8-sign"}


@pytest.mark.parametrize("name", [n if n in QUICK else pytest.param(n, marks=pytest.mark.slow)
                                  for n in sorted(CONFIGS)])
def test_row_simd_config_matches_reference(name):
    cfg = CONFIGS[name]()
    assert _simd_layers(cfg), "the config was meant to take the explicit-vector update"
    check_equivalent(cfg, n_samples=200, seed=11, chunk=100)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_row_simd_equals_numba_loop(name):
    """Same config, same samples: every prediction and weight with and without the vectors."""
    cfg = CONFIGS[name]()
    weights = initial_weights(cfg, 3)
    x, labels = random_inputs(cfg, 300, 4, zero_fraction=0.4)
    fast, loop = Engine(cfg, weights), Engine(cfg, weights, simd_rows=False)
    assert np.array_equal(fast.train(x, labels), loop.train(x, labels))
    assert first_weight_difference(fast.weights(), loop.weights()) is None


@pytest.mark.parametrize("name", sorted(n for n in CONFIGS if n.startswith("stoch")))
def test_event_chunks_equal_numba_loop(name):
    """The event schedule's stochastic rows (chunks at several word offsets when some lane groups
    are inactive, hwsim.fast.row_simd.make_chunk_stoch) against its numba loops, run by run."""
    cfg = dataclasses.replace(CONFIGS[name](), schedule=Schedule.EVENT)
    weights = initial_weights(cfg, 3)
    x, labels = random_inputs(cfg, 300, 4, zero_fraction=0.4)
    fast, loop = Engine(cfg, weights, rng_word=11), Engine(cfg, weights, rng_word=11, simd_rows=False)
    p1, c1 = fast.train(x, labels, counts=True)
    assert np.array_equal(p1, loop.train(x, labels))
    assert first_weight_difference(fast.weights(), loop.weights()) is None
    assert fast.rng_word == loop.rng_word
    hidden = [k for k in range(len(cfg.layers) - 1)]
    assert any(0 < a < cfg.groups(k) for row in c1.active for k, a in zip(hidden, row)), "no partial groups"


def test_row_simd_is_not_taken_where_it_does_not_apply():
    assert _simd_layers(config_for_bits(8)) == [0]               # 500 hidden lanes, padded to 512
    d = CONFIGS["stoch-sat-s0.8"]().to_dict()
    d["stochastic_rng"]["lfsr_bits"] = 16
    for layer in d["layers"][:2]:
        layer["update"]["shift"] = 20                            # drop 19 > 15 random bits: int32 words
    assert not _simd_layers(config_from_dict(d))
    sign = CONFIGS["sat-s0.8-sign"]()
    assert not any(p.simd_rows for p in compiled_kernels(sign, simd_rows=False).plans)
    odd = _config("odd-lanes", {"format": "s0.8", "overflow": "sat"}, SIGN, hidden=(120, 128), lanes=8)
    assert _simd_layers(odd) == [1]                              # 120 lanes is no multiple of 64
