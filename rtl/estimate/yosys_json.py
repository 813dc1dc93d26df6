"""Small helpers for rewriting a yosys JSON netlist (the ECP5 netlist passes)."""

from __future__ import annotations

__all__ = ["free_net"]


def free_net(module: dict) -> int:
    """The lowest net number above every net bit the module's cells, ports and net names use."""
    top = 1
    bit_lists = [conn for cell in module["cells"].values() for conn in cell["connections"].values()]
    bit_lists += [p["bits"] for p in module.get("ports", {}).values()]
    bit_lists += [n["bits"] for n in module.get("netnames", {}).values()]
    for bits in bit_lists:
        top = max([top, *(b for b in bits if isinstance(b, int))])
    return top + 1
