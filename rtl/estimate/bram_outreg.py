"""Fold the register after an ECP5 block RAM's read port into the block RAM (``DP16KD`` ``REGMODE_B = OUTREG``).

Why: a DP16KD read without its output register takes 5.8 ns from the clock to the data (nextpnr's
speed-6 model), more than half a 100 MHz cycle before any routing; with the output register the data
leaves the block RAM ~1 ns after the clock. The engine's RTL already registers every RAM word it reads
(the weight banks' output registers, ``rtl.weight_ram``), but yosys' ``synth_ecp5`` maps those registers
to fabric flip-flops and leaves ``REGMODE_B = NOREG``: it does not infer the output register. This pass
does, on the synthesised netlist (yosys JSON), before place and route:

for each DP16KD whose used port-B outputs ``DOB*`` each drive exactly one thing, the ``DI`` of a
``TRELLIS_FF`` clocked by the block RAM's ``CLKB`` (rising edge, the block RAM's global set/reset
setting, power-up value 0, no set or reset) and whose flip-flops share one clock enable or none (-> ``OCEB``), the
flip-flops are removed and the block RAM drives their outputs with ``REGMODE_B = OUTREG``. Registers
with a reset stay in the fabric: the block RAM's ``RSTB`` also clears its output latch (Lattice
does not say that it spares the latch in ``OUTREG`` mode), which would lose a word read in the
cycle the reset is asserted. Block RAMs that do not qualify are left as they are; so is port A
(yosys' ECP5 mapping writes through port A and reads through port B).

The netlist is the same circuit cycle for cycle: the output register is a D flip-flop on the read
data with the same clock and enable. tests/test_ecp5_netlist_opt.py checks the rewrite on
synthesised netlists (which registers move, which stay) and that nextpnr places, routes and times
the result.
"""

from __future__ import annotations

from .yosys_json import net_index

__all__ = ["absorb_output_registers"]

_ALWAYS = {"1", "1 "}
"""``CEMUX`` values of a flip-flop without clock enable (yosys writes ``"1 "`` with a trailing blank)."""


def _bits(conn) -> list:
    return list(conn) if isinstance(conn, list) else [conn]


def _control_set(ff: dict, gsr: str) -> tuple | None:
    """The (CLK, CE) a DP16KD output register would need for this flip-flop, or None (CE None: always).

    ``gsr`` is the DP16KD's ``GSR`` setting: its output register follows the global set/reset (to 0)
    exactly when the block RAM's does, so the flip-flop must have the same setting. (Out of context
    yosys disables GSR everywhere; on a board Amaranth's ECP5 platform drives GSR and yosys enables
    it on both the flip-flops and the block RAMs.)"""
    p, c = ff["parameters"], ff["connections"]
    if p.get("GSR", "ENABLED") != gsr or p.get("CLKMUX", "CLK") != "CLK":
        return None
    if p.get("REGSET", "RESET") != "RESET":         # the output register resets (and powers up) to 0
        return None
    ce = None
    if p.get("CEMUX", "1") not in _ALWAYS:
        if p.get("CEMUX") != "CE" or "CE" not in c:
            return None
        ce = c["CE"][0]
    if "LSR" in c and c["LSR"][0] not in ("0", 0):
        return None
    return c["CLK"][0], ce


def absorb_output_registers(netlist: dict, top: str) -> dict[str, int]:
    """Rewrite ``netlist`` (yosys JSON, in place): fold read-data registers into their DP16KD.

    Returns ``{"dp16kd": block RAMs now with OUTREG, "registers": flip-flops removed,
    "kept": DP16KD left as they were}``.
    """
    module = netlist["modules"][top]
    cells: dict = module["cells"]
    _, sinks = net_index(module)             # net -> [(cell, port)]

    done = kept = removed = 0
    for name, bram in list(cells.items()):
        if bram["type"] != "DP16KD":
            continue
        p, c = bram["parameters"], bram["connections"]
        outs = {port: conn[0] for port, conn in c.items() if port.startswith("DOB") and isinstance(conn[0], int)
                and sinks.get(conn[0])}
        plan = _plan(cells, sinks, outs, p, c)
        if plan is None:
            kept += 1
            continue
        (clk, ce), ffs = plan
        for port, ff_name in ffs.items():
            c[port] = [cells[ff_name]["connections"]["Q"][0]]
            del cells[ff_name]
        p["REGMODE_B"] = "OUTREG"
        c["OCEB"] = [ce] if ce is not None else ["1"]
        done, removed = done + 1, removed + len(ffs)
    return {"dp16kd": done, "registers": removed, "kept": kept}


def _plan(cells: dict, sinks: dict, outs: dict, p: dict, c: dict):
    """(control set, {DOB port: flip-flop}) when this DP16KD's read register can move inside it, else None."""
    if not outs or p.get("REGMODE_B", "NOREG") != "NOREG" or p.get("CLKBMUX", "CLKB") != "CLKB":
        return None
    if _bits(c.get("RSTB", ["0"]))[0] not in ("0", 0) or _bits(c.get("OCEB", ["1"]))[0] not in ("1", 1):
        return None
    ffs, control = {}, None
    for port, net in outs.items():
        users = sinks[net]
        if len(users) != 1 or users[0][1] != "DI" or cells.get(users[0][0], {}).get("type") != "TRELLIS_FF":
            return None
        ff = cells[users[0][0]]
        this = _control_set(ff, p.get("GSR", "ENABLED"))
        if this is None or this[0] != _bits(c["CLKB"])[0] or (control is not None and this != control):
            return None
        control, ffs[port] = this, users[0][0]
    return control, ffs
