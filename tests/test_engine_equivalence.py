"""The fast numba Engine against the slow ReferenceEngine, in raw integers, on many configs.

Random configs are drawn from a seeded RNG (widths 2..16, every rounding and overflow mode, all
activations, both update rules and error signals, lanes 1..8, bias on/off, 1..3 hidden layers,
accumulators down to the narrowest the config allows), each run in both schedules (dense and
event); a few hand-made configs push shifts and widths to where 64-bit arithmetic itself would
overflow. Besides weights, predictions and the word counter, every sample's work counts
(:class:`hwsim.cycles.SampleCounts`) must equal the reference's.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from hwsim.config import Schedule, config_for_bits, config_from_dict, load_config
from hwsim.cycles import COUNT_FIELDS
from hwsim.fast import Engine
from hwsim.formats import ConfigError
from hwsim.fast.plan import DOTS_MAX_PAD
from hwsim.params import initial_weights
from hwsim.reference import ReferenceEngine

ROUNDINGS = ["trn", "rnd", "rnd_conv"]
OVERFLOWS = ["sat", "wrap"]


def _fmt(rng, signed: bool, width_lo=2, width_hi=16, int_lo=-1, int_hi=3, min_frac=None) -> str:
    width = int(rng.integers(width_lo, width_hi + 1))
    int_bits = int(rng.integers(int_lo, int_hi + 1))
    frac = width - int_bits
    if min_frac is not None and frac < min_frac:
        frac = min_frac
        int_bits = width - frac
    return f"{'s' if signed else 'u'}{int_bits}.{frac}"


def _fd(rng, text, stoch_ok=False) -> dict:
    roundings = ROUNDINGS + (["stoch"] if stoch_ok else [])
    return {"format": text, "rounding": str(rng.choice(roundings)), "overflow": str(rng.choice(OVERFLOWS))}


def _width(text: str) -> int:
    a, b = text[1:].split(".")
    return int(a) + int(b)


def random_config(seed: int, schedule: str = "dense"):
    """A valid random engine: small topology, every datapath option drawn at random."""
    rng = np.random.default_rng(seed)
    n_hidden = int(rng.integers(1, 4))
    topo = [int(rng.integers(5, 21))] + [int(rng.integers(3, 13)) for _ in range(n_hidden)] \
        + [int(rng.integers(2, 7))]
    in_text = _fmt(rng, False)
    layers = []
    prev = in_text
    for k in range(n_hidden + 1):
        last = k == n_hidden
        w_text = _fmt(rng, True)
        product_bits = _width(w_text) + _width(prev) + (0 if prev[0] == "s" else 1)
        safe = product_bits + int(np.ceil(np.log2(topo[k] + 1))) + 1
        acc_bits = int(rng.integers(product_bits, safe + 3))  # often too narrow to be safe
        kind = str(rng.choice(["clipped_relu", "hard_tanh", "hard_sigmoid"] if last
                              else ["clipped_relu", "hard_tanh"]))
        preact = _fmt(rng, True, width_lo=3, int_lo=1, int_hi=4, min_frac=1 if kind == "hard_sigmoid" else 0)
        act = _fmt(rng, kind == "hard_tanh" or bool(rng.integers(0, 2)))
        entry = {
            "weight": {"format": w_text, "overflow": str(rng.choice(OVERFLOWS))},
            "accumulator": {"bits": acc_bits, "overflow": str(rng.choice(OVERFLOWS))},
            "preact": _fd(rng, preact),
            "activation": {"kind": kind, **_fd(rng, act)},
            "update": {"rule": str(rng.choice(["shift", "shift", "sign"])), "shift": int(rng.integers(0, 13)),
                       "rounding": str(rng.choice(ROUNDINGS + ["stoch", "stoch"]))},
        }
        if last:
            entry["error"] = {"signal": str(rng.choice(["error", "error", "sign"])),
                              **_fd(rng, _fmt(rng, True))}
        layers.append(entry)
        prev = act
    rv_bits = int(rng.integers(8, 17))
    rng_bits = int(rng.integers(8, 21))
    d = {
        "name": f"random-{seed}",
        "topology": topo,
        "lanes": int(rng.integers(1, 9)),   # capped below at what the RTL builds for the topology
        "bias": bool(rng.integers(0, 4) > 0),
        "input": _fd(rng, in_text),
        "layers": layers,
        "random_vectors": {"lfsr_bits": rv_bits,
                           "seeds": [int(rng.integers(1, 1 << rv_bits)) for _ in range(n_hidden)]},
        "stochastic_rng": {"lfsr_bits": rng_bits, "seed": int(rng.integers(1, 1 << rng_bits))},
        "init": {"kind": "uniform", "scale": float(rng.choice([0.5, 1.0, 3.0, 8.0]))},
        "schedule": schedule,
    }
    lanes = d.pop("lanes")
    cfg = config_from_dict(d, origin=f"random-{seed}")
    return cfg.with_lanes(min(lanes, cfg.max_lanes()), f"random-{seed}.lanes")


def random_inputs(cfg, n: int, seed: int, zero_fraction: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    fmt = cfg.input
    x = rng.integers(fmt.min_raw, fmt.max_raw + 1, (n, cfg.layers[0].n_in), dtype=np.int64)
    x[rng.random(x.shape) < zero_fraction] = 0
    extremes = rng.random(x.shape) < 0.05
    x[extremes] = fmt.max_raw
    return x, rng.integers(0, cfg.n_classes, n)


# -- comparison helpers: name the first difference ------------------------------------------

def first_weight_difference(fast: list[np.ndarray], ref: list[np.ndarray]) -> str | None:
    for k, (a, b) in enumerate(zip(fast, ref)):
        if a.shape != b.shape:
            return f"layer {k}: weight shapes differ, fast {a.shape} vs reference {b.shape}"
        bad = np.argwhere(a != b)
        if len(bad):
            j, i = bad[0]
            return (f"layer {k} weight [j={j}, i={i}] (first of {len(bad)}): fast {a[j, i]} "
                    f"vs reference {b[j, i]}")
    return None


def first_trace_difference(fast, ref) -> str | None:
    for name in ("z", "y", "delta"):
        for k, (a, b) in enumerate(zip(getattr(fast, name), getattr(ref, name))):
            for j, (u, v) in enumerate(zip(a, b)):
                if u != v:
                    return f"layer {k} {name}[{j}]: fast {u} vs reference {v}"
            if len(a) != len(b):
                return f"layer {k} {name}: lengths differ, fast {len(a)} vs reference {len(b)}"
    if fast.prediction != ref.prediction:
        return f"prediction: fast {fast.prediction} vs reference {ref.prediction}"
    for name in COUNT_FIELDS:
        if getattr(fast, name) != getattr(ref, name):
            return f"{name}: fast {getattr(fast, name)} vs reference {getattr(ref, name)}"
    return None


def first_count_difference(counts, traces, train: bool) -> str | None:
    """The first sample whose fast counts (a SampleCounts) differ from its reference trace's."""
    for s, tr in enumerate(traces):
        if bool(counts.train[s]) != train:
            return f"sample #{s}: train flag {bool(counts.train[s])}, expected {train}"
        for name in COUNT_FIELDS:
            got = getattr(counts, name)[s]
            got = int(got) if name == "load" else [int(v) for v in got]
            if got != getattr(tr, name):
                return f"sample #{s} {name}: fast {got} vs reference {getattr(tr, name)}"
    return None


