"""The engine's cycle schedule and build limits: one place for the numbers the RTL and manifest share.

The controller (:mod:`rtl.engine`, :mod:`rtl.layer`) is written against the pipeline depths here,
the generator's manifest reports :func:`cycles`, and the end-to-end test measures them.
"""

from __future__ import annotations

from dataclasses import dataclass

from hwsim.config import EngineConfig

__all__ = ["fwd_tail", "UPD_TAIL", "FINISH", "Phase", "phases", "cycles", "input_beats",
           "scaling_formula"]


def fwd_tail(cfg: EngineConfig) -> int:
    """Forward pipeline after the last read is issued: multiply-accumulate (F1), hand-over (F2), then the
    post-processor's P cycles for the last group (one lane per cycle; earlier groups overlap the MACs)."""
    return 2 + cfg.lanes


UPD_TAIL = 1
"""Update pipeline after the last read is issued: modify and write back (U1)."""
FINISH = 1
"""The cycle that raises ``done`` before the engine accepts the next sample."""


@dataclass(frozen=True)
class Phase:
    name: str
    cycles: int


def input_beats(cfg: EngineConfig) -> int:
    """Input-stream beats per sample: P pixels per beat."""
    return -(-cfg.layers[0].n_in // cfg.lanes)


def phases(cfg: EngineConfig, train: bool) -> list[Phase]:
    """The phases of one sample with a stream that never stalls, in order."""
    out = [Phase("load", input_beats(cfg))]
    for k in range(len(cfg.layers)):
        issue = cfg.groups(k) * cfg.n_cols(k)
        out.append(Phase(f"forward{k}", issue + fwd_tail(cfg)))
        if train:
            out.append(Phase(f"update{k}", issue + UPD_TAIL))
    out.append(Phase("finish", FINISH))
    return out


def cycles(cfg: EngineConfig, train: bool) -> int:
    """Clock cycles per sample: from its first input beat to ``done``, inclusive (= the sample period)."""
    return sum(p.cycles for p in phases(cfg, train))


def scaling_formula() -> str:
    return ("ceil(n_in0/P) + sum_k (1 + train) * ceil(n_out_k/P) * (n_in_k + bias) "
            f"+ (2 + P) * L + train * {UPD_TAIL} * L + {FINISH}   (L = number of layers)")
