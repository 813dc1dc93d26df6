"""What the long runs (``make sim-long``) simulate, and what their results say.

One :class:`LongPlan` per (simulator, config): how many training samples, read-back spacing,
inference samples, stimulus. Verilator runs the full lengths of issue 18: the small and the
stress config for the whole epochs that make at least 10,000 samples, the paper-size engine one
MNIST-5k epoch (4,000 samples, read-backs every 250) and then all 1,000 test samples. Icarus
(tens of times slower) runs the same benches shorter. ``DRTP_LONG_SAMPLES`` / ``_EVERY`` /
``_INFER`` override the lengths of every config of a run (smoke runs, a bisection by hand).

:func:`results` turns the bench's report into the run's record (written as JSON by the pytest
side) and :func:`failures` says in sentences what is wrong with it; both are plain Python, so the
rules are unit-tested without a simulator (tests/test_long_plan.py).
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

__all__ = ["LONG_SWITCH", "LABELS", "LongPlan", "LongPlanError", "long_enabled", "plan_for", "whole_epochs",
           "overrides", "results", "failures", "summary_line"]

LONG_SWITCH = "DRTP_LONG"
"""Environment switch: the long runs are collected by ``make test`` but skipped unless it is 1."""

ROOT = Path(__file__).resolve().parent.parent
STRESS = ROOT / "golden" / "configs" / "small-stress.yaml"
LABELS = ("small", "stress", "paper")
MIN_SMALL_SAMPLES = 10_000      # issue 18: at least this many training samples of small and stress
EVERY = 250                     # full-weight read-back spacing of the full lengths


class LongPlanError(ValueError):
    """A bad override or label: one sentence naming the variable and what is allowed."""


@dataclass(frozen=True)
class LongPlan:
    """One long run: ``samples`` training samples in lockstep (every prediction, probe values and cycle
    count compared), all weights read back after every ``every``-th and the last, then ``infer`` test
    samples streamed with the trained weights (every prediction compared) and a final read-back."""

    label: str             # small | stress | paper
    config: str            # a name in configs/ or a path
    samples: int
    every: int
    infer: int
    stimulus: str = "data"  # golden.generate --stimulus
    note: str = ""          # why these lengths (shown in the record)

    @property
    def checkpoints(self) -> str:
        """``golden.generate --checkpoints``: full weights after these samples (the last always)."""
        return f"every:{self.every}"

    def readbacks(self) -> list[int]:
        """The training samples after which every weight is read back (what ``checkpoints`` writes)."""
        return sorted(set(range(self.every - 1, self.samples, self.every)) | {self.samples - 1})

    def golden_name(self, cfg_name: str) -> str:
        """The golden set's folder: one per config and lengths, so the simulators' sets coexist."""
        return f"{cfg_name}-{self.stimulus}-n{self.samples}-e{self.every}-i{self.infer}"


def long_enabled(env=os.environ) -> bool:
    return env.get(LONG_SWITCH, "0").strip() == "1"


def whole_epochs(n_train: int, at_least: int) -> int:
    """The fewest samples that are whole epochs of ``n_train`` and at least ``at_least``."""
    return math.ceil(at_least / n_train) * n_train


def _sizes(config: str | Path) -> tuple[int, int]:
    """(training, test) samples of the config's data set."""
    from hwsim.config import load_config
    from hwsim.datasets import load_dataset
    data = load_dataset(load_config(config).dataset)
    return data.n_train, data.n_test


def plan_for(sim: str, label: str, env=os.environ) -> LongPlan:
    """The lengths ``sim`` runs for ``label`` (small, stress, paper), with the environment's overrides."""
    if label not in LABELS:
        raise LongPlanError(f"long run label must be one of {', '.join(LABELS)}, not {label!r}")
    config = {"small": "small", "stress": str(STRESS), "paper": "paper-784-500-10"}[label]
    stimulus = "edge" if label == "stress" else "data"
    if sim == "verilator":
        n_train, n_test = _sizes(config)
        if label == "paper":
            plan = LongPlan(label, config, n_train, EVERY, n_test, stimulus,
                            "one MNIST-5k epoch, then the whole test set")
        else:
            samples = whole_epochs(n_train, MIN_SMALL_SAMPLES)
            plan = LongPlan(label, config, samples, EVERY, n_test, stimulus,
                            f"{samples // n_train} epochs of {n_train} (>= {MIN_SMALL_SAMPLES}), then the whole "
                            f"test set")
    elif sim == "icarus":
        # Icarus runs the small engine at ~7-9k cycles/s (1,321 cycles a sample) and the paper-size one
        # at ~1.4-2k (51k a sample, 26k a read-back): 250 paper samples would take about three hours;
        # these lengths took 14 min in all (docs/verification.md, Long runs)
        plan = (LongPlan(label, config, 8, 4, 8, stimulus, "Icarus: 8 samples, read-backs after 4 and 8")
                if label == "paper" else
                LongPlan(label, config, 1000, EVERY, 100, stimulus, "Icarus: 1,000 samples, 100 test samples"))
    else:
        raise LongPlanError(f"SIM must be icarus or verilator for a long run, not {sim!r}")
    return overrides(plan, env)


_OVERRIDES = {"DRTP_LONG_SAMPLES": ("samples", 1), "DRTP_LONG_EVERY": ("every", 1), "DRTP_LONG_INFER": ("infer", 0)}


