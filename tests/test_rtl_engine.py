"""End to end: the whole RTL engine in Amaranth's simulator equals hwsim.reference in raw integers.

Each case trains on a few samples and then runs inference; after every sample all weights are
read back through the weight port and compared with the reference, and every sample's cycle
count is compared with the schedule the generator's manifest reports.
"""

from __future__ import annotations

import numpy as np
import pytest

from dataclasses import replace

from hwsim.config import Schedule, config_from_dict, load_config
from hwsim.cycles import SampleCounts
from hwsim.params import initial_weights
from hwsim.reference import ReferenceEngine
from rtl.schedule import cycles, phases
from rtl.testbench import simulate


def variant(base: str = "small", **changes):
    d = load_config(base).to_dict()
    for key, value in changes.items():
        if key.startswith("layer"):
            idx, field = key[5:].split("__", 1)
            d["layers"][int(idx)][field] = value
        else:
            d[key] = value
    return config_from_dict(d, origin="variant")


def digits(cfg, count: int, seed: int = 0):
    """``count`` samples quantized to the input format: 8x8 digits when they fit, else random pixels."""
    rng = np.random.default_rng(seed)
    n_in = cfg.layers[0].n_in
    if n_in == 64:
        from sklearn.datasets import load_digits
        data = load_digits()
        idx = rng.choice(len(data.target), count, replace=False)
        xs = cfg.input.from_float(data.data[idx] / 16.0)
        return [list(map(int, x)) for x in xs], [int(t) for t in data.target[idx]]
    xs = rng.integers(cfg.input.min_raw, cfg.input.max_raw + 1, (count, n_in))
    xs[:, ::3] = 0  # digits are mostly zero: exercise zero inputs too
    return [list(map(int, x)) for x in xs], [int(v) for v in rng.integers(0, cfg.n_classes, count)]


def three_layer():
    d = load_config("small").to_dict()
    hidden = dict(d["layers"][0])
    d.update(topology=[10, 6, 5, 4], lanes=2, bias=False,
             random_vectors={"source": "lfsr", "lfsr_bits": 12, "seeds": [91, 1234]})
    d["layers"] = [
        {**hidden, "activation": {"kind": "clipped_relu", "format": "u1.7", "rounding": "rnd", "overflow": "sat"},
         "update": {"rule": "shift", "shift": 6, "rounding": "rnd"}},
        {**hidden, "weight": {"format": "s1.7", "overflow": "sat"},
         "update": {"rule": "shift", "shift": 5, "rounding": "rnd_conv"}, "accumulator": {"bits": 24, "overflow": "sat"}},
        {**d["layers"][1], "accumulator": {"bits": 22, "overflow": "wrap"}},
    ]
    return config_from_dict(d, origin="three-layer")


CASES = {
    # the shipped small config: 64-32-10, P=4, stochastic updates, LFSR random vectors
    "small": lambda: load_config("small"),
    # lanes dividing nothing (7 hidden, 3 classes, 12 inputs with P=5), ROM vectors, sign rules, SAT sums
    "ragged-rom-sign": lambda: variant(
        topology=[12, 7, 3], lanes=5, random_vectors={"source": "rom", "seeds": [5]},
        layer0__update={"rule": "sign"}, layer0__accumulator={"bits": 18, "overflow": "sat"},
        layer1__error={"signal": "sign", "format": "s2.6", "rounding": "rnd", "overflow": "sat"}),
    # three layers, no bias, clipped ReLU, deterministic roundings, a saturating hidden accumulator
    "three-layer-relu": three_layer,
    # layer 0 has as many columns as lanes (4 inputs, no bias) and three groups: each group is handed
    # over in the last cycle of the post-processor's pass over the previous one; ragged groups (9, 3)
    "columns-equal-lanes": lambda: variant(topology=[4, 9, 3], lanes=4, bias=False),
    # one lane; weights with more fraction bits than the update drops (left shift), wrapping weights
    "one-lane-left-shift": lambda: variant(
        topology=[5, 3, 2], lanes=1, init={"kind": "uniform", "scale": 4.0},
        layer0__weight={"format": "s2.10", "overflow": "wrap"}, layer0__accumulator={"bits": 27, "overflow": "wrap"},
        layer0__update={"rule": "shift", "shift": 0, "rounding": "stoch"},
        stochastic_rng={"lfsr_bits": 11, "seed": 3}),
}


