"""Cycles and work of one sample, from its event counts (docs/engine.md §11): the contract's clock.

The model engines count the work a sample does (:class:`SampleCounts`), this module turns the
counts into the clock cycles the RTL takes (:func:`sample_cycles`), and ``rtl.schedule`` builds its
controller and manifest from the same constants. One formula, so a model's cycle count and a
simulated sample's cycle count can be compared as integers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import EngineConfig

__all__ = ["FWD_PIPE", "UPD_TAIL", "FINISH", "SampleCounts", "forward_slots", "load_cycles",
           "sample_cycles", "dense_counts", "COUNT_FIELDS"]

FWD_PIPE = 15
"""Forward steps after a group's last slot is issued, each ending in a register (docs/engine.md
§5.2): column read, the read data registered (nothing before that register: an FPGA block RAM's
output register), column registered, weight address (registered in its bank group, then in its
bank), weight RAM read, bank output registered, group output, word, each lane's operands,
products, accumulate, hand-over, requantize, activation, modulatory signal; the post-processor's
last step (the writes) is the group's P-th cycle after the modulatory signal's first, so the tail
is FWD_PIPE + P. Earlier groups' post-processing overlaps the next group's slots."""
UPD_TAIL = 14
"""Update steps after the last visit is issued: column (and active group) read data registered,
column and group registered with the delta read,
each lane's operands and the word address, products, rounding with the lane words, address
registered in its bank group and then its bank, weight RAM read, bank output registered, group
output, word, add and overflow into the group's write registers, the bank's write registers,
write (rtl.weight_ram: READ_LATENCY 6, WRITE_LATENCY 2)."""
FINISH = 1
"""The cycle that raises ``done`` before the engine accepts the next sample."""

COUNT_FIELDS = ("load", "events", "active", "visits", "writes", "changes")
"""Per-sample counts: ``load`` cycles, and per layer ``events`` (input columns that do work, bias
included), ``active`` (lane groups with a non-zero modulatory signal), ``visits`` (update
read-modify-write candidates), ``writes`` (weight words read and written back by the update) and
``changes`` (weights whose change ``dW`` is non-zero: the lanes an ``event`` write enables)."""


@dataclass
class SampleCounts:
    """Counts of N samples: ``load`` and ``cycles`` are ``(N,)``, the per-layer fields ``(N, K)`` int64.

    ``active``, ``visits``, ``writes`` and ``changes`` are 0 for samples that did not train (inference).
    ``train`` says which samples trained. :meth:`weight_reads` and :meth:`cycles` derive the rest.
    """

    cfg: EngineConfig
    train: np.ndarray
    load: np.ndarray
    events: np.ndarray
    active: np.ndarray
    visits: np.ndarray
    writes: np.ndarray
    changes: np.ndarray

    @classmethod
    def empty(cls, cfg: EngineConfig, n: int) -> "SampleCounts":
        K = len(cfg.layers)
        z = lambda: np.zeros((n, K), dtype=np.int64)  # noqa: E731
        return cls(cfg, np.zeros(n, dtype=bool), np.zeros(n, dtype=np.int64), z(), z(), z(), z(), z())

    @classmethod
    def from_traces(cls, cfg: EngineConfig, traces, train) -> "SampleCounts":
        """The counts of reference traces (:class:`hwsim.reference.SampleTrace`), one per sample."""
        c = cls.empty(cfg, len(traces))
        c.train[:] = np.asarray(train, dtype=bool)
        for n, t in enumerate(traces):
            c.load[n] = t.load
            for f in COUNT_FIELDS[1:]:
                getattr(c, f)[n] = getattr(t, f)
        return c

    def __len__(self) -> int:
        return int(self.load.shape[0])

    def weight_reads(self) -> np.ndarray:
        """Weight-memory word reads per sample and layer: forward reads plus the update's."""
        G = np.array([self.cfg.groups(k) for k in range(len(self.cfg.layers))], dtype=np.int64)
        return self.events * G + self.writes

    @property
    def cycles(self) -> np.ndarray:
        """Clock cycles per sample, first input beat to ``done`` inclusive (:func:`sample_cycles`)."""
        return np.array([sample_cycles(self.cfg, int(self.load[n]), self.events[n], self.visits[n],
                                       bool(self.train[n])) for n in range(len(self))], dtype=np.int64)

    def row(self, n: int) -> dict:
        """Sample n's counts as plain ints (the golden files' per-sample record)."""
        return {"cycles": int(self.cycles[n]), "load": int(self.load[n]),
                **{f: [int(v) for v in getattr(self, f)[n]] for f in COUNT_FIELDS[1:]}}


def forward_slots(cfg: EngineConfig, events: int) -> int:
    """Issue slots per lane group: one per event, at least P (the post-processor's P cycles per group)."""
    return max(int(events), cfg.lanes)


def load_cycles(cfg: EngineConfig, x_raw: np.ndarray) -> np.ndarray:
    """Load cycles of each sample in ``x_raw`` (N, n_in) with a stream that never stalls.

    ``dense``: one beat of P pixels per cycle. ``event``: a beat takes one cycle per non-zero pixel
    (each becomes one event), and at least one.
    """
    x = np.asarray(x_raw)
    P, n_in = cfg.lanes, cfg.layers[0].n_in
    beats = -(-n_in // P)
    if not cfg.is_event:
        return np.full(x.shape[0], beats, dtype=np.int64)
    nz = np.zeros((x.shape[0], beats * P), dtype=np.int64)
    nz[:, :n_in] = x != 0
    return np.maximum(nz.reshape(x.shape[0], beats, P).sum(axis=2), 1).sum(axis=1)


def sample_cycles(cfg: EngineConfig, load: int, events, visits, train: bool) -> int:
    """The clock cycles of one sample (§11): load, per layer forward (and update), finish."""
    total = int(load) + FINISH
    for k in range(len(cfg.layers)):
        total += cfg.groups(k) * forward_slots(cfg, events[k]) + FWD_PIPE + cfg.lanes
        if train:
            total += int(visits[k]) + UPD_TAIL
    return total


def dense_counts(cfg: EngineConfig, n: int, train: bool) -> SampleCounts:
    """What ``schedule: dense`` does for every sample: every column, every group, every word.

    ``changes`` is left 0: it depends on the data (and a dense write drives every lane anyway).
    """
    c = SampleCounts.empty(cfg, n)
    c.train[:] = train
    c.load[:] = -(-cfg.layers[0].n_in // cfg.lanes)
    for k in range(len(cfg.layers)):
        c.events[:, k] = cfg.n_cols(k)
        if train:
            c.active[:, k] = cfg.groups(k)
            c.visits[:, k] = cfg.n_cols(k) * cfg.groups(k)
            c.writes[:, k] = c.visits[:, k]
    return c
