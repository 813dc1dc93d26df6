"""Put a design's synchronous reset on an ECP5 global network (a DCCA), for its flip-flops' LSR pins.

Why: the board top resets the engine from its protocol (the ``Z`` command), its button and the
power-on reset, one LUT whose output reaches the LSR pin of ~12,800 flip-flops of the paper-size
engine. nextpnr-ecp5 promotes only clocks to the global networks, so that net was routed through the
general interconnect to every slice of the die: it doubled the board's wirelength against the same
engine placed out of context (where the reset is a port, left unrouted) and router2 did not converge.
Every slice's LSR input can be reached from the global (HPBX) wires, so a DCCA in front of those pins
takes the net off the general routing. The other loads of the net (LUT inputs) stay on the original
net: the global network reaches LSR, CE and clock pins only.

The circuit is unchanged (a DCCA with CE tied high is a buffer); nextpnr places and routes the DCCA.
"""

from __future__ import annotations

from collections import defaultdict

from .yosys_json import free_net

__all__ = ["promote_reset_nets", "MIN_LSR_LOADS"]

MIN_LSR_LOADS = 1000
"""A net reaching at least this many flip-flop LSR pins goes on a global network."""

MAX_GLOBALS = 4
"""At most this many reset nets are promoted (ECP5 has 8 fabric-reachable globals; clocks need some)."""


def promote_reset_nets(netlist: dict, top: str, min_loads: int = MIN_LSR_LOADS) -> dict[str, int]:
    """Rewrite ``netlist`` (yosys JSON, in place); returns ``{"nets": promoted, "lsr_pins": moved}``."""
    module = netlist["modules"][top]
    cells: dict = module["cells"]
    lsr: dict = defaultdict(list)                # net -> flip-flops whose LSR it drives
    driven: set = set()
    next_net = free_net(module)
    for name, cell in cells.items():
        for port, conn in cell["connections"].items():
            for bit in conn:
                if isinstance(bit, int) and cell.get("port_directions", {}).get(port) == "output":
                    driven.add(bit)
        if cell["type"] == "TRELLIS_FF" and isinstance(cell["connections"].get("LSR", [None])[0], int):
            lsr[cell["connections"]["LSR"][0]].append(name)
    # only nets a cell drives: a top-level port out of context has no source nextpnr can route from
    big = sorted((n for n, ffs in lsr.items() if len(ffs) >= min_loads and n in driven),
                 key=lambda n: -len(lsr[n]))[:MAX_GLOBALS]
    moved = 0
    for k, net in enumerate(big):
        glb = next_net
        next_net += 1
        cells[f"$reset_dcca{k}"] = {
            "hide_name": 1, "type": "DCCA", "parameters": {}, "attributes": {},
            "port_directions": {"CLKI": "input", "CE": "input", "CLKO": "output"},
            "connections": {"CLKI": [net], "CE": ["1"], "CLKO": [glb]}}
        module["netnames"][f"$reset_dcca{k}$o"] = {"hide_name": 1, "bits": [glb], "attributes": {}}
        for ff in lsr[net]:
            cells[ff]["connections"]["LSR"] = [glb]
            moved += 1
    return {"nets": len(big), "lsr_pins": moved}