@pytest.mark.parametrize("schedule", list(Schedule), ids=[s.value for s in Schedule])
@pytest.mark.parametrize("name", list(CASES))
def test_engine_equals_reference(name, schedule):
    cfg = replace(CASES[name](), schedule=schedule)
    n_train, n_infer = (3, 2) if name == "small" else (4, 2)
    xs, labels = digits(cfg, n_train + n_infer)
    w0 = initial_weights(cfg, seed=7)
    load_by_port = name != "small"  # the RAMs start at zero; weights go in through the port
    ref = ReferenceEngine(cfg, w0)

    async def bench(tb, ctx):
        if load_by_port:
            for k in range(len(cfg.layers)):
                await tb.write_weights(ctx, k, w0[k])
        out = []
        for n, (x, label) in enumerate(zip(xs, labels)):
            train = n < n_train
            res = await tb.run_sample(ctx, x, label, train)
            out.append((res, [await tb.read_weights(ctx, k) for k in range(len(cfg.layers))]))
        return out

    results = simulate(cfg, None if load_by_port else w0, bench)
    trained = results[n_train - 1][1]
    assert any((trained[k] != w0[k]).any() for k in range(len(cfg.layers))), "training changed no weight"
    for n, ((res, weights), x, label) in enumerate(zip(results, xs, labels)):
        train = n < n_train
        trace = ref.run(x, label, train)
        assert res.prediction == trace.prediction, f"sample {n}: prediction"
        for k, w in enumerate(ref.weights()):
            diff = np.argwhere(weights[k] != w)
            assert not len(diff), f"sample {n} layer {k}: {len(diff)} weights differ, first at {diff[0].tolist()}"
        counts = SampleCounts.from_traces(cfg, [trace], [train])
        assert res.cycles == counts.cycles[0], f"sample {n}: cycles"
        if not cfg.is_event:
            assert res.cycles == cycles(cfg, train)
        # pred_valid comes right after the output layer's forward pass (before its update)
        before = phases(cfg, train, counts)
        upto = sum(p.cycles for p in before[: [p.name for p in before].index(f"forward{len(cfg.layers) - 1}") + 1])
        assert res.pred_cycle == upto


@pytest.mark.parametrize("schedule", list(Schedule), ids=[s.value for s in Schedule])
def test_samples_stream_back_to_back_at_the_scheduled_period(schedule):
    cfg = replace(CASES["ragged-rom-sign"](), schedule=schedule)
    xs, labels = digits(cfg, 3, seed=3)
    w0 = initial_weights(cfg, seed=1)

    async def bench(tb, ctx):
        return [await tb.run_sample(ctx, x, label, bool(n % 2 == 0)) for n, (x, label) in enumerate(zip(xs, labels))]

    results = simulate(cfg, w0, bench)
    ref = ReferenceEngine(cfg, w0)
    for n, (res, x, label) in enumerate(zip(results, xs, labels)):
        trace = ref.run(x, label, n % 2 == 0)
        assert res.prediction == trace.prediction
        assert res.cycles == SampleCounts.from_traces(cfg, [trace], [n % 2 == 0]).cycles[0]


@pytest.mark.slow
@pytest.mark.parametrize("schedule", list(Schedule), ids=[s.value for s in Schedule])
def test_paper_config_one_training_sample(schedule):
    """784-500-10 with P=16: one training sample, every weight read back, cycles as the model counts them."""
    cfg = load_config("paper-784-500-10").with_schedule(schedule)
    xs, labels = digits(cfg, 1, seed=5)
    w0 = initial_weights(cfg, seed=0)

    async def bench(tb, ctx):
        res = await tb.run_sample(ctx, xs[0], labels[0], True)
        return res, [await tb.read_weights(ctx, k) for k in range(len(cfg.layers))]

    res, weights = simulate(cfg, w0, bench)
    ref = ReferenceEngine(cfg, w0)
    trace = ref.run(xs[0], labels[0], True)
    assert res.prediction == trace.prediction
    for k, w in enumerate(ref.weights()):
        assert (weights[k] == w).all(), f"layer {k}: {(weights[k] != w).sum()} weights differ"
    assert res.cycles == SampleCounts.from_traces(cfg, [trace], [True]).cycles[0]
    if not cfg.is_event:
        assert res.cycles == cycles(cfg, True) == 51382
