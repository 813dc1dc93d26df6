"""Give every ECP5 block RAM its own copy of the registers that drive it (register duplication).

Why: a weight-RAM bank of the paper-size engine is 15 DP16KD side by side in the logic (one 128-bit
word), but the placer spreads them over the die: it keeps the *bit slices* of all banks together,
because the read data (128 nets per bank) outweighs the address (11 nets). One bank address register
then drives 15 block RAMs up to 60 columns apart, 14 ns of routing (docs/estimate.md). A copy of the
register per block RAM can sit next to its block RAM; the long route moves to the register's input,
which has the whole cycle for it. This is what commercial flows call register replication for
fanout (Vivado's ``phys_opt_design``); yosys does the opposite (``opt_merge`` folds identical
registers), so it is done on the synthesised netlist (yosys JSON), before place and route.

A copy has the same type, parameters and inputs (data, clock, enable, reset) as the original, so it
holds the same value in every cycle: the circuit is unchanged, only its wiring is. Registers are
copied when their output drives pins of at least two DP16KD (and those DP16KD pins only are moved to
the copies: each DP16KD gets one copy, other loads stay on the original).
"""

from __future__ import annotations

from collections import defaultdict

from .yosys_json import free_net

__all__ = ["duplicate_bram_drivers"]


def duplicate_bram_drivers(netlist: dict, top: str, min_brams: int = 2) -> dict[str, int]:
    """Rewrite ``netlist`` (yosys JSON, in place); returns ``{"registers": originals copied, "copies": added}``."""
    module = netlist["modules"][top]
    cells: dict = module["cells"]
    driver: dict = {}
    loads: dict = defaultdict(list)              # net -> [(cell, port, index)]
    next_net = free_net(module)
    for name, cell in cells.items():
        dirs = cell.get("port_directions", {})
        for port, conn in cell["connections"].items():
            for i, bit in enumerate(conn):
                if not isinstance(bit, int):
                    continue
                if dirs.get(port) == "output":
                    driver[bit] = name
                else:
                    loads[bit].append((name, port, i))

    originals = copies = 0
    for net, users in list(loads.items()):
        ff_name = driver.get(net)
        if ff_name is None or cells[ff_name]["type"] != "TRELLIS_FF":
            continue
        by_bram: dict = defaultdict(list)
        for cell, port, i in users:
            if cells[cell]["type"] == "DP16KD":
                by_bram[cell].append((port, i))
        if len(by_bram) < min_brams:
            continue
        ff = cells[ff_name]
        for n, (bram, pins) in enumerate(sorted(by_bram.items())):
            if n == 0 and len(by_bram) == len({c for c, _, _ in users}):
                continue            # the original keeps one block RAM when it drives nothing else
            new_net, next_net = next_net, next_net + 1
            copy = {**ff, "connections": {**ff["connections"], "Q": [new_net]},
                    "attributes": dict(ff.get("attributes", {}))}
            cells[f"{ff_name}$bram{n}"] = copy
            module["netnames"][f"{ff_name}$bram{n}$q"] = {"hide_name": 1, "bits": [new_net], "attributes": {}}
            for port, i in pins:
                cells[bram]["connections"][port][i] = new_net
            copies += 1
        originals += 1
    return {"registers": originals, "copies": copies}