def check_equivalent(cfg, n_samples: int, seed: int, chunk: int = 250, n_traces: int = 4,
                     layout: str = "default", stimulus=None, order=None, **knobs) -> list:
    """Train both engines on the same samples; compare predictions, weights, rng_word, counts, traces, infer.

    ``stimulus(x, labels) -> (x, labels)`` edits the random samples; ``order`` replaces the random
    training order; ``knobs`` go to the fast Engine with the layout's. Returns the reference's
    traces of the training samples, in the order trained.
    """
    weights = initial_weights(cfg, seed)
    x, labels = random_inputs(cfg, n_samples, seed + 1)
    if stimulus is not None:
        x, labels = stimulus(x, labels)
    fast = Engine(cfg, weights, rng_word=seed, **{**LAYOUTS[layout], **knobs})
    ref = ReferenceEngine(cfg, weights, rng_word=seed)
    if order is None:
        order = np.random.default_rng(seed + 2).permutation(n_samples)
    trained = []
    for c, start in enumerate(range(0, len(order), chunk)):
        idx = order[start:start + chunk]
        traces = [ref.run(x[s], int(labels[s])) for s in idx]
        trained += traces
        if c % 2 == 0:   # counting takes its own code path (event writes): results must not change
            got, counts = fast.train(x, labels, order=idx, counts=True)
            diff = first_count_difference(counts, traces, True)
            assert diff is None, f"{cfg.name}: counts of chunk {c}: {diff}"
        else:
            got = fast.train(x, labels, order=idx)
        want = np.array([tr.prediction for tr in traces])
        bad = np.flatnonzero(got != want)
        assert not len(bad), (f"{cfg.name}: prediction of sample #{start + bad[0]} (index {idx[bad[0]]}): "
                              f"fast {got[bad[0]]} vs reference {want[bad[0]]}")
        diff = first_weight_difference(fast.weights(), ref.weights())
        assert diff is None, f"{cfg.name}: after {start + len(idx)} samples, {diff}"
        assert fast.rng_word == ref.rng_word, f"{cfg.name}: rng_word fast {fast.rng_word} vs {ref.rng_word}"
    # traces, training and not
    for t in range(min(n_traces, len(order))):
        s = int(order[t])
        train = t % 2 == 0
        diff = first_trace_difference(fast.trace(x[s], int(labels[s]), train=train),
                                      ref.run(x[s], int(labels[s]), train=train))
        assert diff is None, f"{cfg.name}: trace of sample {s} (train={train}): {diff}"
    diff = first_weight_difference(fast.weights(), ref.weights())
    assert diff is None, f"{cfg.name}: after the traces, {diff}"
    assert fast.rng_word == ref.rng_word
    # inference: no state change, same predictions and output pre-activations
    before = fast.weights()
    preds, z, counts = fast.infer(x[:50], return_z=True, counts=True)
    traces = [ref.run(x[s], 0, train=False) for s in range(min(50, n_samples))]
    for s, tr in enumerate(traces):
        assert preds[s] == tr.prediction, f"{cfg.name}: infer prediction of sample {s}"
        assert list(z[s]) == tr.z[-1], f"{cfg.name}: infer z of sample {s}: fast {list(z[s])} vs {tr.z[-1]}"
    diff = first_count_difference(counts, traces, False)
    assert diff is None, f"{cfg.name}: infer counts: {diff}"
    assert np.array_equal(fast.infer(x[:50]), preds)
    assert first_weight_difference(fast.weights(), before) is None, "infer changed the weights"
    assert fast.rng_word == ref.rng_word, "infer moved the rng word counter"
    return trained


