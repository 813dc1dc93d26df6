"""The fast golden model: integer-only, batch 1, bit-identical to :mod:`hwsim.reference`.

One :class:`Engine` holds the raw weights and the stochastic-rounding word counter of one
engine; a pass over N samples (training or inference) is one call of the config's compiled pass
(:mod:`hwsim.fast.compiled`), in the config's schedule (docs/engine.md §11: under ``event`` the
words a sample draws depend on its data). On request a pass also counts each sample's work
(:class:`hwsim.cycles.SampleCounts`), as the reference's traces record it.
"""

from __future__ import annotations

import numpy as np

from ..config import EngineConfig
from ..cycles import COUNT_FIELDS, SampleCounts, load_cycles
from ..formats import ConfigError
from ..params import random_vectors
from ..reference import SampleTrace
from .compiled import (COUNT_ACTIVE, COUNT_CHANGES, COUNT_EVENTS, COUNT_VISITS, COUNT_WRITES, MODE_DELTA,
                       MODE_INFER, MODE_TRAIN, compiled_kernels)
from .plan import DOTS_MAX_PAD, LAYOUT_DOTS, SPARSE_LANES
from .update import event_buffer_shape

__all__ = ["Engine"]


def _aligned_zeros(shape, dtype, align: int = 64) -> np.ndarray:
    """Zeros whose first element sits on an ``align``-byte boundary: a row of n_pad weights is then
    whole cache lines (numpy's large arrays start 16 bytes past a page, and every 64-byte vector
    of a row would straddle two lines)."""
    n = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = np.zeros(n + align, dtype=np.uint8)
    start = -raw.ctypes.data % align
    return raw[start:start + n].view(dtype).reshape(shape)


