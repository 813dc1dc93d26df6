"""One compiled pass per config: the layers' kernels chained into one numba call over a whole data set.

:func:`compiled_kernels` builds (once per process and config) the layer plans, the composed
pass and its stochastic-rounding tables; :class:`hwsim.fast.engine.Engine` holds the state it runs on.
The pass compiles on its first call, or loads from the disk cache (:mod:`hwsim.fast.cache`).
"""

from __future__ import annotations

import threading

import numpy as np

from .. import lfsr
from ..config import EngineConfig
from .cache import cache_on_disk
from .delta import make_delta
from .events import make_active_groups, make_count_changes, make_count_events, make_list_events
from .forward import make_forward
from .jit import inline, njit
from .plan import DOTS_MAX_PAD, LAYOUT_DOTS, SPARSE_LANES, LayerPlan, plan_layer
from .update import dots_stride_layout, make_update, ternary_table

__all__ = ["MODE_INFER", "MODE_DELTA", "MODE_TRAIN", "COUNT_EVENTS", "COUNT_ACTIVE", "COUNT_VISITS",
           "COUNT_WRITES", "COUNT_CHANGES", "CompiledPass", "compiled_kernels"]


# ---------------------------------------------------------------------------------------------
# Composition: one step per layer, chained; one runner over all samples (one numba call).
# ---------------------------------------------------------------------------------------------

MODE_INFER, MODE_DELTA, MODE_TRAIN = 0, 1, 2
COUNT_EVENTS, COUNT_ACTIVE, COUNT_VISITS, COUNT_WRITES, COUNT_CHANGES = 0, 1, 2, 3, 4
"""Columns of the per-sample, per-layer counts the pass records (:data:`hwsim.cycles.COUNT_FIELDS` after load)."""


def make_step(cfg: EngineConfig, plan: LayerPlan, period: int, nxt):
    """step(states, a, label, ctr, mode, cnt, want) -> prediction; states[0] is this layer's buffers.

    Layer k runs forward, modulatory signal and (training) update, then hands its activations
    (computed before its update) to layer k + 1's step, ``nxt``. ``ctr[0]`` is the sample's
    first word mod the period: dense layers start at a fixed offset from it; an event layer
    starts at it and moves it (and the exact count ``ctr[1]``) on by the words it drew. With
    ``want``, row k of ``cnt`` gets the layer's events, active groups, visits, writes and changes.
    """
    forward = make_forward(cfg, plan)
    delta = make_delta(cfg, plan)
    update = make_update(cfg, plan)
    K, OFF = plan.k, plan.rng_offset
    NOOP, DOTS = plan.update_noop, plan.layout == LAYOUT_DOTS
    P, G, NC, BIAS = plan.lanes, plan.groups, plan.n_cols, int(plan.bias_one != 0)

    LAST = nxt is None   # numba prunes the dead branch of ``if LAST`` (a constant): nxt may be None

    list_events = make_list_events(plan)
    count_changes = make_count_changes(cfg, plan)

    if plan.event:
        active_groups = make_active_groups(plan)
        count_events = make_count_events(plan)

        @njit
        def step(states, a, label, ctr, mode, cnt, want):
            W, nz, acc, z, y, d, dl, B, R, T, grp, buf = states[0]
            n = forward(W, a, nz, acc, z, y, d)
            listed = not DOTS           # dots forward passes list no events: only when needed
            nA = writes = changes = 0
            if mode != MODE_INFER:
                nonzero = delta(y, d, dl, B, label)
                if mode == MODE_TRAIN and nonzero:   # no active group: no visit, no word
                    nA = active_groups(dl, grp) if G > 1 else 1   # grp[0] is 0
                    if not listed:  # the count (the dots update finds its runs in a), or the list
                        n = list_events(a, nz) if want else count_events(a)
                        listed = True
                    if want:
                        writes, changes = count_changes(dl, a, nz, n, R, ctr[0], grp, nA)
                    if not NOOP:
                        update(W, dl, a, nz, n, R, T, ctr[0], nonzero, grp, nA, buf)
                    words = (n + BIAS) * nA * P
                    ctr[0] = (ctr[0] + words) % period
                    ctr[1] += words
            if want and not listed:
                n = list_events(a, nz)
            if want:
                cnt[K, COUNT_EVENTS] = n + BIAS
                cnt[K, COUNT_ACTIVE] = nA
                cnt[K, COUNT_VISITS] = (n + BIAS) * nA
                cnt[K, COUNT_WRITES] = writes
                cnt[K, COUNT_CHANGES] = changes
            if LAST:
                return first_argmax(z)
            return nxt(states[1:], y, label, ctr, mode, cnt, want)
        return step

    @njit
    def step(states, a, label, ctr, mode, cnt, want):
        W, nz, acc, z, y, d, dl, B, R, T, grp, buf = states[0]
        n = forward(W, a, nz, acc, z, y, d)
        train = mode == MODE_TRAIN
        changes = 0
        if mode != MODE_INFER:
            nonzero = delta(y, d, dl, B, label)
            base = (ctr[0] + OFF) % period
            if want and train and nonzero:   # every visit writes; how many weights change
                if DOTS:
                    n = list_events(a, nz)
                changes = count_changes(dl, a, nz, n, R, base, grp, G)[1]
            if train and nonzero and not NOOP:
                update(W, dl, a, nz, n, R, T, base, nonzero, grp, G, buf)
        if want:   # every column and group, every visit a write
            cnt[K, COUNT_EVENTS] = NC
            cnt[K, COUNT_ACTIVE] = G if train else 0
            cnt[K, COUNT_VISITS] = NC * G if train else 0
            cnt[K, COUNT_WRITES] = NC * G if train else 0
            cnt[K, COUNT_CHANGES] = changes
        if LAST:
            return first_argmax(z)
        return nxt(states[1:], y, label, ctr, mode, cnt, want)
    return step


