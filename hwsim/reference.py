"""The slow, obviously correct reference of docs/engine.md: plain Python integers, one weight at a time.

It walks the datapath in the hardware's own order (forward: group by group, input by input;
update: input by input, group by group, lane by lane) and steps the stochastic-rounding LFSR
explicitly. The fast numba model (:mod:`hwsim.fast`) must equal it bit for bit.

Both schedules (§11): ``dense`` visits every column and group; ``event`` only the non-zero inputs
(its events) and, in the update, the groups with a non-zero modulatory signal, drawing stochastic
words for those visits only and writing only the words whose P changes are not all zero. It
counts that work per sample (:class:`SampleTrace`), from which :mod:`hwsim.cycles` gives cycles.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import lfsr
from .config import Activation, EngineConfig, UpdateRule
from .cycles import load_cycles
from .formats import apply_overflow, requantize, shift_round
from . import params

__all__ = ["activate", "stochastic_word_bits", "ReferenceEngine", "SampleTrace"]


def activate(kind: Activation, z: int, z_frac: int) -> tuple[int, int]:
    """Clip a raw pre-activation; returns (clipped value in z's scale, derivative 0/1)."""
    one = 1 << z_frac
    if kind is Activation.CLIPPED_RELU:
        return min(max(z, 0), one), int(0 < z < one)
    if kind is Activation.HARD_TANH:
        return min(max(z, -one), one), int(-one < z < one)
    half = one >> 1
    return min(max(z + half, 0), one), int(-half < z < half)


def stochastic_word_bits(word: int, drop: int, lfsr_bits: int) -> int:
    """The random addend for dropping ``drop`` bits: the word's low bits, aligned to the top."""
    if drop <= 0:
        return 0
    used = min(drop, lfsr_bits)
    return (word & ((1 << used) - 1)) << (drop - used)


def sign(v: int) -> int:
    return (v > 0) - (v < 0)


@dataclass
class SampleTrace:
    """What one sample produced: per-layer pre-activations, activations, modulatory signals, and
    the work it did (:data:`hwsim.cycles.COUNT_FIELDS`), which the reference and the fast trace both fill."""

    z: list[list[int]]
    y: list[list[int]]
    delta: list[list[int]]
    prediction: int
    load: int = 0
    events: list[int] = field(default_factory=list)
    active: list[int] = field(default_factory=list)
    visits: list[int] = field(default_factory=list)
    writes: list[int] = field(default_factory=list)
    changes: list[int] = field(default_factory=list)


class ReferenceEngine:
    """State: raw weights ``W[k][j][i]`` (bias in column n_in) and the RNG word counter."""

    def __init__(self, cfg: EngineConfig, weights: list[np.ndarray], rng_word: int = 0):
        self.cfg = cfg
        self.W = [[[int(v) for v in row] for row in w] for w in weights]
        self.rng_word = rng_word
        self.B = [params.random_vectors(cfg, k).tolist() for k in cfg.hidden_layers]
        self._state = params.rng_word(cfg, rng_word) if cfg.uses_stochastic() else None

    def _next_word(self) -> int:
        """Current word, then advance L steps (L fresh bits per word)."""
        word = self._state
        self._state = lfsr.steps(self._state, self.cfg.rng_lfsr_bits, self.cfg.rng_lfsr_bits)
        return word

    def weights(self) -> list[np.ndarray]:
        return [np.array(w, dtype=np.int64) for w in self.W]

    # -- forward -----------------------------------------------------------------------------
    def _forward_layer(self, k: int, a: list[int]):
        cfg, layer = self.cfg, self.cfg.layers[k]
        acc_fmt = cfg.acc_format(k)
        a_ext = a + ([cfg.bias_input(k)] if cfg.bias else [])
        z, y, d = [], [], []
        for j in range(layer.n_out):
            acc = 0
            for i in self._columns(k, a_ext):  # a skipped zero input adds 0 to an in-range sum
                acc = apply_overflow(acc + self.W[k][j][i] * a_ext[i], acc_fmt)
            zj = requantize(acc, acc_fmt.frac_bits, layer.preact)
            clipped, dj = activate(layer.activation, zj, layer.preact.frac_bits)
            z.append(zj)
            y.append(requantize(clipped, layer.preact.frac_bits, layer.act))
            d.append(dj)
        return a_ext, z, y, d

    def _delta(self, k: int, y: list[int], d: list[int], label: int) -> list[int]:
        cfg, layer = self.cfg, self.cfg.layers[k]
        if not cfg.is_output(k):
            return [self.B[k][label][j] * d[j] for j in range(layer.n_out)]
        one = layer.target_one()
        deltas = []
        for j in range(layer.n_out):
            e = requantize(y[j] - (one if j == label else 0), layer.act.frac_bits, layer.error)
            deltas.append(e if layer.sends_error else sign(e))
        return deltas

    # -- update ------------------------------------------------------------------------------
    def _columns(self, k: int, a_ext: list[int]) -> list[int]:
        """The columns layer k works on, in order: all (dense) or its events, the non-zero inputs (event)."""
        return [i for i, ai in enumerate(a_ext) if ai != 0 or not self.cfg.is_event]

    def _update_layer(self, k: int, a_ext: list[int], delta: list[int]) -> tuple[int, int, int, int]:
        """Returns (active groups, visits, words written, non-zero weight changes)."""
        cfg, layer = self.cfg, self.cfg.layers[k]
        P = cfg.lanes
        drop = cfg.update_drop_bits(k)
        stochastic = cfg.uses_stochastic()
        groups = [g for g in range(cfg.groups(k))
                  if not cfg.is_event or any(delta[j] for j in range(g * P, min((g + 1) * P, layer.n_out)))]
        visits = writes = changes = 0
        for i in self._columns(k, a_ext):
            ai = a_ext[i]
            for g in groups:
                visits += 1
                dws = []
                for p in range(P):
                    j = g * P + p
                    word = self._next_word() if stochastic else 0
                    if j >= layer.n_out:
                        continue
                    if layer.update_rule is UpdateRule.SIGN:
                        dw = -sign(delta[j]) * sign(ai)
                    else:
                        rand = stochastic_word_bits(word, drop, cfg.rng_lfsr_bits)
                        dw = shift_round(-delta[j] * ai, drop, layer.update_rounding, rand)
                    dws.append((j, dw))
                if cfg.is_event and not any(dw for _, dw in dws):
                    continue  # the changes are known before the read: no read-modify-write
                writes += 1
                changes += sum(1 for _, dw in dws if dw)
                for j, dw in dws:
                    self.W[k][j][i] = apply_overflow(self.W[k][j][i] + dw, layer.weight)
        self.rng_word += visits * P
        return len(groups), visits, writes, changes

    # -- samples -----------------------------------------------------------------------------
    def run(self, x, label: int = 0, train: bool = True) -> SampleTrace:
        """One sample: forward layer k, then (training) its update right away, then layer k + 1."""
        a = [int(v) for v in x]
        trace = SampleTrace([], [], [], -1)
        trace.load = int(load_cycles(self.cfg, np.array([a]))[0])
        for k in range(len(self.cfg.layers)):
            a_ext, z, y, d = self._forward_layer(k, a)
            delta = self._delta(k, y, d, label)
            active = visits = writes = changes = 0
            if train:
                active, visits, writes, changes = self._update_layer(k, a_ext, delta)
            trace.events.append(len(self._columns(k, a_ext)))
            trace.active.append(active)
            trace.visits.append(visits)
            trace.writes.append(writes)
            trace.changes.append(changes)
            trace.z.append(z)
            trace.y.append(y)
            trace.delta.append(delta)
            a = y
        z_out = trace.z[-1]
        trace.prediction = max(range(len(z_out)), key=lambda j: (z_out[j], -j))
        return trace