# -- the random sweep --------------------------------------------------------------------------
# The engine's speed knobs pick code paths, never results: seeds cycle through every layer
# inputs-major (rows), small layers output-major (dots, the default for narrow layers), and
# inputs-major updated lane by lane (sparse), so each path meets every option.

LAYOUTS = {
    "default": {},
    "rows": {"dots_max_pad": 0},
    "dots": {"dots_max_pad": DOTS_MAX_PAD},
    "sparse": {"dots_max_pad": 0, "sparse_lanes": 1},
}


def _layout(seed: int) -> str:
    return ("rows", "dots", "sparse")[seed % 3]


FAST_SEEDS = list(range(8))
SLOW_SEEDS = list(range(8, 32))


SCHEDULES = [s.value for s in Schedule]


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("seed", FAST_SEEDS)
def test_random_config_quick(seed, schedule):
    check_equivalent(random_config(seed, schedule), n_samples=150, seed=seed, chunk=75, layout=_layout(seed))


@pytest.mark.slow
@pytest.mark.parametrize("seed", SLOW_SEEDS)
def test_random_config_long(seed):
    """Each long seed in one schedule (they alternate; the quick seeds run both): the time of one."""
    check_equivalent(random_config(seed, SCHEDULES[seed % 2]), n_samples=1000, seed=seed, layout=_layout(seed))


