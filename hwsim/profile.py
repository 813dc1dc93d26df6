"""Numerical profiling of the engine: per layer and quantity, saturation, wrap, rounding, ranges, histograms.

What hls4ml users look at to pick formats, bit-accurate with the model. :func:`profile_run` runs
sample by sample through the fast engine (``Engine.trace``, training by default) and recomputes
every quantity exactly from raw integers (numpy int64): the accumulator from the weights before
the update (so the exact, pre-overflow sum is known), each requantization with its rounding and
overflow, the output error, and the weight update with the very stochastic-rounding words the
engine draws. The recomputation is checked against the engine (z, y and delta of every sample;
weights and word counter at the end) and a mismatch raises, so the counts are the model's own.

Per value (one element of one sample), with ``pre`` the value after rounding and before overflow:

* **saturated** (``sat`` formats): ``pre`` was outside ``[min_raw, max_raw]`` and was clamped
  (``sat_hi`` above, ``sat_lo`` below). A value that merely lands on a rail is counted apart
  (``at_max``, ``at_min``). A ``sat`` accumulator counts a neuron once per sample if any of its
  additions clamped (hi and/or lo).
* **wrapped** (``wrap`` formats): ``pre`` was out of range, so the stored value is the wrapped
  one; for a ``wrap`` accumulator, the exact final sum was out of range (intermediate excursions
  that come back are harmless in modular arithmetic and are not counted).
* **rounding**: ``up`` / ``down`` / ``exact`` compare the rounded value with the exact value
  ``v / 2**d`` (d dropped bits); a step that drops no bits is exact.

Quantities (datapath order): ``input`` (pixel p/256 into the input format, layer 0), ``acc``,
``preact``, ``act`` (also ``clipped``: values the activation clamps, derivative 0), ``error``
(output layer), ``delta`` (hidden layers, or the output with ``signal: sign``), ``update`` (dW in
weight LSBs, over nonzero ``delta_j * a_i`` only: the others are 0 in every rounding) and
``weight`` (the weights those updates write). Histograms: ``msb`` counts ``bit_length(|pre|)``
(0 for zero; bin b holds magnitudes in ``[2**(b-1-F), 2**(b-F))``), ``codes`` counts each stored
raw code of formats up to 12 bits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import lfsr
from .config import TERNARY, Activation, EngineConfig, UpdateRule, product_bits
from .datasets import Dataset, PIXEL_FRAC_BITS, check_topology, quantize_inputs
from .formats import ConfigError, FixedFormat, Overflow, apply_overflow_array, shift_round_array

__all__ = ["QuantityStats", "Profile", "profile_run", "QUANTITIES"]

QUANTITIES = ("input", "acc", "preact", "act", "error", "delta", "update", "weight")
CODE_HIST_MAX_WIDTH = 12
_POW2 = np.array([1 << b for b in range(64)], dtype=np.uint64)


def _bit_length(v: np.ndarray) -> np.ndarray:
    """``int.bit_length(|v|)`` of each int64 (exact: no float conversion)."""
    mag = np.abs(v.astype(np.int64)).astype(np.uint64)
    return np.searchsorted(_POW2, mag, side="right")


def _direction(v: np.ndarray, q: np.ndarray, d: int) -> np.ndarray:
    """+1 rounded up, -1 down, 0 exact: the sign of ``q * 2**d - v``."""
    return np.sign((q << d) - v) if d > 0 else np.zeros(v.shape, dtype=np.int64)


def _activate(kind: Activation, z: np.ndarray, z_frac: int):
    """:func:`hwsim.reference.activate` on an array: (clipped value in z's scale, derivative 0/1)."""
    one = 1 << z_frac
    if kind is Activation.CLIPPED_RELU:
        return np.clip(z, 0, one), (z > 0) & (z < one)
    if kind is Activation.HARD_TANH:
        return np.clip(z, -one, one), (z > -one) & (z < one)
    half = one >> 1
    return np.clip(z + half, 0, one), (z > -half) & (z < half)


@dataclass
class QuantityStats:
    """Counts, ranges and histograms of one quantity of one layer over the profiled samples.

    ``fmt`` is the stored format (None for ``update``: integer weight LSBs); ``rounding`` the
    mode its rounding step uses ("" when it has none).
    """

    layer: int
    name: str
    fmt: FixedFormat | None
    rounding: str = ""
    n: int = 0
    sat_hi: int = 0
    sat_lo: int = 0
    wrap_hi: int = 0
    wrap_lo: int = 0
    at_max: int = 0
    at_min: int = 0
    round_up: int = 0
    round_down: int = 0
    round_exact: int = 0
    clipped: int = 0
    min_raw: int | None = None       # stored values
    max_raw: int | None = None
    pre_min_raw: int | None = None   # after rounding, before overflow (the exact sum for acc)
    pre_max_raw: int | None = None
    msb: np.ndarray = field(default_factory=lambda: np.zeros(66, dtype=np.int64), repr=False)
    codes: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.fmt is not None and self.fmt.width <= CODE_HIST_MAX_WIDTH:
            self.codes = np.zeros(1 << self.fmt.width, dtype=np.int64)

    @property
    def key(self) -> str:
        return f"L{self.layer}.{self.name}"

    @property
    def frac_bits(self) -> int:
        return self.fmt.frac_bits if self.fmt is not None else 0

    @property
    def saturated(self) -> int:
        return self.sat_hi + self.sat_lo

    @property
    def wrapped(self) -> int:
        return self.wrap_hi + self.wrap_lo

    def add(self, stored, pre=None, direction=None, hi=None, lo=None) -> None:
        """Record values: ``stored`` raw values, ``pre`` before overflow, rounding ``direction`` (+1/-1/0).

        ``hi`` / ``lo`` (boolean masks) override the out-of-range test on ``pre`` (sat accumulators).
        """
        stored = np.asarray(stored, dtype=np.int64).ravel()
        if stored.size == 0:
            return
        pre = stored if pre is None else np.asarray(pre, dtype=np.int64).ravel()
        self.n += stored.size
        fmt = self.fmt
        if fmt is not None:
            n_hi = int(np.count_nonzero(pre > fmt.max_raw if hi is None else hi))
            n_lo = int(np.count_nonzero(pre < fmt.min_raw if lo is None else lo))
            if fmt.overflow is Overflow.SAT:
                self.sat_hi += n_hi
                self.sat_lo += n_lo
            else:
                self.wrap_hi += n_hi
                self.wrap_lo += n_lo
            self.at_max += int(np.count_nonzero(stored == fmt.max_raw))
            self.at_min += int(np.count_nonzero(stored == fmt.min_raw))
            if self.codes is not None:
                self.codes += np.bincount(stored - fmt.min_raw, minlength=self.codes.size)
        if direction is not None:
            direction = np.asarray(direction).ravel()
            self.round_up += int(np.count_nonzero(direction > 0))
            self.round_down += int(np.count_nonzero(direction < 0))
            self.round_exact += int(np.count_nonzero(direction == 0))
        lo_s, hi_s, lo_p, hi_p = int(stored.min()), int(stored.max()), int(pre.min()), int(pre.max())
        self.min_raw = lo_s if self.min_raw is None else min(self.min_raw, lo_s)
        self.max_raw = hi_s if self.max_raw is None else max(self.max_raw, hi_s)
        self.pre_min_raw = lo_p if self.pre_min_raw is None else min(self.pre_min_raw, lo_p)
        self.pre_max_raw = hi_p if self.pre_max_raw is None else max(self.pre_max_raw, hi_p)
        self.msb += np.bincount(_bit_length(pre), minlength=self.msb.size)[: self.msb.size]

    def counts(self) -> dict:
        """Plain counts (what a sweep records as columns)."""
        names = ("n", "sat_hi", "sat_lo", "wrap_hi", "wrap_lo", "at_max", "at_min",
                 "round_up", "round_down", "round_exact", "clipped", "min_raw", "max_raw",
                 "pre_min_raw", "pre_max_raw")
        return {name: getattr(self, name) for name in names}

    def to_dict(self) -> dict:
        out = {"layer": self.layer, "quantity": self.name, "format": self.fmt.to_dict() if self.fmt else None,
               "rounding": self.rounding, **self.counts()}
        nz = np.flatnonzero(self.msb)
        out["msb_hist"] = {int(b): int(self.msb[b]) for b in nz}
        if self.codes is not None:
            nzc = np.flatnonzero(self.codes)
            out["code_hist"] = {int(c + self.fmt.min_raw): int(self.codes[c]) for c in nzc}
        return out


@dataclass
class Profile:
    """The statistics of every (layer, quantity) over ``samples`` samples of one engine."""

    config: str
    dataset: str
    samples: int
    train: bool
    stats: list[QuantityStats]

    def get(self, layer: int, name: str) -> QuantityStats:
        for s in self.stats:
            if s.layer == layer and s.name == name:
                return s
        raise KeyError(f"no quantity {name!r} in layer {layer}")

    def columns(self, prefix: str = "prof.") -> dict[str, int]:
        """Flat ``{"prof.L0.preact.sat_hi": count, ...}``: one column per count, for sweep tables."""
        out = {f"{prefix}samples": self.samples}
        for s in self.stats:
            out.update({f"{prefix}{s.key}.{k}": v for k, v in s.counts().items()})
        return out

    def to_dict(self) -> dict:
        return {"config": self.config, "dataset": self.dataset, "samples": self.samples, "train": self.train,
                "quantities": [s.to_dict() for s in self.stats]}

    def most_saturating(self, n: int = 3) -> list[QuantityStats]:
        """The quantities with the highest saturated + wrapped fraction (those above zero)."""
        hit = [s for s in self.stats if s.n and s.saturated + s.wrapped]
        return sorted(hit, key=lambda s: -(s.saturated + s.wrapped) / s.n)[:n]

    def table(self) -> str:
        from .profile_report import table
        return table(self)

    def plot(self, path) -> None:
        from .profile_report import plot
        plot(self, path)


# ---------------------------------------------------------------------------------------------

def _check_exact(cfg: EngineConfig) -> None:
    for k, layer in enumerate(cfg.layers):
        bits = product_bits(layer.weight, cfg.in_format(k)) + int(np.ceil(np.log2(cfg.n_cols(k) + 1)))
        if bits > 63:
            raise ConfigError(f"profiling recomputes sums in int64, but layer {k}'s exact sums need {bits} bits; "
                              f"profile engines whose products and sums fit 63 bits")


def _mismatch(s: int, k: int, what: str, mine, engine) -> None:
    mine, engine = np.asarray(mine), np.asarray(engine)
    if not np.array_equal(mine, engine):
        i = int(np.flatnonzero(mine.ravel() != engine.ravel())[0])
        raise RuntimeError(f"profile recomputation disagrees with the engine at sample {s}, layer {k}, {what}[{i}]: "
                           f"{int(mine.ravel()[i])} vs {int(engine.ravel()[i])}")


def profile_run(cfg: EngineConfig, data: Dataset, engine_or_weights, *, rng_word: int = 0,
                n_samples: int = 1000, epoch: int = 0, seed: int = 0, train: bool = True,
                split: str = "train") -> Profile:
    """Profile ``n_samples`` samples through a copy of the engine (the caller's engine is not changed).

    Parameters
    ----------
    cfg : EngineConfig
    data : Dataset
        Pixels are quantized here (the ``input`` row profiles that step).
    engine_or_weights : hwsim.fast.Engine or list of ndarray
        The state to start from: an Engine (its weights and word counter) or raw weights (then
        ``rng_word``).
    n_samples : int
        How many samples (at most the split's size): the first ``n_samples`` of epoch ``epoch``'s
        order for ``seed`` (:func:`hwsim.train_loop.epoch_order`), so profiling a run trained for
        E epochs with ``epoch=E`` sees what its next epoch would.
    train : bool
        Train on each sample (updates profiled) or only run it forward (no ``update``/``weight`` rows).
    split : str
        ``"train"`` or ``"test"``.
    """
    from .fast import Engine
    from .train_loop import epoch_order

    if isinstance(engine_or_weights, Engine):
        weights, rng_word = engine_or_weights.weights(), engine_or_weights.rng_word
    elif isinstance(engine_or_weights, (list, tuple)):
        weights = [np.asarray(w, dtype=np.int64) for w in engine_or_weights]
    else:
        raise ConfigError(f"profile_run needs a fixed-point Engine or a list of raw weight arrays, "
                          f"not {type(engine_or_weights).__name__}")
    if split not in ("train", "test"):
        raise ConfigError(f"split must be 'train' or 'test', not {split!r}")
    check_topology(data, cfg.topology[0], cfg.n_classes)
    _check_exact(cfg)
    pixels, labels = (data.x_train, data.y_train) if split == "train" else (data.x_test, data.y_test)
    order = epoch_order(seed, epoch, len(pixels))[: max(0, int(n_samples))]
    engine = Engine(cfg, weights, rng_word)
    W = [np.array(w, dtype=np.int64) for w in weights]
    L = len(cfg.layers)
    stats: dict[tuple[int, str], QuantityStats] = {}

    def stat(k: int, name: str, fmt, rounding="") -> QuantityStats:
        if (k, name) not in stats:
            stats[(k, name)] = QuantityStats(k, name, fmt, rounding.value if hasattr(rounding, "value") else rounding)
        return stats[(k, name)]

    # input: pixel p (u0.8) into the input format, all samples at once
    fin = cfg.input
    px = pixels[order].astype(np.int64)
    d_in = PIXEL_FRAC_BITS - fin.frac_bits
    q = shift_round_array(px, d_in, fin.rounding)
    x_raw = apply_overflow_array(q, fin)
    _mismatch(-1, 0, "input", x_raw, quantize_inputs(pixels[order], fin))
    stat(0, "input", fin, fin.rounding).add(x_raw, q, _direction(px, q, d_in))
    x_raw = x_raw.astype(np.int16)

    B = [None] * L
    from .params import random_vectors
    for k in cfg.hidden_layers:
        B[k] = random_vectors(cfg, k).astype(np.int64)
    words = (lfsr.word_table(cfg.rng_lfsr_bits, cfg.rng_seed).astype(np.int64)
             if train and cfg.uses_stochastic() else None)
    period = lfsr.word_period(cfg.rng_lfsr_bits)
    counter = rng_word

    for s, idx in enumerate(order):
        label = int(labels[idx])
        tr = engine.trace(x_raw[s], label, train=train)
        a = x_raw[s].astype(np.int64)
        base = counter
        for k, layer in enumerate(cfg.layers):
            acc_fmt, in_fmt = cfg.acc_format(k), cfg.in_format(k)
            a_ext = np.append(a, cfg.bias_input(k)) if cfg.bias else a
            nz_i = np.flatnonzero(a_ext)
            terms = W[k][:, nz_i] * a_ext[nz_i]
            exact = terms.sum(axis=1)
            if acc_fmt.overflow is Overflow.SAT:
                acc, hi, lo = _sat_accumulate(terms, acc_fmt)
                stat(k, "acc", acc_fmt).add(acc, exact, hi=hi, lo=lo)
            else:
                acc = apply_overflow_array(exact, acc_fmt)
                stat(k, "acc", acc_fmt).add(acc, exact)
            # pre-activation
            pf = layer.preact
            d = acc_fmt.frac_bits - pf.frac_bits
            q = shift_round_array(acc, d, pf.rounding)
            z = apply_overflow_array(q, pf)
            stat(k, "preact", pf, pf.rounding).add(z, q, _direction(acc, q, d))
            _mismatch(s, k, "z", z, tr.z[k])
            # activation
            c, deriv = _activate(layer.activation, z, pf.frac_bits)
            af = layer.act
            d = pf.frac_bits - af.frac_bits
            q = shift_round_array(c, d, af.rounding)
            y = apply_overflow_array(q, af)
            st = stat(k, "act", af, af.rounding)
            st.add(y, q, _direction(c, q, d))
            st.clipped += int(np.count_nonzero(~deriv))
            _mismatch(s, k, "y", y, tr.y[k])
            # modulatory signal
            if cfg.is_output(k):
                ef = layer.error
                t = np.zeros(layer.n_out, dtype=np.int64)
                t[label] = layer.target_one()
                v = y - t
                d = af.frac_bits - ef.frac_bits
                q = shift_round_array(v, d, ef.rounding)
                e = apply_overflow_array(q, ef)
                stat(k, "error", ef, ef.rounding).add(e, q, _direction(v, q, d))
                delta = e if layer.sends_error else np.sign(e)
                if not layer.sends_error:
                    stat(k, "delta", TERNARY).add(delta)
            else:
                delta = B[k][label] * deriv
                stat(k, "delta", TERNARY).add(delta)
            _mismatch(s, k, "delta", delta, tr.delta[k])
            if train:
                _update(cfg, k, W[k], delta, a_ext, nz_i, base, words, period, stat)
                base += _words_used(cfg, k, delta, nz_i)
            a = y
        if train:
            counter = base
    if train:
        for k, (mine, eng) in enumerate(zip(W, engine.weights())):
            _mismatch(len(order) - 1, k, "weights after the run", mine, eng)
        if counter != engine.rng_word:
            raise RuntimeError(f"profile word counter {counter} disagrees with the engine's {engine.rng_word}")
    ordered = sorted(stats.values(), key=lambda q: (q.layer, QUANTITIES.index(q.name)))
    return Profile(cfg.name, data.name, len(order), train, ordered)


def _sat_accumulate(terms: np.ndarray, fmt: FixedFormat):
    """Saturating sums in input order; (values, clamped-high mask, clamped-low mask) per neuron.

    Neurons whose exact prefix sums stay in range are exact; the others are walked one addition at a time.
    """
    prefix = np.cumsum(terms, axis=1)
    acc = prefix[:, -1].copy() if terms.shape[1] else np.zeros(terms.shape[0], dtype=np.int64)
    hi = np.zeros(terms.shape[0], dtype=bool)
    lo = np.zeros(terms.shape[0], dtype=bool)
    if not terms.shape[1]:
        return acc, hi, lo
    out = np.flatnonzero(((prefix > fmt.max_raw) | (prefix < fmt.min_raw)).any(axis=1))
    for j in out:
        v = 0
        for t in terms[j].tolist():
            v += t
            if v > fmt.max_raw:
                v, hi[j] = fmt.max_raw, True
            elif v < fmt.min_raw:
                v, lo[j] = fmt.min_raw, True
        acc[j] = v
    return acc, hi, lo


def _active_rank(cfg: EngineConfig, k: int, delta: np.ndarray) -> tuple[np.ndarray, int]:
    """Each group's rank among the active groups (docs/engine.md §11), and how many are active."""
    P, G = cfg.lanes, cfg.groups(k)
    active = np.zeros(G, dtype=bool)
    active[np.flatnonzero(delta) // P] = True
    return np.cumsum(active) - 1, int(active.sum())


def _words_used(cfg: EngineConfig, k: int, delta: np.ndarray, nz_i: np.ndarray) -> int:
    """Stochastic words layer k's update draws: P per visit (dense: every column and group)."""
    if not cfg.is_event:
        return cfg.words_per_update(k)
    return int(nz_i.size) * _active_rank(cfg, k, delta)[1] * cfg.lanes


def _update(cfg: EngineConfig, k: int, Wk: np.ndarray, delta: np.ndarray, a_ext: np.ndarray, nz_i: np.ndarray,
            base: int, words, period: int, stat) -> None:
    """Layer k's weight update on the nonzero products, applied to ``Wk`` and profiled."""
    layer = cfg.layers[k]
    nz_j = np.flatnonzero(delta)
    if not nz_j.size or not nz_i.size:
        return
    dj, ai = delta[nz_j][:, None], a_ext[nz_i][None, :]
    if layer.update_rule is UpdateRule.SIGN:
        dw = -np.sign(dj) * np.sign(ai)
        stat(k, "update", None).add(dw)
    else:
        v = -dj * ai
        d = cfg.update_drop_bits(k)
        rand = None
        if cfg.update_is_stochastic(k):
            used = min(d, cfg.rng_lfsr_bits)
            P = cfg.lanes
            if cfg.is_event:   # visit (event e, r-th active group): words base + (e * A + r) * P + p
                rank, A = _active_rank(cfg, k, delta)
                lane = rank[nz_j // P] * P + nz_j % P
                widx = (base + np.arange(nz_i.size)[None, :] * (A * P) + lane[:, None]) % period
            else:
                widx = (base + nz_i[None, :] * (cfg.groups(k) * P) + nz_j[:, None]) % period
            rand = (words[widx] & ((1 << used) - 1)) << (d - used)
        dw = shift_round_array(v, d, layer.update_rounding, rand)
        stat(k, "update", None, layer.update_rounding).add(dw, dw, _direction(v, dw, d))
    sub = np.ix_(nz_j, nz_i)
    pre = Wk[sub] + dw
    new = apply_overflow_array(pre, layer.weight)
    stat(k, "weight", layer.weight).add(new, pre)
    Wk[sub] = new
