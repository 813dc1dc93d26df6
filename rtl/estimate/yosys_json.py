"""Small helpers for rewriting a yosys JSON netlist (the ECP5 netlist passes)."""

from __future__ import annotations

from collections import defaultdict

__all__ = ["free_net", "net_index"]


def free_net(module: dict) -> int:
    """The lowest net number above every net bit the module's cells, ports and net names use."""
    top = 1
    bit_lists = [conn for cell in module["cells"].values() for conn in cell["connections"].values()]
    bit_lists += [p["bits"] for p in module.get("ports", {}).values()]
    bit_lists += [n["bits"] for n in module.get("netnames", {}).values()]
    for bits in bit_lists:
        top = max([top, *(b for b in bits if isinstance(b, int))])
    return top + 1


def net_index(module: dict) -> tuple[dict, dict]:
    """``(driver, loads)``: net -> (driving cell, port); net -> [(loading cell, port), ...], where the
    module's output ports count as loads ``("<top>", "port")``."""
    driver, loads = {}, defaultdict(list)
    for name, cell in module["cells"].items():
        dirs = cell.get("port_directions", {})
        for port, conn in cell["connections"].items():
            for bit in conn:
                if isinstance(bit, int):
                    if dirs.get(port) == "output":
                        driver[bit] = (name, port)
                    else:
                        loads[bit].append((name, port))
    for port in module.get("ports", {}).values():
        if port["direction"] != "input":
            for bit in port["bits"]:
                if isinstance(bit, int):
                    loads[bit].append(("<top>", "port"))
    return driver, loads