def test_sweep_covers_the_options():
    """The random configs exercise every option the engine has (so the sweep means something)."""
    from hwsim.fast.plan import plan_layer
    seen = set()
    for seed in FAST_SEEDS + SLOW_SEEDS:
        cfg = random_config(seed)
        seen.add(("lanes>1", cfg.lanes > 1))
        seen.add(("bias", cfg.bias))
        seen.add(("depth", len(cfg.layers)))
        for k, layer in enumerate(cfg.layers):
            seen.add(("acc", plan_layer(cfg, k).acc_mode))
            seen.add(("act", layer.activation.value))
            seen.add(("rule", layer.update_rule.value, layer.update_rounding.value))
            seen.add(("wovf", layer.weight.overflow.value))
            seen.add(("drop<=0", cfg.update_drop_bits(k) <= 0))
        seen.add(("signal", cfg.layers[-1].error_signal.value))
    for want in [("acc", "plain"), ("acc", "wrap"), ("acc", "sat"), ("act", "clipped_relu"),
                 ("act", "hard_tanh"), ("act", "hard_sigmoid"), ("wovf", "sat"), ("wovf", "wrap"),
                 ("signal", "error"), ("signal", "sign"), ("bias", True), ("bias", False),
                 ("depth", 2), ("depth", 3), ("depth", 4), ("lanes>1", True), ("drop<=0", True),
                 ("drop<=0", False)] + [("rule", "shift", r) for r in ("trn", "rnd", "rnd_conv", "stoch")]:
        assert want in seen, f"the random sweep never draws {want}"


# -- hand-made configs at the edges of 64-bit arithmetic -------------------------------------

def _edge_config(name: str, input_fmt: str, hidden: dict, out: dict, rng_bits=16, lanes=3):
    base_h = {"weight": {"format": "s1.7"}, "preact": {"format": "s3.8", "rounding": "rnd", "overflow": "sat"},
              "activation": {"kind": "hard_tanh", "format": "s1.7", "rounding": "trn", "overflow": "sat"},
              "update": {"rule": "shift", "shift": 4, "rounding": "stoch"}}
    base_o = {"weight": {"format": "s1.7"}, "preact": {"format": "s3.8", "rounding": "rnd", "overflow": "sat"},
              "activation": {"kind": "hard_sigmoid", "format": "u1.7", "rounding": "trn", "overflow": "sat"},
              "error": {"signal": "error", "format": "s2.6", "rounding": "rnd", "overflow": "sat"},
              "update": {"rule": "shift", "shift": 4, "rounding": "stoch"}}
    for base, new in ((base_h, hidden), (base_o, out)):
        for key, value in new.items():
            base[key] = {**base.get(key, {}), **value}
    d = {"name": name, "topology": [9, 7, 4], "input": {"format": input_fmt},
         "layers": [base_h, base_o], "stochastic_rng": {"lfsr_bits": rng_bits, "seed": 5},
         "init": {"kind": "uniform", "scale": 4.0}}
    # lanes past the RTL's limit (more lanes than neurons) are a model-only edge: the loader refuses
    # them, the fast model and the reference still define them
    return dataclasses.replace(config_from_dict(d, origin=name), lanes=lanes)


