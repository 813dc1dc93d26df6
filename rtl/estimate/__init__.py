"""rtl.estimate: area, Fmax and energy of a DRTP engine configuration, and what on-chip learning adds.

Cheap model (no tools, milliseconds): :func:`sweep_cost` / :func:`estimate` from op counts
(:mod:`.ops`), the Horowitz energy table (:mod:`.energy`) and the gate/SRAM area figures (:mod:`.area`).
Synthesis (:mod:`.synth`, :mod:`.flow`): yosys gate equivalents, ECP5 resources, nextpnr Fmax.
Command line: ``python -m rtl.estimate --config small [--synth]``.
"""

from .report import estimate, sweep_cost

__all__ = ["estimate", "sweep_cost"]
