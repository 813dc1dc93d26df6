"""The event schedule (docs/engine.md §11) of the fast engine: named edge cases against the reference.

One table of cases, each a small config and a stimulus made to reach one corner of the schedule:
samples without events, with one event or with every column an event; updates where no lane group
is active, or only some (and then in every code path: rows of whole groups in explicit vectors or
numba loops, lane by lane, output-major dots with runs of events or one event at a time); the
bias column off or with a zero input; the sign rule and deterministic rounding (no words, but
the same word count); lanes that do not divide a layer. Each case checks weights, predictions,
the word counter, traces and every sample's counts (check_equivalent), and that its stimulus did
reach the corner it is named for. Then the counting API itself.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from hwsim.config import Schedule, config_from_dict, load_config
from hwsim.cycles import SampleCounts, dense_counts, load_cycles
from hwsim.fast import Engine, compiled_kernels
from hwsim.fast.plan import LAYOUT_DOTS, LAYOUT_ROWS
from hwsim.fast.row_simd import chunk_shifts
from hwsim.fast.update import dots_stride_layout, stoch_simd_applies, ternary_table
from hwsim.params import initial_weights
from hwsim.reference import ReferenceEngine

from test_engine_equivalence import check_equivalent, first_count_difference, random_inputs

EDGE_PERIOD = 8
REPEATS = 32


def edge_stimulus(x: np.ndarray, labels: np.ndarray, max_raw: int) -> tuple[np.ndarray, np.ndarray]:
    """Of every 8 samples: #1 all zeros, #3 every input at its largest value, #5 one nonzero input,
    #7 a repeat of #6 (same label: trained twice, its errors often vanish)."""
    x, labels = x.copy(), labels.copy()
    rng = np.random.default_rng(len(x))
    for s in range(len(x)):
        case = s % EDGE_PERIOD
        if case == 1:
            x[s] = 0
        elif case == 3:
            x[s] = max_raw
        elif case == 5:
            x[s] = 0
            x[s, rng.integers(x.shape[1])] = rng.integers(1, max_raw + 1)
        elif case == 7:
            x[s], labels[s] = x[s - 1], labels[s - 1]
    return x, labels


def _config(name: str, topology, lanes: int, hidden: str = "clipped_relu", update: dict | None = None,
            out_update: dict | None = None, bias: bool = True, input_fmt: str = "u0.8", signal: str = "error",
            scale: float = 2.0, rng_bits: int = 12):
    update = update or {"rule": "shift", "shift": 3, "rounding": "stoch"}
    out_update = out_update or {"rule": "shift", "shift": 2, "rounding": "stoch"}
    layers = [{"weight": {"format": "s0.8", "overflow": "sat"}, "accumulator": {"bits": 32, "overflow": "sat"},
               "preact": {"format": "s2.7", "rounding": "rnd", "overflow": "sat"},
               "activation": {"kind": hidden, "format": "s1.7" if hidden == "hard_tanh" else "u1.7",
                              "rounding": "trn", "overflow": "sat"},
               "update": dict(update)} for _ in topology[1:-1]]
    layers.append({"weight": {"format": "s1.7", "overflow": "sat"},
                   "preact": {"format": "s3.8", "rounding": "rnd", "overflow": "sat"},
                   "activation": {"kind": "hard_sigmoid", "format": "u1.7", "rounding": "trn", "overflow": "sat"},
                   "error": {"signal": signal, "format": "s2.6", "rounding": "rnd", "overflow": "sat"},
                   "update": dict(out_update)})
    d = {"name": name, "topology": list(topology), "lanes": lanes, "bias": bias, "input": {"format": input_fmt},
         "layers": layers, "stochastic_rng": {"lfsr_bits": rng_bits, "seed": 9}, "schedule": "event",
         "init": {"kind": "uniform", "scale": scale}}
    return config_from_dict(d, origin=name)


@dataclasses.dataclass(frozen=True)
class Case:
    """A config, the fast engine's knobs, and the corners its stimulus must reach."""

    config: object          # () -> EngineConfig
    knobs: dict
    reach: tuple[str, ...]  # names in CORNERS
    samples: int = 96


# What a training trace shows when a sample reached a corner (layer k of G groups).
CORNERS = {
    "no events": lambda tr, cfg: any(e == 0 for e in tr.events),
    "one event": lambda tr, cfg: any(e == 1 for e in tr.events),
    "every column": lambda tr, cfg: any(e == cfg.n_cols(k) for k, e in enumerate(tr.events)),
    "every input, no bias event": lambda tr, cfg: tr.events[0] == cfg.layers[0].n_in,
    "no active group": lambda tr, cfg: any(a == 0 for a in tr.active),
    "some groups": lambda tr, cfg: any(0 < a < cfg.groups(k) for k, a in enumerate(tr.active)),
    "idle visits": lambda tr, cfg: any(w < v for w, v in zip(tr.writes, tr.visits)),
}