@inline
def first_argmax(z):
    """The output layer's prediction: the first index of the largest pre-activation."""
    best = 0
    for j in range(1, z.shape[0]):
        if z[j] > z[best]:
            best = j
    return best


def make_runner(step, n_layers: int, n_classes: int, period: int, words_per_sample: int, event: bool):
    """run(states, X, labels, order, mode, ctr, preds, zout, want_z, cnt, want):

    ``ctr`` = [first word mod the period, words drawn]: both move on in training. With ``want``,
    ``cnt[t]`` gets the counts of the t-th sample processed (:func:`make_step`).
    """
    LAST = n_layers - 1
    ADV = words_per_sample % period

    @njit
    def run(states, X, labels, order, mode, ctr, preds, zout, want_z, cnt, want):
        for t in range(order.shape[0]):
            s = order[t]
            preds[t] = step(states, X[s], labels[s], ctr, mode, cnt[t] if want else cnt[0], want)
            if want_z:
                zl = states[LAST][3]
                for j in range(n_classes):
                    zout[t, j] = zl[j]
            if mode == MODE_TRAIN and not event:
                ctr[0] = (ctr[0] + ADV) % period
                ctr[1] += words_per_sample
    return run


class CompiledPass:
    """The compiled pass of one config, its layer plans and its stochastic-rounding tables."""

    def __init__(self, cfg: EngineConfig, dots_max_pad: int, sparse_lanes: int, vnni: bool, simd_rows: bool):
        self.plans: list[LayerPlan] = [plan_layer(cfg, k, dots_max_pad, sparse_lanes, vnni, simd_rows)
                                       for k in range(len(cfg.layers))]
        self.period = lfsr.word_period(cfg.rng_lfsr_bits)
        self.words_per_sample = sum(cfg.words_per_update(k) for k in range(len(cfg.layers)))
        step = None
        for plan in reversed(self.plans):
            step = make_step(cfg, plan, self.period, step)
        self.run = make_runner(step, len(cfg.layers), cfg.n_classes, self.period, self.words_per_sample,
                               cfg.is_event)
        # everything the generated code is specialised on (the knobs are in the plans; the name is not)
        spec = {k: v for k, v in cfg.to_dict().items() if k != "name"}
        self.cache_key = cache_on_disk(self.run, spec, self.plans, self.period, self.words_per_sample)
        self.tables = self._tables(cfg)
        self.ternary = [t if (t := ternary_table(cfg, p)) is not None else np.zeros((2, 1), dtype=np.int8)
                        for p in self.plans]

    def _tables(self, cfg: EngineConfig) -> list[np.ndarray]:
        """Per layer, the low ``rand_used`` bits of every word, laid out so a slice never wraps.

        Rows layout: 1-D, the word period plus one row (n_pad words) appended, and a view: the
        row's n_pad words before word 0 (those of the period's end) lie in front of it, for the
        event schedule's chunk loads, which may start there (:mod:`hwsim.fast.row_simd`). Event
        dots layout: one table per stride, flat (:func:`hwsim.fast.update.dots_stride_layout`), or
        as dense where that is None. Dots layout:
        2-D ``T[c, m] = word[(m * n_pad + c) mod period]``, so the words of output row j from
        base b are the contiguous ``T[(b + j) % n_pad, (b + j) // n_pad:][:n_cols]``.
        """
        if not any(p.rand_used for p in self.plans):
            return [np.zeros(1, dtype=np.int16) if p.layout != LAYOUT_DOTS else np.zeros((1, 1), dtype=np.int16)
                    for p in self.plans]
        L, seed, period = cfg.rng_lfsr_bits, cfg.rng_seed, self.period
        longest = max(max(p.n_pad for p in self.plans),
                      max(p.n_pad * (period // p.n_pad + p.n_cols + 2) - period for p in self.plans))
        words = lfsr.word_table(L, seed, longest)
        tables, cache = [], {}
        for p in self.plans:
            dots = p.layout == LAYOUT_DOTS
            if not p.rand_used:
                tables.append(np.zeros((1, 1) if dots else 1, dtype=np.int16))
                continue
            strides = dots_stride_layout(p, period)
            key = (p.rand_used, p.n_pad, dots and p.n_cols, strides is not None)
            if key not in cache:
                dt = np.int16 if p.rand_used <= 15 else np.int32
                low = (words & np.uint32((1 << p.rand_used) - 1)).astype(dt)
                if strides is not None:
                    parts = []
                    for a, length in enumerate(strides[1], start=1):
                        S = a * p.lanes
                        parts.append(low[(np.arange(length)[None, :] * S + np.arange(S)[:, None]) % period].ravel())
                    low = np.concatenate(parts)
                elif dots:
                    m = period // p.n_pad + p.n_cols + 2
                    low = np.ascontiguousarray(low[:m * p.n_pad].reshape(m, p.n_pad).T)
                else:
                    low = np.concatenate([low[np.arange(-p.n_pad, 0) % period], low[:period + p.n_pad]])[p.n_pad:]
                cache[key] = low
            tables.append(cache[key])
        return tables


_CACHE: dict[tuple[str, int, int, bool, bool], CompiledPass] = {}
_CACHE_LOCK = threading.Lock()


def compiled_kernels(cfg: EngineConfig, dots_max_pad: int = DOTS_MAX_PAD,
                     sparse_lanes: int = SPARSE_LANES, vnni: bool = True, simd_rows: bool = True) -> CompiledPass:
    """The (lazily compiled) pass for ``cfg``, shared by every Engine of the same config and knobs."""
    key = (cfg.digest(), dots_max_pad, sparse_lanes, vnni, simd_rows)
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = CompiledPass(cfg, dots_max_pad, sparse_lanes, vnni, simd_rows)
        return _CACHE[key]
