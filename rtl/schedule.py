"""The engine's cycle schedule and build limits: the RTL side of :mod:`hwsim.cycles`.

The controller (:mod:`rtl.engine`, :mod:`rtl.layer`) is written against the pipeline depths of
:mod:`hwsim.cycles` (the contract's clock, which the model engines use for their cycle counts),
the generator's manifest reports the formula, and the benches compare every simulated sample's
cycles with the model's. ``dense`` samples all take :func:`cycles`; ``event`` samples take what
their event counts give (:func:`hwsim.cycles.sample_cycles`).
"""

from __future__ import annotations

from dataclasses import dataclass

from hwsim.config import EngineConfig
from hwsim.cycles import FINISH, FWD_PIPE, UPD_TAIL, dense_counts, forward_slots

__all__ = ["fwd_tail", "UPD_TAIL", "FINISH", "Phase", "phases", "cycles", "input_beats",
           "scaling_formula"]


def fwd_tail(cfg: EngineConfig) -> int:
    """Forward pipeline after the last slot is issued: F1..F3 (:data:`hwsim.cycles.FWD_PIPE`), then the
    post-processor's P cycles for the last group (one lane per cycle; earlier groups overlap the MACs)."""
    return FWD_PIPE + cfg.lanes


@dataclass(frozen=True)
class Phase:
    name: str
    cycles: int


def input_beats(cfg: EngineConfig) -> int:
    """Input-stream beats per sample: P pixels per beat."""
    return -(-cfg.layers[0].n_in // cfg.lanes)


def phases(cfg: EngineConfig, train: bool, counts=None, n: int = 0) -> list[Phase]:
    """The phases of one sample with a stream that never stalls, in order.

    ``counts`` (:class:`hwsim.cycles.SampleCounts`, sample ``n``) gives an event sample's phases;
    without it, the dense schedule's (every column and group).
    """
    c = counts if counts is not None else dense_counts(cfg, 1, train)
    row = n if counts is not None else 0
    out = [Phase("load", int(c.load[row]))]
    for k in range(len(cfg.layers)):
        out.append(Phase(f"forward{k}", cfg.groups(k) * forward_slots(cfg, c.events[row, k]) + fwd_tail(cfg)))
        if train:
            out.append(Phase(f"update{k}", int(c.visits[row, k]) + UPD_TAIL))
    out.append(Phase("finish", FINISH))
    return out


def cycles(cfg: EngineConfig, train: bool) -> int:
    """Clock cycles of a ``dense`` sample: from its first input beat to ``done``, inclusive (= the sample period)."""
    return sum(p.cycles for p in phases(cfg, train))


def scaling_formula(cfg: EngineConfig | None = None) -> str:
    """The cycle formula in terms of the event counts (docs/engine.md §11)."""
    load = ("sum over beats of max(1, non-zero pixels in the beat)" if cfg is not None and cfg.is_event
            else "ceil(n_in0/P)")
    return (f"{load} + sum_k [ G_k * max(E_k, P) + {FWD_PIPE} + P + train * (V_k + {UPD_TAIL}) ] + {FINISH}, "
            "G_k = ceil(n_out_k/P), E_k = columns that do work (dense: n_in_k + bias; event: non-zero inputs, "
            "plus the bias when it is on and non-zero), V_k = E_k * (groups visited: dense G_k; event: groups "
            "with a non-zero delta)")