def overrides(plan: LongPlan, env=os.environ) -> LongPlan:
    """``plan`` with ``DRTP_LONG_SAMPLES`` / ``DRTP_LONG_EVERY`` / ``DRTP_LONG_INFER`` applied."""
    changes = {}
    for var, (field, least) in _OVERRIDES.items():
        text = env.get(var, "").strip()
        if not text:
            continue
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < least:
            raise LongPlanError(f"{var} must be a whole number of at least {least}, not {text!r}")
        changes[field] = value
    if not changes:
        return plan
    names = ", ".join(f"{var}={env[var].strip()}" for var in _OVERRIDES if env.get(var, "").strip())
    return replace(plan, note=f"overridden by {names}", **changes)


def results(sim: str, plan: LongPlan, report: dict, extra: dict) -> dict:
    """The run's record: the plan, what was compared, the time it took, the accuracies.

    ``report`` is the bench's JSON (``test_long.long_run``); ``extra`` the pytest side's figures
    (golden generation and build times, the model's own accuracy, load averages).
    """
    train, infer = report.get("train", {}), report.get("infer", {})
    return {
        "simulator": sim, "plan": asdict(plan), "ok": bool(report.get("ok")), "mismatch": report.get("mismatch"),
        "mismatches": 0 if report.get("ok") else 1,   # the bench stops at the first (named) mismatch
        "samples": {"train": train.get("samples", 0), "infer": infer.get("samples", 0)},
        "predictions_compared": report.get("predictions", 0),
        "weights_compared": report.get("weights", 0), "padding_weights_compared": report.get("padding_weights", 0),
        "weight_readbacks": report.get("readbacks", 0), "internal_values_compared": report.get("internal_values", 0),
        "cycle_counts_compared": report.get("cycle_counts", 0), "handshake_checks": report.get("protocol_checks", 0),
        "train": train, "infer": infer,
        "accuracy": {"rtl": infer.get("rtl_accuracy"), "golden_model": infer.get("golden_accuracy"),
                     "training_run": extra.get("model_accuracy"), "training_run_note": extra.get("model_note")},
        "bench_wall_s": report.get("test_wall_s"), "sim_cycles": report.get("sim_cycles", 0),
        "cycles_per_s": report.get("cycles_per_s", 0), **{k: v for k, v in extra.items()
                                                           if k not in ("model_accuracy", "model_note")},
    }


def failures(rec: dict) -> list[str]:
    """What is wrong with a run's record, one sentence each (empty: the run passed)."""
    plan = rec["plan"]
    if not rec["ok"]:
        return [f"{rec['simulator']} long run {plan['label']}: {rec['mismatch']}"]
    out = []
    where = f"{rec['simulator']} long run {plan['label']}"
    want = {"train": plan["samples"], "infer": plan["infer"]}
    for phase, n in want.items():
        if rec["samples"][phase] < n:
            out.append(f"{where}: {rec['samples'][phase]} {phase} samples ran, the plan has {n}")
    if rec["weight_readbacks"] < len(LongPlan(**plan).readbacks()):
        out.append(f"{where}: {rec['weight_readbacks']} weight read-backs during training, the plan has "
                   f"{len(LongPlan(**plan).readbacks())}")
    acc = rec["accuracy"]
    if plan["infer"] and acc["rtl"] != acc["golden_model"]:
        out.append(f"{where}: test accuracy RTL {acc['rtl']} differs from the golden model's {acc['golden_model']}")
    if plan["infer"] and acc["training_run"] is not None and acc["rtl"] != acc["training_run"]:
        out.append(f"{where}: test accuracy RTL {acc['rtl']} differs from the training run's {acc['training_run']} "
                   f"(hwsim.train_loop.train_run, same seed and epochs)")
    return out


def summary_line(rec: dict) -> str:
    """One line for the end of the pytest session (conftest prints build/cocotb/summary)."""
    p, tr, inf, acc = rec["plan"], rec["train"], rec["infer"], rec["accuracy"]
    model = (f"{acc['training_run']:.4f}" if acc["training_run"] is not None else "n/a")
    text = (f"[{rec['simulator']} long {p['label']}] {rec['samples']['train']} training samples "
            f"(read-backs every {p['every']}), {rec['samples']['infer']} test samples: "
            f"{rec['predictions_compared']} predictions, {rec['weights_compared']} weights ({rec['weight_readbacks']} "
            f"read-backs in training, one after loading{' and one after inference' if p['infer'] else ''}), "
            f"{rec['internal_values_compared']} internal values compared; ")
    if tr:
        text += (f"training {tr.get('wall_s')} s wall ({tr.get('cycles')} cycles, {tr.get('cycles_per_s')} "
                 f"cycles/s in samples); ")
    if inf and p["infer"]:
        text += (f"inference {inf.get('wall_s')} s ({inf.get('cycles_per_s')} cycles/s); accuracy RTL "
                 f"{_fmt(acc['rtl'])} / golden model {_fmt(acc['golden_model'])} / training run {model}; ")
    text += f"load {rec.get('load_start')} -> {rec.get('load_end')}; "
    return text + ("ok" if rec["ok"] and not failures(rec) else f"FAILED: {(failures(rec) or ['?'])[0]}")


def _fmt(v) -> str:
    return "n/a" if v is None else f"{v:.4f}"