EDGE_CONFIGS = {
    # 64-bit saturating accumulator with 31x32-bit products: overflow-detecting adds
    "acc64-sat": lambda: _edge_config("acc64-sat", "u0.32",
                                      {"weight": {"format": "s1.30", "overflow": "sat"},
                                       "accumulator": {"bits": 64, "overflow": "sat"},
                                       "preact": {"format": "s6.20"}}, {}),
    # ... and wrapping: sums that leave int64 (unsigned arithmetic)
    "acc64-wrap": lambda: _edge_config("acc64-wrap", "u0.32",
                                       {"weight": {"format": "s1.30", "overflow": "wrap"},
                                        "accumulator": {"bits": 64, "overflow": "wrap"},
                                        "preact": {"format": "s6.20", "overflow": "wrap"}}, {}),
    # requantize that gains fraction bits (left shift past int64 before saturation)
    "preact-left-shift": lambda: _edge_config("preact-left-shift", "u4.0",
                                              {"weight": {"format": "s4.0"},
                                               "preact": {"format": "s-10.40", "overflow": "sat"},
                                               "activation": {"kind": "clipped_relu", "format": "u1.15"}},
                                              {"weight": {"format": "s3.0"},
                                               "preact": {"format": "s-4.30", "overflow": "wrap"}}),
    # update that gains bits: |delta * a| << 32 leaves int64 (saturating weights clamp first)
    "update-left-sat": lambda: _edge_config("update-left-sat", "u0.8",
                                            {"activation": {"kind": "clipped_relu", "format": "u0.16"}},
                                            {"weight": {"format": "s-22.54", "overflow": "sat"},
                                             "error": {"format": "s10.6"},
                                             "update": {"shift": 0}}),
    # ... and wrapping weights modulo 2**30 through unsigned 64-bit arithmetic
    "update-left-wrap": lambda: _edge_config("update-left-wrap", "u0.8",
                                             {"activation": {"kind": "clipped_relu", "format": "u0.32"},
                                              "preact": {"format": "s-8.40"}},
                                             {"weight": {"format": "s-24.54", "overflow": "wrap"},
                                              "error": {"format": "s10.6"},
                                              "update": {"shift": 0, "rounding": "trn"}}),
    # updates dropping 66 bits: every rounding degenerates (trn: floor, rnd: 0, stoch: t >= 64)
    "update-drop-95-stoch": lambda: _edge_config("update-drop-95-stoch", "u0.16",
                                                 {"weight": {"format": "s4.0"}, "update": {"shift": 40},
                                                  "activation": {"format": "s1.15"}},
                                                 {"weight": {"format": "s4.0"},
                                                  "activation": {"format": "u0.16"},
                                                  "error": {"format": "s-10.40"},
                                                  "update": {"shift": 40, "rounding": "stoch"}}, rng_bits=24),
    "update-drop-65-trn": lambda: _edge_config("update-drop-65-trn", "u0.16",
                                               {"weight": {"format": "s4.0"}, "activation": {"format": "s1.15"},
                                                "update": {"shift": 40, "rounding": "trn"}},
                                               {"weight": {"format": "s4.0"},
                                                "activation": {"format": "u0.16"},
                                                "error": {"format": "s-10.40"},
                                                "update": {"shift": 10, "rounding": "trn"}}, lanes=1),
    "update-drop-65-rnd": lambda: _edge_config("update-drop-65-rnd", "u0.16",
                                               {"weight": {"format": "s4.0"}, "activation": {"format": "s1.15"},
                                                "update": {"shift": 40, "rounding": "rnd_conv"}},
                                               {"weight": {"format": "s4.0"},
                                                "activation": {"format": "u0.16"},
                                                "error": {"format": "s-10.40"},
                                                "update": {"shift": 10, "rounding": "rnd"}}),
    # a bias input of 0 (negative input fraction bits), sign updates, sign error
    "bias-zero-sign": lambda: _edge_config("bias-zero-sign", "u6.-2",
                                           {"weight": {"format": "s2.3"}, "update": {"rule": "sign"},
                                            "accumulator": {"bits": 12, "overflow": "sat"}},
                                           {"update": {"rule": "sign"},
                                            "error": {"signal": "sign"}}, lanes=8),
}


def _event(cfg):
    return dataclasses.replace(cfg, schedule=Schedule.EVENT)


@pytest.mark.parametrize("layout", ["sparse", "dots"])
@pytest.mark.parametrize("name", sorted(EDGE_CONFIGS))
def test_edge_config(name, layout):
    check_equivalent(EDGE_CONFIGS[name](), n_samples=200, seed=7, chunk=100, layout=layout)


@pytest.mark.parametrize("name", sorted(EDGE_CONFIGS))
def test_edge_config_event(name):
    """The same edges in the event schedule, each config in one layout (the dense runs cover both)."""
    layout = ("sparse", "dots")[sorted(EDGE_CONFIGS).index(name) % 2]
    check_equivalent(_event(EDGE_CONFIGS[name]()), n_samples=200, seed=7, chunk=100, layout=layout)


# -- the shipped configs ------------------------------------------------------------------------

@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("layout", ["rows", "dots", "sparse"])
def test_small_yaml(layout, schedule):
    cfg = load_config("small")
    check_equivalent(_event(cfg) if schedule == "event" else cfg, n_samples=120, seed=3, chunk=60, n_traces=2,
                     layout=layout)


