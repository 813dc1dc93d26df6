"""Functional coverage of the engine's edge-case table, per bench: which corners the stimulus reached.

Bins, and where each is measured:

* **Numbers** (accumulator, pre-activation, activation, output error, weight: saturating high /
  low or wrapping; the update's stochastic rounding up / down; clipping; zero and non-zero
  modulatory signals per lane group; every label; argmax ties). These quantities live in the
  golden model, so they are counted from the golden set's per-sample records: :func:`replay`
  recomputes every training sample from the golden weights before it (the pre-overflow values
  the records do not keep: exact sums, rounded values, the update's random addends) and must
  reproduce the recorded z, y, delta and weights after it bit for bit, else it refuses
  (:class:`CoverageError`). The benches compare the RTL with those same records, so a bin hit
  here was hit, and checked, in the RTL.
* **Protocol** (an idle stall before each beat position; backpressure, a beat held valid while
  ``ready`` is low, at each beat position): counted by the bench itself (``bench.EngineTB.cov``).

A bin the config cannot reach gets its reason (computed from the formats, e.g. an exact
accumulator never overflows), not a hit. :func:`bench_coverage` merges both, :func:`table` prints
it, and a bench that must close its coverage fails on any reachable bin with no hit.
"""

from __future__ import annotations

import numpy as np

from hwsim import lfsr
from hwsim.config import Activation, EngineConfig, UpdateRule
from hwsim.formats import FixedFormat, Overflow, Rounding, apply_overflow_array, shift_round_array

__all__ = ["CoverageError", "Bins", "replay", "number_bins", "protocol_bins", "bench_coverage", "table"]


class CoverageError(ValueError):
    """The replay does not reproduce the golden set: the coverage would be of something else."""


class Bins:
    """Named bins: hits, and a reason for each bin the config cannot reach."""

    def __init__(self):
        self.hits: dict[str, int] = {}
        self.unreachable: dict[str, str] = {}
        self.source: dict[str, str] = {}

    def add(self, name: str, source: str, unreachable: str | None = None) -> None:
        self.hits.setdefault(name, 0)
        self.source[name] = source
        if unreachable:
            self.unreachable[name] = unreachable

    def hit(self, name: str, n: int = 1) -> None:
        self.hits[name] += int(n)

    def holes(self) -> list[str]:
        return [b for b, n in self.hits.items() if n == 0 and b not in self.unreachable]

    def to_dict(self) -> dict:
        return {"bins": {b: {"hits": n, "source": self.source[b], "unreachable": self.unreachable.get(b)}
                         for b, n in self.hits.items()},
                "holes": self.holes(),
                "reachable": sum(1 for b in self.hits if b not in self.unreachable),
                "hit": sum(1 for b, n in self.hits.items() if n and b not in self.unreachable)}


def _range_bins(bins: Bins, name: str, fmt: FixedFormat, lo: int, hi: int, what: str) -> None:
    """Bins of a quantity whose value before overflow lies in ``[lo, hi]``: sat high/low or wrap high/low."""
    kind = "sat" if fmt.overflow is Overflow.SAT else "wrap"
    for side, beyond in (("high", hi > fmt.max_raw), ("low", lo < fmt.min_raw)):
        why = None if beyond else (f"{what} before overflow stays in {lo}..{hi}, inside {fmt} "
                                   f"({fmt.min_raw}..{fmt.max_raw})")
        bins.add(f"{name}.{kind}_{side}", "golden", why)


def _hit_range(bins: Bins, name: str, fmt: FixedFormat, v: np.ndarray) -> None:
    kind = "sat" if fmt.overflow is Overflow.SAT else "wrap"
    bins.hit(f"{name}.{kind}_high", np.count_nonzero(v > fmt.max_raw))
    bins.hit(f"{name}.{kind}_low", np.count_nonzero(v < fmt.min_raw))


def _in_bounds(cfg: EngineConfig, k: int) -> tuple[int, int]:
    f = cfg.in_format(k)
    return f.min_raw, f.max_raw


