"""The VNNI forward path (hwsim.fast.vnni) against the reference and against the portable path.

It is taken only for inputs-major layers of unsigned 8-bit inputs, 8-bit weights and int32
order-free accumulators whose padded lane count is a multiple of 64; these configs are built to
hit it with plain and wrapping accumulators, with and without bias, with row counts that leave
every remainder of the quads (n_in mod 4 and nonzero inputs mod 4).
"""

from __future__ import annotations

import numpy as np
import pytest

from hwsim.fast import vnni
from hwsim.config import config_for_bits, config_from_dict
from hwsim.fast import Engine, compiled_kernels
from hwsim.params import initial_weights
from hwsim.reference import ReferenceEngine

from test_engine_equivalence import check_equivalent, first_weight_difference, random_inputs

needs_vnni = pytest.mark.skipif(not vnni.AVAILABLE, reason="host has no AVX-512 VNNI")


def test_lane_permutation_is_a_permutation_per_chunk():
    perm = vnni.lane_permutation(192)
    assert sorted(perm.tolist()) == list(range(192))
    for c in range(3):  # each chunk of 64 scratch dwords holds exactly its own 64 lanes
        assert sorted(perm[64 * c:64 * (c + 1)].tolist()) == list(range(64 * c, 64 * (c + 1)))


def _config(name: str, n_in: int, n_hidden: int, input_fmt: str, weight_fmt: str, acc: dict, bias: bool,
            lanes: int = 16, rounding: str = "stoch", rule: str = "shift"):
    hidden = {"weight": {"format": weight_fmt, "overflow": "sat"}, "accumulator": acc,
              "preact": {"format": "s2.9", "rounding": "rnd", "overflow": "sat"},
              "activation": {"kind": "hard_tanh", "format": "s1.7", "rounding": "trn", "overflow": "sat"},
              "update": {"rule": rule, "shift": 6, "rounding": rounding} if rule == "shift" else {"rule": rule}}
    out = {"weight": {"format": "s1.7"}, "preact": {"format": "s3.8", "rounding": "rnd", "overflow": "sat"},
           "activation": {"kind": "hard_sigmoid", "format": "u1.7", "rounding": "trn", "overflow": "sat"},
           "error": {"signal": "error", "format": "s2.6", "rounding": "rnd", "overflow": "sat"},
           "update": {"rule": "shift", "shift": 4, "rounding": "stoch"}}
    d = {"name": name, "topology": [n_in, n_hidden, 5], "lanes": lanes, "bias": bias,
         "input": {"format": input_fmt}, "layers": [hidden, out],
         "stochastic_rng": {"lfsr_bits": 12, "seed": 77}, "init": {"kind": "uniform", "scale": 1.0}}
    return config_from_dict(d, origin=name)


CONFIGS = {
    # exact int32 sums, bias input 1.0 = 256 (a product wider than int16)
    "plain-bias": lambda: _config("plain-bias", 37, 120, "u0.8", "s0.8", {"bits": 24, "overflow": "sat"}, True),
    # sums that wrap modulo 2**18 (the int32 adds wrap, then one sign extension)
    "wrap-narrow": lambda: _config("wrap-narrow", 42, 128, "u4.4", "s3.5", {"bits": 18, "overflow": "wrap"},
                                   False, rounding="rnd"),
    # 6-bit weights in int8 lanes, 5-bit inputs, no bias, sign rule, 192 lanes = 3 chunks
    "narrow-formats": lambda: _config("narrow-formats", 33, 190, "u1.4", "s2.4", {"bits": 20, "overflow": "sat"},
                                      False, rule="sign"),
}


@needs_vnni
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_vnni_config_matches_reference(name):
    cfg = CONFIGS[name]()
    assert compiled_kernels(cfg).plans[0].vnni, "the config was meant to take the VNNI path"
    check_equivalent(cfg, n_samples=200, seed=5, chunk=100)


@needs_vnni
def test_vnni_is_not_taken_where_it_would_be_inexact():
    cfg = _config("sat-acc", 37, 128, "u0.8", "s0.8", {"bits": 20, "overflow": "sat"}, True)
    assert not compiled_kernels(cfg).plans[0].vnni  # saturating sums depend on the order
    assert not compiled_kernels(config_for_bits(8), vnni=False).plans[0].vnni


@needs_vnni
@pytest.mark.parametrize("rule", ["stoch", "sign"])
def test_paper_size_vnni_equals_portable_path(rule):
    """784-500-10 at 8 bits (the benchmark engine): VNNI and portable fast engines, 600 samples."""
    cfg = config_for_bits(8)
    if rule == "sign":
        d = cfg.to_dict()
        for layer in d["layers"]:
            layer["update"] = {"rule": "sign"}
        cfg = config_from_dict(d)
    assert compiled_kernels(cfg).plans[0].vnni
    weights = initial_weights(cfg, 1)
    x, labels = random_inputs(cfg, 600, 9, zero_fraction=0.8)
    fast, portable = Engine(cfg, weights, rng_word=99), Engine(cfg, weights, rng_word=99, vnni=False)
    assert np.array_equal(fast.train(x, labels), portable.train(x, labels))
    assert first_weight_difference(fast.weights(), portable.weights()) is None
    p1, z1 = fast.infer(x[:100], return_z=True)
    p2, z2 = portable.infer(x[:100], return_z=True)
    assert np.array_equal(z1, z2) and np.array_equal(p1, p2)
    ref = ReferenceEngine(cfg, fast.weights(), rng_word=fast.rng_word)
    tr = ref.run(x[0], int(labels[0]), train=False)
    assert list(fast.infer(x[:1], return_z=True)[1][0]) == tr.z[-1]