@pytest.mark.slow
@pytest.mark.parametrize("schedule", SCHEDULES)
def test_small_yaml_long(schedule):
    cfg = load_config("small")
    check_equivalent(_event(cfg) if schedule == "event" else cfg, n_samples=1000, seed=11, chunk=500, n_traces=2)


@pytest.mark.slow
@pytest.mark.parametrize("rule, schedule", [("stoch", "dense"), ("trn", "dense"), ("sign", "dense"),
                                            ("stoch", "event")])
def test_paper_size_traces(rule, schedule):
    """The benchmark engine (784-500-10, 8 bits): a few samples against the reference."""
    cfg = config_for_bits(8, schedule=schedule)
    if rule != "stoch":
        d = cfg.to_dict()
        for layer in d["layers"]:
            layer["update"] = {"rule": "shift", "shift": layer["update"]["shift"], "rounding": "trn"} \
                if rule == "trn" else {"rule": "sign"}
        cfg = config_from_dict(d)
    weights = initial_weights(cfg, 0)
    x, labels = random_inputs(cfg, 3, 5, zero_fraction=0.8)
    fast, ref = Engine(cfg, weights, rng_word=123_456), ReferenceEngine(cfg, weights, rng_word=123_456)
    for s in range(3):
        diff = first_trace_difference(fast.trace(x[s], int(labels[s]), train=True),
                                      ref.run(x[s], int(labels[s]), train=True))
        assert diff is None, f"sample {s}: {diff}"
    assert first_weight_difference(fast.weights(), ref.weights()) is None
    assert fast.rng_word == ref.rng_word


# -- errors are API ---------------------------------------------------------------------------------

def test_bad_inputs_are_named():
    cfg = load_config("small")
    eng = Engine(cfg, initial_weights(cfg, 0))
    with pytest.raises(ConfigError, match=r"x_raw must hold raw integers within the input format u0\.8 \(0\.\.255\)"):
        eng.infer(np.full((2, 64), 256))
    with pytest.raises(ConfigError, match=r"x_raw must be an \(N, 64\) array"):
        eng.infer(np.zeros((2, 63), dtype=int))
    with pytest.raises(ConfigError, match=r"labels must be integers in 0\.\.9"):
        eng.train(np.zeros((2, 64), dtype=int), np.array([0, 10]))
    w = initial_weights(cfg, 0)
    w[1][0, 0] = 1000
    with pytest.raises(ConfigError, match=r"weights\[1\] must be raw integers within the weight format s1\.7"):
        Engine(cfg, w)


def test_engine_is_independent_of_its_inputs():
    """Weights are copied in, and two engines of one config share kernels but not state."""
    cfg = load_config("small")
    w = initial_weights(cfg, 0)
    a, b = Engine(cfg, w), Engine(cfg, w)
    x, labels = random_inputs(cfg, 20, 1)
    a.train(x, labels)
    assert first_weight_difference(b.weights(), w) is None
    assert first_weight_difference(a.weights(), w) is not None
    assert b.rng_word == 0 and a.rng_word == 20 * sum(cfg.words_per_update(k) for k in range(2))


def test_trace_is_a_read_unless_asked_to_train():
    """trace() by default leaves weights and word counter alone and records what the reference does."""
    cfg = load_config("small")
    w = initial_weights(cfg, 0)
    fast, ref = Engine(cfg, w, rng_word=77), ReferenceEngine(cfg, w, rng_word=77)
    x, labels = random_inputs(cfg, 3, 2)
    for s in range(3):
        diff = first_trace_difference(fast.trace(x[s], int(labels[s])), ref.run(x[s], int(labels[s]), train=False))
        assert diff is None, f"sample {s}: {diff}"
        assert first_weight_difference(fast.weights(), w) is None, "trace() changed the weights"
        assert fast.rng_word == 77, "trace() advanced the word counter"
    fast.trace(x[0], int(labels[0]), train=True)
    ref.run(x[0], int(labels[0]), train=True)
    assert first_weight_difference(fast.weights(), ref.weights()) is None
    assert fast.rng_word == ref.rng_word > 77
