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
from .forward import make_forward
from .jit import njit
from .plan import DOTS_MAX_PAD, LAYOUT_DOTS, SPARSE_LANES, LayerPlan, plan_layer
from .update import make_update, ternary_table

__all__ = ["MODE_INFER", "MODE_DELTA", "MODE_TRAIN", "CompiledPass", "compiled_kernels"]


# ---------------------------------------------------------------------------------------------
# Composition: one step per layer, chained; one runner over all samples (one numba call).
# ---------------------------------------------------------------------------------------------

MODE_INFER, MODE_DELTA, MODE_TRAIN = 0, 1, 2


def make_step(cfg: EngineConfig, plan: LayerPlan, period: int, nxt):
    """step(states, a, label, base, mode) -> prediction; states[0] is this layer's buffers.

    Layer k runs forward, modulatory signal and (training) update, then hands its activations
    (computed before its update) to layer k + 1's step, ``nxt``.
    """
    forward = make_forward(cfg, plan)
    delta = make_delta(cfg, plan)
    update = make_update(cfg, plan)
    OFF, N_OUT = plan.rng_offset, plan.n_out
    NOOP = plan.update_noop

    if nxt is None:
        @njit
        def step(states, a, label, base, mode):
            W, nz, acc, z, y, d, dl, B, R, T = states[0]
            n = forward(W, a, nz, acc, z, y, d)
            best = 0
            for j in range(1, N_OUT):   # first argmax of the output pre-activations
                if z[j] > z[best]:
                    best = j
            if mode != MODE_INFER:
                nonzero = delta(y, d, dl, B, label)
                if mode == MODE_TRAIN and nonzero and not NOOP:
                    update(W, dl, a, nz, n, R, T, (base + OFF) % period, nonzero)
            return best
        return step

    @njit
    def step(states, a, label, base, mode):
        W, nz, acc, z, y, d, dl, B, R, T = states[0]
        n = forward(W, a, nz, acc, z, y, d)
        if mode != MODE_INFER:
            nonzero = delta(y, d, dl, B, label)
            if mode == MODE_TRAIN and nonzero and not NOOP:
                update(W, dl, a, nz, n, R, T, (base + OFF) % period, nonzero)
        return nxt(states[1:], y, label, base, mode)
    return step


def make_runner(step, n_layers: int, n_classes: int, period: int, words_per_sample: int):
    """run(states, X, labels, order, mode, base, preds, zout, want_z) -> rng word base after the run."""
    LAST = n_layers - 1
    ADV = words_per_sample % period

    @njit
    def run(states, X, labels, order, mode, base, preds, zout, want_z):
        for t in range(order.shape[0]):
            s = order[t]
            preds[t] = step(states, X[s], labels[s], base, mode)
            if want_z:
                zl = states[LAST][3]
                for j in range(n_classes):
                    zout[t, j] = zl[j]
            if mode == MODE_TRAIN:
                base = (base + ADV) % period
        return base
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
        self.run = make_runner(step, len(cfg.layers), cfg.n_classes, self.period, self.words_per_sample)
        # everything the generated code is specialised on (the knobs are in the plans; the name is not)
        spec = {k: v for k, v in cfg.to_dict().items() if k != "name"}
        self.cache_key = cache_on_disk(self.run, spec, self.plans, self.period, self.words_per_sample)
        self.tables = self._tables(cfg)
        self.ternary = [t if (t := ternary_table(cfg, p)) is not None else np.zeros((2, 1), dtype=np.int8)
                        for p in self.plans]

    def _tables(self, cfg: EngineConfig) -> list[np.ndarray]:
        """Per layer, the low ``rand_used`` bits of every word, laid out so a slice never wraps.

        Rows layout: 1-D, the word period plus one row (n_pad words) appended. Dots layout:
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
            key = (p.rand_used, dots and p.n_pad, dots and p.n_cols)
            if key not in cache:
                dt = np.int16 if p.rand_used <= 15 else np.int32
                low = (words & np.uint32((1 << p.rand_used) - 1)).astype(dt)
                if dots:
                    m = period // p.n_pad + p.n_cols + 2
                    low = np.ascontiguousarray(low[:m * p.n_pad].reshape(m, p.n_pad).T)
                else:
                    low = low[:period + p.n_pad]
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
