"""Stored estimate baselines with a tolerance per metric: a regression in area, energy or Fmax fails a test.

A baseline file (``rtl/estimate/baselines/<config>.json``) maps dotted metric paths of an
:func:`rtl.estimate.report.estimate` result to ``{"value": v, "rtol": r}``; ``"worse": "lower"`` (Fmax)
or ``"higher"`` (area, energy) makes the check one-sided, otherwise both directions fail.
"""

from __future__ import annotations

import json
from pathlib import Path

from hwsim.fileio import write_json_atomic

__all__ = ["BASELINE_DIR", "DEFAULT_TOLERANCES", "lookup", "load_baseline", "check_baseline", "make_baseline",
           "write_baseline"]

BASELINE_DIR = Path(__file__).resolve().parent / "baselines"


def lookup(result: dict, path: str):
    node = result
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def load_baseline(name: str) -> dict:
    path = BASELINE_DIR / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no estimate baseline {str(path)!r}; write one with make_baseline")
    return json.loads(path.read_text())


def check_baseline(result: dict, baseline: dict, prefixes: tuple[str, ...] | None = None) -> list[str]:
    """One sentence per metric outside its tolerance (or missing); empty when all pass."""
    problems = []
    for path, spec in baseline["metrics"].items():
        if prefixes is not None and not path.startswith(prefixes):
            continue
        got, want, rtol = lookup(result, path), spec["value"], spec["rtol"]
        if got is None:
            problems.append(f"{path} is missing from the estimate (baseline {want})")
            continue
        rel = (got - want) / abs(want) if want else float(got != 0)
        worse = spec.get("worse", "both")
        bad = (abs(rel) > rtol if worse == "both" else rel > rtol if worse == "higher" else -rel > rtol)
        if bad:
            problems.append(f"{path} is {got}, baseline {want} (change {rel:+.1%}, tolerance {rtol:.0%})")
    return problems


def make_baseline(result: dict, tolerances: dict[str, tuple[float, str]]) -> dict:
    """A baseline from a result: ``{path: (rtol, worse)}`` -> the JSON-able baseline."""
    metrics = {}
    for path, (rtol, worse) in tolerances.items():
        v = lookup(result, path)
        if v is not None:
            metrics[path] = {"value": v, "rtol": rtol, "worse": worse}
    base = {"config": result["config"], "digest": result["digest"], "metrics": metrics}
    pnr = result.get("fmax") or {}
    if pnr.get("fmax_mhz"):          # recorded with the figure, not checked: what limits the clock, how long
        base["place_and_route"] = {k: pnr.get(k) for k in ("device", "critical_path", "router", "phases_s",
                                                            "seconds", "nextpnr")}
    return base


DEFAULT_TOLERANCES: dict[str, tuple[float, str]] = {
    # model: deterministic arithmetic, so tight both ways (a change means the model or config changed)
    "energy_nj_inference": (0.01, "both"), "energy_nj_train": (0.01, "both"),
    "model.total_mm2": (0.01, "both"), "model.logic_ge": (0.01, "both"), "sram_bits": (0.0, "both"),
    "cycles.inference": (0.0, "both"), "cycles.train": (0.0, "both"),
    # synthesis: tool runs vary a little; growth is the regression
    "synth.nand2_eq": (0.05, "higher"), "synth.flip_flops": (0.05, "higher"),
    "synth.learning_nand2_eq": (0.05, "higher"),
    "ecp5.lut4": (0.10, "higher"), "ecp5.ff": (0.10, "higher"), "ecp5.bram_dp16kd": (0.0, "higher"),
    "ecp5.dsp_mult18": (0.0, "higher"),
    "ice40.lut4": (0.10, "higher"), "ice40.ff": (0.10, "higher"), "ice40.ebr": (0.0, "higher"),
    "ice40.mac16": (0.0, "higher"),
    # place and route is noisy (seed, load): a 15 % drop in Fmax is the regression
    "fmax.fmax_mhz": (0.15, "lower"),
}


def write_baseline(result: dict, tolerances: dict[str, tuple[float, str]] = DEFAULT_TOLERANCES) -> Path:
    """Store ``result`` as ``baselines/<config>.json`` (run after a reviewed change of the estimates)."""
    path = BASELINE_DIR / f"{result['config']}.json"
    write_json_atomic(path, make_baseline(result, tolerances), indent=1)
    return path