class Engine:
    """Fast bit-accurate engine.

    Parameters
    ----------
    cfg : EngineConfig
        The engine.
    weights : list of ndarray
        Raw weights, one ``(n_out, n_cols)`` integer array per layer (bias = last column), each
        value within the layer's weight format. They are copied in.
    rng_word : int
        Index of the next stochastic-rounding word (the counter :class:`ReferenceEngine` keeps).
    dots_max_pad : int, optional
        Speed knob, no effect on results: layers with at most this many padded lanes
        (``groups * lanes``) store weights output-major and run dense dot products; wider ones
        store them inputs-major and skip zero inputs. Tests force either layout with it.
    sparse_lanes : int, optional
        Speed knob, no effect on results: an inputs-major layer whose nonzero deltas times
        this is at most its padded lanes updates lane by lane instead of whole rows (8x
        this for non-stochastic ternary updates, whose full rows are cheaper; 1: always
        when possible). Tests force the lane-by-lane path with it.
    vnni : bool, optional
        Speed knob, no effect on results: on hosts with AVX-512 VNNI, inputs-major layers of
        unsigned 8-bit inputs and 8-bit weights accumulate four input rows per ``vpdpbusd``
        (:mod:`hwsim.fast.vnni`). False forces the portable path.
    simd_rows : bool, optional
        Speed knob, no effect on results: full-row ternary updates of inputs-major layers
        (sign rule, rounded shifts, stochastic rounding) run in explicit 512-bit vectors
        (:mod:`hwsim.fast.row_simd`). False forces numba's loops of the same arithmetic.
    """

    def __init__(self, cfg: EngineConfig, weights: list[np.ndarray], rng_word: int = 0, *,
                 dots_max_pad: int = DOTS_MAX_PAD, sparse_lanes: int = SPARSE_LANES, vnni: bool = True,
                 simd_rows: bool = True):
        if not isinstance(rng_word, (int, np.integer)) or isinstance(rng_word, bool) or rng_word < 0:
            raise ConfigError(f"rng_word must be a non-negative integer, not {rng_word!r}")
        cfg.check_weights(weights)  # before compiling: a bad call costs nothing
        self.cfg = cfg
        self._k = compiled_kernels(cfg, dots_max_pad, sparse_lanes, vnni, simd_rows)
        self._rng_word = int(rng_word)
        self._states = []
        for k, (plan, w) in enumerate(zip(self._k.plans, weights)):
            w = np.asarray(w)
            if plan.layout == LAYOUT_DOTS:
                flat = _aligned_zeros((plan.n_out, plan.n_cols), plan.w_dtype)
                flat[:] = w                                      # (n_out, n_cols)
            else:
                flat = _aligned_zeros((plan.n_cols, plan.n_pad), plan.w_dtype)
                flat[:, :plan.n_out] = w.T                       # (n_cols, n_pad), padding lanes 0
            B = (random_vectors(cfg, k) if not plan.last
                 else np.zeros((1, 1), dtype=np.int8))
            buf = np.zeros(event_buffer_shape(plan) if plan.event else (1, 1), dtype=np.int64)
            self._states.append((
                flat.reshape(-1),                                    # W
                np.zeros(plan.n_in + 1, dtype=np.int32),             # nonzero inputs, then the bias
                _aligned_zeros(plan.acc_len, plan.acc_dtype),        # accumulators (+ VNNI scratch)
                np.zeros(plan.n_out, dtype=np.int32),                # z
                np.zeros(plan.n_out, dtype=plan.y_dtype),            # y
                np.zeros(plan.n_out, dtype=np.int8),                 # derivative
                np.zeros(plan.n_pad, dtype=plan.dl_dtype),           # delta (padding stays 0)
                np.ascontiguousarray(B),
                self._k.tables[k],
                self._k.ternary[k],
                np.arange(plan.groups, dtype=np.int32),              # active lane groups (dense: all)
                buf,
            ))
        self._states = tuple(self._states)

    # -- state -------------------------------------------------------------------------------
    @property
    def rng_word(self) -> int:
        """Index of the next stochastic-rounding word."""
        return self._rng_word

    def weights(self) -> list[np.ndarray]:
        """Raw weights in the canonical ``(n_out, n_cols)`` int64 layout."""
        out = []
        for plan, st in zip(self._k.plans, self._states):
            if plan.layout == LAYOUT_DOTS:
                out.append(st[0].reshape(plan.n_out, plan.n_cols).astype(np.int64))
            else:
                w = st[0].reshape(plan.n_cols, plan.n_pad)[:, :plan.n_out]
                out.append(np.ascontiguousarray(w.T.astype(np.int64)))
        return out

    # -- inputs ------------------------------------------------------------------------------
    def _inputs(self, x_raw) -> np.ndarray:
        x = np.asarray(x_raw)
        n_in, fmt = self.cfg.layers[0].n_in, self.cfg.input
        if x.ndim != 2 or x.shape[1] != n_in:
            raise ConfigError(f"x_raw must be an (N, {n_in}) array of raw inputs, not shape {x.shape}")
        if not np.issubdtype(x.dtype, np.integer):
            raise ConfigError(f"x_raw must hold raw integers within the input format {fmt} "
                              f"({fmt.min_raw}..{fmt.max_raw}), not {x.dtype}")
        info = np.iinfo(x.dtype)
        in_range = fmt.min_raw <= info.min and info.max <= fmt.max_raw  # no scan needed
        if x.size and not in_range and not fmt.contains(x):
            raise ConfigError(f"x_raw must hold raw integers within the input format {fmt} "
                              f"({fmt.min_raw}..{fmt.max_raw})")
        return np.ascontiguousarray(x, dtype=self._k.plans[0].in_dtype)

    def _labels(self, labels, n: int) -> np.ndarray:
        y = np.asarray(labels)
        if y.shape != (n,):
            raise ConfigError(f"labels must be a length-{n} array (one per sample), not shape {y.shape}")
        if n and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0 or y.max() >= self.cfg.n_classes):
            raise ConfigError(f"labels must be integers in 0..{self.cfg.n_classes - 1}")
        return np.ascontiguousarray(y, dtype=np.int64)

    def _order(self, order, n: int) -> np.ndarray:
        if order is None:
            return np.arange(n, dtype=np.int64)
        o = np.asarray(order)
        if o.ndim != 1 or not np.issubdtype(o.dtype, np.integer) or (o.size and (o.min() < 0 or o.max() >= n)):
            raise ConfigError(f"order must be a 1-D array of sample indices in 0..{n - 1}")
        return np.ascontiguousarray(o, dtype=np.int64)

    def _run(self, x, labels, order, mode, want_z=False, want_counts=False):
        n, K = order.shape[0], len(self.cfg.layers)
        preds = np.empty(n, dtype=np.int64)
        zout = np.zeros((n if want_z else 0, self.cfg.n_classes), dtype=np.int32)
        cnt = np.zeros((n if want_counts else 1, K, len(COUNT_FIELDS) - 1), dtype=np.int64)
        ctr = np.array([self._rng_word % self._k.period, 0], dtype=np.int64)
        self._k.run(self._states, x, labels, order, mode, ctr, preds, zout, want_z, cnt, want_counts)
        if mode == MODE_TRAIN:
            self._rng_word += int(ctr[1])
        counts = None
        if want_counts:
            counts = SampleCounts.empty(self.cfg, n)
            counts.train[:] = mode == MODE_TRAIN
            counts.load[:] = load_cycles(self.cfg, x[order])
            for f, c in (("events", COUNT_EVENTS), ("active", COUNT_ACTIVE), ("visits", COUNT_VISITS),
                         ("writes", COUNT_WRITES), ("changes", COUNT_CHANGES)):
                getattr(counts, f)[:] = cnt[:, :, c]
        return preds, zout, counts

    # -- passes ------------------------------------------------------------------------------
    def train(self, x_raw: np.ndarray, labels: np.ndarray, order: np.ndarray | None = None, *,
              counts: bool = False):
        """Train sample by sample (in ``order``, default 0..N-1).

        Returns the prediction made for each processed sample before its updates, in the order
        processed; with ``counts``, ``(predictions, SampleCounts)``: the work of each processed
        sample (:class:`hwsim.cycles.SampleCounts`, rows in the order processed). Counting the
        writes and weight changes costs time (784-500-10: ~5x); without ``counts`` nothing is counted.
        """
        x = self._inputs(x_raw)
        y = self._labels(labels, x.shape[0])
        o = self._order(order, x.shape[0])
        preds, _, c = self._run(x, y, o, MODE_TRAIN, want_counts=counts)
        return (preds, c) if counts else preds

    def infer(self, x_raw: np.ndarray, return_z: bool = False, *, counts: bool = False):
        """Predictions (first argmax of the output pre-activations); no state changes.

        With ``return_z``, also the output pre-activations as an ``(N, n_classes)`` int32 array;
        with ``counts``, also the work of each sample (:class:`hwsim.cycles.SampleCounts`, no
        update: ``active``, ``visits``, ``writes`` and ``changes`` are 0): ``(preds, [z,] counts)``.
        """
        x = self._inputs(x_raw)
        n = x.shape[0]
        preds, z, c = self._run(x, np.zeros(n, dtype=np.int64), np.arange(n, dtype=np.int64), MODE_INFER,
                                want_z=return_z, want_counts=counts)
        out = (preds,) + ((z,) if return_z else ()) + ((c,) if counts else ())
        return out if len(out) > 1 else preds

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predictions for real-valued inputs (N, n_in) or uint8 pixels: quantized inside, then :meth:`infer`.

        uint8 arrays are read as pixels 0..255 (:func:`hwsim.datasets.quantize_inputs`); any other
        array as real values (:func:`hwsim.datasets.quantize_float_inputs`), e.g. intensities in [0, 1].
        """
        from ..datasets import quantize_float_inputs, quantize_inputs
        x = np.asarray(x)
        raw = quantize_inputs(x, self.cfg.input) if x.dtype == np.uint8 else quantize_float_inputs(x, self.cfg.input)
        return self.infer(raw)

    def trace(self, x_raw_1d: np.ndarray, label: int = 0, *, train: bool = False) -> SampleTrace:
        """One sample through the same compiled pass, with what ReferenceEngine.run records (counts included).

        By default a read: the weights and the word counter are left as they were (the modulatory
        signal is still computed and recorded). With ``train=True`` the sample also trains the
        engine, exactly as :meth:`train` on that one sample would.
        """
        x = self._inputs(np.asarray(x_raw_1d).reshape(1, -1))
        y = self._labels(np.array([label]), 1)
        preds, _, c = self._run(x, y, np.zeros(1, dtype=np.int64), MODE_TRAIN if train else MODE_DELTA,
                                want_counts=True)
        tr = SampleTrace([], [], [], int(preds[0]), load=int(c.load[0]),
                         **{f: [int(v) for v in getattr(c, f)[0]] for f in COUNT_FIELDS[1:]})
        for plan, st in zip(self._k.plans, self._states):
            tr.z.append([int(v) for v in st[3]])
            tr.y.append([int(v) for v in st[4]])
            tr.delta.append([int(v) for v in st[6][:plan.n_out]])
        return tr
