"""rtl.estimate: area, Fmax, cycles and energy of a DRTP engine configuration, and what on-chip learning adds.

Per-sample figures (:func:`estimate` with a :class:`~rtl.estimate.workload.Workload`): the fast engine
counts each test sample's work (:mod:`.workload`), :mod:`.ops` turns the counts into operations and
cycles, :mod:`.energy` prices them. Closed form (:func:`sweep_cost`, :func:`estimate` without data,
milliseconds): every column, group and word. Area: gate/SRAM figures (:mod:`.area`). Synthesis
(:mod:`.synth`, :mod:`.flow`): yosys gate equivalents, ECP5 resources, nextpnr Fmax.
Command line: ``python -m rtl.estimate --config small [--no-data] [--synth]``.
"""

from .report import estimate, sweep_cost

__all__ = ["estimate", "sweep_cost"]
