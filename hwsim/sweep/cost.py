"""The slot for each sweep point's hardware cost (area, energy, ...): empty until the estimators exist.

An estimator is a pure function ``estimate(cfg: EngineConfig) -> {metric: value}`` (e.g.
``{"area_mm2": ..., "energy_nj_per_sample": ...}``). Costs are computed by the report from each
point's stored config, not by the workers, so plugging an estimator in later needs no rerun:
``python -m hwsim.sweep SPEC --cost package.module:function`` (or :func:`set_cost_estimator`).
With no estimator the reports have no cost columns and no Pareto plot: no placeholder numbers.
"""

from __future__ import annotations

import importlib
from typing import Callable, Mapping

from ..config import EngineConfig
from .knobs import SweepError

__all__ = ["CostEstimator", "set_cost_estimator", "load_cost_estimator", "hardware_cost"]

CostEstimator = Callable[[EngineConfig], Mapping[str, float]]

_ESTIMATOR: CostEstimator | None = None


def set_cost_estimator(fn: CostEstimator | None) -> None:
    """Install (or with None remove) the function that gives a config's hardware cost."""
    global _ESTIMATOR
    if fn is not None and not callable(fn):
        raise SweepError(f"a cost estimator must be callable, not {fn!r}")
    _ESTIMATOR = fn


def load_cost_estimator(ref: str) -> CostEstimator:
    """``package.module:function`` -> the function (installed as the estimator)."""
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise SweepError(f"--cost must name a function as package.module:function, not {ref!r}")
    try:
        fn = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise SweepError(f"cannot load cost estimator {ref!r} ({exc})") from None
    set_cost_estimator(fn)
    return fn


def hardware_cost(cfg: EngineConfig) -> dict[str, float] | None:
    """The installed estimator's figures for ``cfg``, or None when no estimator is installed."""
    if _ESTIMATOR is None:
        return None
    return {str(k): float(v) for k, v in dict(_ESTIMATOR(cfg)).items()}