def number_bins(cfg: EngineConfig) -> Bins:
    """Every number bin of ``cfg``, with the reason where one cannot be reached."""
    bins = Bins()
    for k, layer in enumerate(cfg.layers):
        L = f"layer{k}"
        amin, amax = _in_bounds(cfg, k)
        w = layer.weight
        corners = [w.min_raw * amin, w.min_raw * amax, w.max_raw * amin, w.max_raw * amax]
        bias = cfg.bias_input(k)
        s_hi = layer.n_in * max(corners) + (max(w.min_raw * bias, w.max_raw * bias) if cfg.bias else 0)
        s_lo = layer.n_in * min(corners) + (min(w.min_raw * bias, w.max_raw * bias) if cfg.bias else 0)
        acc = cfg.acc_format(k)
        _range_bins(bins, f"{L}.accumulator", acc, s_lo, s_hi, "every partial sum")
        a_lo, a_hi = (max(s_lo, acc.min_raw), min(s_hi, acc.max_raw))
        d = acc.frac_bits - layer.preact.frac_bits
        r_lo, r_hi = (int(shift_round_array(np.array([v]), d, layer.preact.rounding)[0]) for v in (a_lo, a_hi))
        _range_bins(bins, f"{L}.preact", layer.preact, r_lo, r_hi, "the rounded sum")
        z_lo, z_hi = max(r_lo, layer.preact.min_raw), min(r_hi, layer.preact.max_raw)
        one = 1 << layer.preact.frac_bits
        hi_at, lo_at = {Activation.CLIPPED_RELU: (one, 0), Activation.HARD_TANH: (one, -one),
                        Activation.HARD_SIGMOID: (one // 2, -(one // 2))}[layer.activation]
        bins.add(f"{L}.activation.clip_high", "golden", None if z_hi >= hi_at else f"z never reaches {hi_at}")
        bins.add(f"{L}.activation.clip_low", "golden", None if z_lo <= lo_at else f"z never reaches {lo_at}")
        c_hi = one
        c_lo = -one if layer.activation is Activation.HARD_TANH else 0
        y_hi, y_lo = (int(shift_round_array(np.array([v]), layer.preact.frac_bits - layer.act.frac_bits,
                                            layer.act.rounding)[0]) for v in (c_hi, c_lo))
        _range_bins(bins, f"{L}.activation", layer.act, y_lo, y_hi, "the clipped activation")
        if cfg.is_output(k):
            t = layer.target_one()
            ya_lo, ya_hi = max(y_lo, layer.act.min_raw), min(y_hi, layer.act.max_raw)
            e_lo, e_hi = (int(shift_round_array(np.array([v]), layer.act.frac_bits - layer.error.frac_bits,
                                                layer.error.rounding)[0]) for v in (ya_lo - t, ya_hi))
            _range_bins(bins, f"{L}.error", layer.error, e_lo, e_hi, "y - target, rounded,")
        for g in range(cfg.groups(k)):
            bins.add(f"{L}.delta.group{g}.zero", "golden")
            bins.add(f"{L}.delta.group{g}.nonzero", "golden")
        stoch = cfg.update_is_stochastic(k)
        why = None if stoch else (f"the update rounds {layer.update_rounding.value} dropping "
                                  f"{cfg.update_drop_bits(k)} bits, not stochastically")
        bins.add(f"{L}.update.stoch_up", "golden", why)
        bins.add(f"{L}.update.stoch_down", "golden", why)
        kind = "sat" if w.overflow is Overflow.SAT else "wrap"
        bins.add(f"{L}.weight.{kind}_high", "golden")
        bins.add(f"{L}.weight.{kind}_low", "golden")
    for c in range(cfg.n_classes):
        bins.add(f"label.{c}", "golden")
    bins.add("argmax.tie", "golden")
    return bins


def protocol_bins(cfg: EngineConfig, beats: int, x: np.ndarray) -> Bins:
    """Stall and backpressure bins per beat position; ``x``: the samples streamed (event reachability)."""
    bins = Bins()
    P, n_in = cfg.lanes, cfg.layers[0].n_in
    xp = np.zeros((len(x), beats * P), dtype=np.int64)
    xp[:, :n_in] = x
    busy_beat = (np.count_nonzero(xp.reshape(len(x), beats, P), axis=2) >= 2).any(axis=0)
    for b in range(beats):
        bins.add(f"stream.stall_before_beat{b}", "bench")
        why = None
        if b and not cfg.is_event:
            why = "dense: ready stays high through the whole load, only the first beat waits (while busy)"
        elif b and not busy_beat[b - 1]:
            why = f"event: no sample has two non-zero pixels in beat {b - 1}, so beat {b} never waits"
        bins.add(f"stream.backpressure_beat{b}", "bench", why)
    return bins


def _words(cfg: EngineConfig, idx: np.ndarray) -> np.ndarray:
    table = lfsr.word_table(cfg.rng_lfsr_bits, cfg.rng_seed)
    return table[idx % len(table)].astype(np.int64)


def _forward(cfg: EngineConfig, k: int, W: np.ndarray, a: np.ndarray, bins: Bins):
    """Layer k's forward pass from exact sums, counting its bins; returns (a_ext, z, y, deriv)."""
    layer, L = cfg.layers[k], f"layer{k}"
    a_ext = np.concatenate([a, [cfg.bias_input(k)]]) if cfg.bias else a
    prod = W * a_ext[None, :]
    acc_fmt = cfg.acc_format(k)
    if acc_fmt.overflow is Overflow.WRAP:
        part = np.cumsum(prod, axis=1)
        _hit_range(bins, f"{L}.accumulator", acc_fmt, part)
        acc = apply_overflow_array(part[:, -1], acc_fmt)
    else:   # saturation after every addition, in column order
        acc = np.zeros(W.shape[0], dtype=np.int64)
        for i in range(W.shape[1]):
            s = acc + prod[:, i]
            _hit_range(bins, f"{L}.accumulator", acc_fmt, s)
            acc = apply_overflow_array(s, acc_fmt)
    r = shift_round_array(acc, acc_fmt.frac_bits - layer.preact.frac_bits, layer.preact.rounding)
    _hit_range(bins, f"{L}.preact", layer.preact, r)
    z = apply_overflow_array(r, layer.preact)
    one = 1 << layer.preact.frac_bits
    if layer.activation is Activation.HARD_SIGMOID:
        v, lo = z + one // 2, 0
    else:
        v, lo = z, (-one if layer.activation is Activation.HARD_TANH else 0)
    bins.hit(f"{L}.activation.clip_high", np.count_nonzero(v >= one))
    bins.hit(f"{L}.activation.clip_low", np.count_nonzero(v <= lo))
    c = np.clip(v, lo, one)
    deriv = (v > lo) & (v < one)
    ry = shift_round_array(c, layer.preact.frac_bits - layer.act.frac_bits, layer.act.rounding)
    _hit_range(bins, f"{L}.activation", layer.act, ry)
    return a_ext, z, apply_overflow_array(ry, layer.act), deriv


def _update(cfg: EngineConfig, k: int, W: np.ndarray, a_ext: np.ndarray, delta: np.ndarray, n0: int,
            bins: Bins) -> tuple[np.ndarray, int]:
    """Layer k's update with the random words of its visits; returns (new weights, visits)."""
    layer, L = cfg.layers[k], f"layer{k}"
    P, G = cfg.lanes, cfg.groups(k)
    n_out, n_cols = W.shape
    cols = [i for i in range(n_cols) if a_ext[i] != 0 or not cfg.is_event]
    groups = [g for g in range(G) if not cfg.is_event or np.any(delta[g * P:(g + 1) * P])]
    d = cfg.update_drop_bits(k)
    rand = np.zeros((n_out, n_cols), dtype=np.int64)
    if cfg.update_is_stochastic(k) and cols and groups:
        e, r = np.meshgrid(np.arange(len(cols)), np.arange(len(groups)), indexing="ij")
        for p in range(P):
            j = np.asarray(groups)[r] * P + p
            keep = j < n_out
            idx = n0 + (e * len(groups) + r) * P + p
            words = _words(cfg, idx[keep])
            rand[j[keep], np.asarray(cols)[e[keep]]] = stochastic_word_bits_array(words, d, cfg.rng_lfsr_bits)
    v = -delta[:, None] * a_ext[None, :]
    if layer.update_rule is UpdateRule.SIGN:
        dw = -np.sign(delta)[:, None] * np.sign(a_ext)[None, :]
    else:
        dw = shift_round_array(v, d, layer.update_rounding, rand)
        if cfg.update_is_stochastic(k):
            inexact = (v & ((1 << d) - 1)) != 0
            floor = v >> d
            bins.hit(f"{L}.update.stoch_up", np.count_nonzero(inexact & (dw > floor)))
            bins.hit(f"{L}.update.stoch_down", np.count_nonzero(inexact & (dw == floor)))
    s = W + dw
    _hit_range(bins, f"{L}.weight", layer.weight, s[dw != 0])
    return apply_overflow_array(s, layer.weight), len(cols) * len(groups)


def stochastic_word_bits_array(words: np.ndarray, drop: int, lfsr_bits: int) -> np.ndarray:
    """``hwsim.reference.stochastic_word_bits`` on an array of words (the test checks they agree)."""
    used = min(drop, lfsr_bits)
    return (words & ((1 << used) - 1)) << (drop - used)


def replay(golden) -> Bins:
    """Count the number bins over a golden set's training and inference samples (see the module doc)."""
    cfg = golden.cfg
    bins = number_bins(cfg)
    K = len(cfg.layers)
    W = [w.copy() for w in golden.init_weights]
    n_word = 0    # golden.generate starts every set from a fresh engine (meta.json train.rng_word_start)

    def refuse(s, what, k):
        raise CoverageError(f"coverage replay of {golden.meta.root}: training sample {s} layer {k} {what} "
                            f"differ from the golden records; the replay does not model this config")

    for s, after in golden.iter_weights():
        label = int(golden.train_label[s])
        bins.hit(f"label.{label}")
        a = golden.train_x[s].astype(np.int64)
        for k in range(K):
            layer = cfg.layers[k]
            a_ext, z, y, deriv = _forward(cfg, k, W[k], a, bins)
            if not np.array_equal(z, golden.train_z[k][s]):
                refuse(s, "pre-activations", k)
            if not np.array_equal(y, golden.train_y[k][s]):
                refuse(s, "activations", k)
            delta = golden.train_delta[k][s].astype(np.int64)
            if not cfg.is_output(k) and not np.array_equal(delta != 0, deriv):
                refuse(s, "modulatory signals", k)
            if cfg.is_output(k):
                t = np.where(np.arange(layer.n_out) == label, layer.target_one(), 0)
                r = shift_round_array(y - t, layer.act.frac_bits - layer.error.frac_bits, layer.error.rounding)
                _hit_range(bins, f"layer{k}.error", layer.error, r)
                e = apply_overflow_array(r, layer.error)
                if not np.array_equal(e if layer.sends_error else np.sign(e), delta):
                    refuse(s, "output errors", k)
            P = cfg.lanes
            for g in range(cfg.groups(k)):
                nz = bool(np.any(delta[g * P:(g + 1) * P]))
                bins.hit(f"layer{k}.delta.group{g}.{'nonzero' if nz else 'zero'}")
            W[k], visits = _update(cfg, k, W[k], a_ext, delta, n_word, bins)
            n_word += visits * P
            if not np.array_equal(W[k], after[k]):
                refuse(s, "weights after the update", k)
            a = y
        zo = golden.train_z[-1][s]
        bins.hit("argmax.tie", int(np.count_nonzero(zo == zo.max()) > 1))
    for s in range(golden.n_infer):
        a = golden.infer_x[s].astype(np.int64)
        for k in range(K):
            _, z, a, _ = _forward(cfg, k, W[k], a, bins)
        if not np.array_equal(z, golden.infer_z[s]):
            raise CoverageError(f"coverage replay of {golden.meta.root}: inference sample {s}'s output "
                                f"pre-activations differ from the golden records")
        bins.hit("argmax.tie", int(np.count_nonzero(z == z.max()) > 1))
    return bins


def bench_coverage(golden, reports: list[dict]) -> Bins:
    """Number bins from the golden set, protocol bins from the bench reports (``report["protocol"]``)."""
    bins = replay(golden)
    beats = -(-golden.cfg.layers[0].n_in // golden.cfg.lanes)
    x = np.concatenate([golden.train_x, golden.infer_x]) if golden.n_infer else golden.train_x
    proto = protocol_bins(golden.cfg, beats, x)
    for r in reports:
        cov = r.get("protocol") or {}
        for b, n in enumerate(cov.get("stall", [])):
            proto.hit(f"stream.stall_before_beat{b}", n)
        for b, n in enumerate(cov.get("backpressure", [])):
            proto.hit(f"stream.backpressure_beat{b}", n)
    for name in proto.hits:
        bins.add(name, proto.source[name], proto.unreachable.get(name))
        bins.hit(name, proto.hits[name])
    return bins


def table(bins: Bins, title: str) -> str:
    """The coverage as a text table: bin, hits, and HOLE or the reason it cannot be reached."""
    d = bins.to_dict()
    width = max(len(b) for b in d["bins"]) if d["bins"] else 10
    lines = [f"{title}: {d['hit']} of {d['reachable']} reachable bins hit, {len(d['holes'])} holes, "
             f"{len(bins.unreachable)} unreachable"]
    for b, v in d["bins"].items():
        status = "ok" if v["hits"] and not v["unreachable"] else (
            f"unreachable: {v['unreachable']}" if v["unreachable"] else "HOLE")
        lines.append(f"  {b:<{width}} {v['hits']:>8} {v['source']:<6} {status}")
    return "\n".join(lines)
