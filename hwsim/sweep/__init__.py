"""Accuracy-vs-precision sweeps: a grid of engine knobs x seeds, run in parallel, resumable, plotted.

``spec`` (grid parsing and validation), ``knobs`` (what a knob does to a config), ``store`` (one
atomic JSON file per finished point), ``runner`` (local process pool or Dask), ``report``
(CSV/JSON, mean ± std table, plots), ``cost`` (the slot for hardware cost estimators).
The command line is ``python -m hwsim.sweep``.
"""

from .knobs import KNOBS, SweepError
from .spec import Point, SweepSpec, expand, load_spec, spec_from_dict

__all__ = ["KNOBS", "SweepError", "Point", "SweepSpec", "expand", "load_spec", "spec_from_dict"]