ROWS = {"dots_max_pad": 0}
CASES = {
    # inputs-major stochastic ternary hidden layers, some groups inactive: rows in 64-lane chunks
    # whose words come from up to chunk_shifts(P) offsets (P = 16: 2, P = 8: 4, P = 24: groups
    # across chunk borders), or numba loops run by run of active groups; one by one lanes
    "rows-groups-p16": Case(lambda: _config("rows-groups-p16", (30, 128, 6), 16), ROWS,
                            ("one event", "every column", "some groups", "idle visits")),
    "rows-groups-p8": Case(lambda: _config("rows-groups-p8", (30, 64, 6), 8), ROWS, ("some groups",)),
    "rows-groups-p24": Case(lambda: _config("rows-groups-p24", (30, 192, 6), 24), ROWS,
                            ("some groups", "idle visits")),
    "rows-groups-loops": Case(lambda: _config("rows-groups-loops", (30, 96, 6), 24), {**ROWS, "simd_rows": False},
                              ("some groups",)),
    "rows-sparse-lanes": Case(lambda: _config("rows-sparse-lanes", (30, 40, 6), 8), {**ROWS, "sparse_lanes": 1},
                              ("one event", "some groups", "no active group")),
    # output-major (dots) stochastic layers, 3 groups: runs of events when all are active, one
    # event at a time when some are not; 7 outputs on 3 lanes (P does not divide n_out)
    "dots-groups": Case(lambda: _config("dots-groups", (20, 12, 7), 3), {},
                        ("one event", "every column", "some groups", "no active group", "idle visits")),
    # one lane, 12 groups, a 2**19 - 1 word period: per-stride tables too big, words read one by one
    "dots-long-period": Case(lambda: _config("dots-long-period", (20, 12, 7), 1, rng_bits=19), {},
                             ("some groups", "idle visits")),
    # a non-ternary (error) output with its own rows: the generic element path with runs of groups
    "rows-error-output": Case(lambda: _config("rows-error-output", (16, 12, 24), 8, hidden="hard_tanh"), ROWS,
                              ("some groups", "idle visits")),
    # no bias column: an all-zero input is a sample without a single event
    "no-bias": Case(lambda: _config("no-bias", (20, 16, 5), 4, bias=False), {},
                    ("no events", "one event", "every column")),
    # a bias input of 0 (negative input fraction bits): the bias column is never an event
    "bias-input-zero": Case(lambda: _config("bias-input-zero", (20, 16, 5), 4, input_fmt="u9.-1"), {},
                            ("no events", "every input, no bias event")),
    # no words used, the same words counted: sign rule; deterministic rounding; sign error signal
    "sign-rule": Case(lambda: _config("sign-rule", (24, 16, 6), 4, update={"rule": "sign"},
                                      out_update={"rule": "sign"}, signal="sign"), ROWS,
                      ("one event", "some groups", "no active group")),
    "rnd-rows": Case(lambda: _config("rnd-rows", (24, 64, 6), 16, update={"rule": "shift", "shift": 6,
                                                                            "rounding": "rnd"}), ROWS,
                     ("some groups", "idle visits")),
    "trn-dots": Case(lambda: _config("trn-dots", (24, 10, 6), 2, hidden="hard_tanh",
                                     update={"rule": "shift", "shift": 9, "rounding": "trn"},
                                     out_update={"rule": "shift", "shift": 3, "rounding": "rnd_conv"}), {},
                     ("idle visits",)),
    # every hidden neuron saturated (large weights): no hidden delta, no hidden visit at all
    "saturated": Case(lambda: _config("saturated", (20, 16, 5), 4, scale=16.0), {}, ("no active group",)),
    # the shipped small engine in the event schedule
    "small": Case(lambda: dataclasses.replace(load_config("small"), schedule=Schedule.EVENT), {},
                  ("one event", "every column", "idle visits"), samples=64),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_event_case(name):
    case = CASES[name]
    cfg = case.config()
    assert cfg.is_event
    max_raw = cfg.input.max_raw
    # the samples in order, then #6 over and over: its output error (and delta) soon vanishes
    order = np.concatenate([np.arange(case.samples), np.full(REPEATS, 6)])
    traces = check_equivalent(cfg, case.samples, seed=sorted(CASES).index(name), chunk=48, n_traces=4,
                              stimulus=lambda x, y: edge_stimulus(x, y, max_raw), order=order, **case.knobs)
    for corner in case.reach:
        assert any(CORNERS[corner](tr, cfg) for tr in traces), f"{name}: no sample reached '{corner}'"


def test_cases_take_the_paths_they_are_named_for():
    """The knobs and shapes above pick the update paths the table says they exercise."""
    cfgs = {name: case.config() for name, case in CASES.items()}
    plans = {name: compiled_kernels(cfgs[name], **{"dots_max_pad": 64, **case.knobs}).plans
             for name, case in CASES.items()}
    for name, lanes, shifts in (("rows-groups-p16", 16, 2), ("rows-groups-p8", 8, 4), ("rows-groups-p24", 24, 2)):
        plan = plans[name][0]
        assert plan.layout == LAYOUT_ROWS and plan.lanes == lanes and chunk_shifts(lanes) == shifts
        assert stoch_simd_applies(plan, ternary_table(cfgs[name], plan)), name
    assert not plans["rows-groups-loops"][0].simd_rows
    assert all(p.layout == LAYOUT_DOTS and p.rand_used for p in plans["dots-groups"])
    period = compiled_kernels(cfgs["dots-groups"]).period
    assert dots_stride_layout(plans["dots-groups"][0], period) is not None
    long = compiled_kernels(cfgs["dots-long-period"])
    assert dots_stride_layout(long.plans[0], long.period) is None
    assert plans["dots-groups"][1].n_out % plans["dots-groups"][1].lanes
    out = plans["rows-error-output"][1]
    assert out.layout == LAYOUT_ROWS and ternary_table(cfgs["rows-error-output"], out) is None
    assert plans["bias-input-zero"][0].bias_one == 0 and cfgs["bias-input-zero"].bias


# -- the counting API --------------------------------------------------------------------------

def test_counts_api_and_dense_counts():
    """train/infer return counts on request only; dense counts are what dense_counts says."""
    cfg = load_config("small")
    x, labels = random_inputs(cfg, 12, 4)
    eng = Engine(cfg, initial_weights(cfg, 0))
    preds, counts = eng.train(x, labels, counts=True)
    assert isinstance(counts, SampleCounts) and len(counts) == 12 and preds.shape == (12,)
    want = dense_counts(cfg, 12, train=True)
    for f in ("train", "load", "events", "active", "visits", "writes"):
        assert np.array_equal(getattr(counts, f), getattr(want, f)), f
    p2, z, c2 = eng.infer(x, return_z=True, counts=True)
    p3, c3 = eng.infer(x, counts=True)
    assert np.array_equal(p2, p3) and np.array_equal(p2, eng.infer(x)) and z.shape == (12, cfg.n_classes)
    want = dense_counts(cfg, 12, train=False)
    for c in (c2, c3):
        assert not c.train.any() and np.array_equal(c.events, want.events)
        assert not (c.active.any() or c.visits.any() or c.writes.any())
    assert isinstance(eng.train(x, labels), np.ndarray)


def test_event_counts_follow_order_and_cycles():
    """Counts come in the order processed; load is the event load; cycles follow from them."""
    cfg = dataclasses.replace(load_config("small"), schedule=Schedule.EVENT)
    x, labels = random_inputs(cfg, 10, 6, zero_fraction=0.7)
    order = np.array([9, 3, 3, 0])
    w = initial_weights(cfg, 1)
    fast, ref = Engine(cfg, w, rng_word=5), ReferenceEngine(cfg, w, rng_word=5)
    _, counts = fast.train(x, labels, order, counts=True)
    traces = [ref.run(x[s], int(labels[s])) for s in order]
    assert first_count_difference(counts, traces, True) is None
    assert np.array_equal(counts.load, load_cycles(cfg, x[order]))
    assert fast.rng_word == ref.rng_word == 5 + 4 * sum(int(v) for v in counts.visits.sum(axis=0))
    assert counts.cycles.shape == (4,) and (counts.cycles > counts.load).all()


def test_event_word_counter_is_data_dependent():
    """Dense draws a fixed number of words per sample; event only those of its visits."""
    dense = load_config("small")
    event = dataclasses.replace(dense, schedule=Schedule.EVENT)
    x, labels = random_inputs(dense, 20, 8, zero_fraction=0.6)
    w = initial_weights(dense, 0)
    d, e = Engine(dense, w), Engine(event, w)
    d.train(x, labels)
    _, counts = e.train(x, labels, counts=True)
    assert d.rng_word == 20 * sum(dense.words_per_update(k) for k in range(2))
    assert e.rng_word == dense.lanes * int(counts.visits.sum()) < d.rng_word
    z = np.zeros_like(x[:1])            # no input event: only the bias column's visits
    before = e.rng_word
    _, c = e.train(z, labels[:1], counts=True)
    assert c.events[0, 0] == 1 and e.rng_word - before == dense.lanes * int(c.visits.sum())
