"""Fold a multiplier's operand and product registers into the ECP5 MULT18X18D (``REG_INPUTA/B``, ``REG_OUTPUT``).

Why: the engine registers both sides of every multiplier (a MAC lane's two operands and its product,
``rtl.mac``; a weight-change lane's delta, input and product, ``rtl.update.WeightChange``), but
yosys' ``synth_ecp5`` maps those registers to fabric flip-flops and the MULT18X18D stays
combinational (3.9 ns in nextpnr's speed-6 model). The placer then puts the DSP tens of tiles from
both registers: on the floorplanned paper-size engine the critical path was a weight-change lane's
operand register -> MULT18X18D -> product register, 4.45 ns of logic and 8.4 ns of routing
(docs/rtl.md, Timing). With the registers inside the DSP the multiply has the cycle to itself and
the routes on either side start or end at a register.

A MULT18X18D qualifies when every connected pin of A, of B and of P (the product bits something
reads) goes to or comes from a ``TRELLIS_FF`` that does nothing else (A / B: the flip-flop's Q drives
only that operand's pins of this DSP; P: the product bit drives only the flip-flop's D), with one
clock (rising edge) for all three, no clock enable, one global set/reset setting (the DSP takes it), reset value 0
and one reset net per operand / product (or none), synchronous or asynchronous alike for all. The
flip-flops are removed; the DSP gets ``REG_INPUTA_CLK = REG_INPUTB_CLK = REG_OUTPUT_CLK = "CLK0"``,
their resets on ``RST0`` / ``RST1`` / ``RST2`` (``RESETMODE`` from the flip-flops), clock enable
``CE0`` tied high. Both operands and the product fold together or not at all: nextpnr times a
MULT18X18D with one operand registered as if neither were (``ecp5/pack.cc``), and the engine's
multipliers have both sides registered anyway.

Same circuit, cycle for cycle: the registers keep their clock, reset and (absent) enable, only their
place moves. tests/test_ecp5_netlist_opt.py checks the rewrite on a synthesised multiplier and that
nextpnr times the result.
"""

from __future__ import annotations

from .yosys_json import net_index

__all__ = ["absorb_multiplier_registers"]

_ALWAYS = {"1", "1 "}
"""``CEMUX`` values of a flip-flop without clock enable (yosys writes ``"1 "`` with a trailing blank)."""
_SRMODE = {"LSR_OVER_CE": "SYNC", "ASYNC": "ASYNC"}
"""A flip-flop's reset mode -> the MULT18X18D's ``RESETMODE`` (its registers share one)."""


def _controls(ff: dict) -> tuple | None:
    """(clock, reset net or None, RESETMODE or None, GSR) of a flip-flop a DSP register can replace, else None."""
    p, c = ff["parameters"], ff["connections"]
    if p.get("CLKMUX", "CLK") != "CLK" or p.get("CEMUX", "1") not in _ALWAYS or p.get("REGSET", "RESET") != "RESET":
        return None
    lsr = c.get("LSR", ["0"])[0]
    if lsr in ("0", 0):
        lsr = None
    elif p.get("LSRMUX", "LSR") != "LSR":
        return None
    mode = _SRMODE.get(p.get("SRMODE", "LSR_OVER_CE"))
    if mode is None:
        return None
    return c["CLK"][0], lsr, mode if lsr is not None else None, p.get("GSR", "ENABLED")


def _plan(name: str, dsp: dict, cells: dict, driver: dict, loads: dict) -> dict | None:
    """{group: (flip-flops, controls)} for the A, B and P registers of this DSP, or None."""
    p, c = dsp["parameters"], dsp["connections"]
    if any(p.get(f"REG_{g}_CLK", "NONE") != "NONE" for g in ("INPUTA", "INPUTB", "INPUTC", "PIPELINE", "OUTPUT")):
        return None
    plan = {}
    for group in ("A", "B"):
        ffs = set()
        for i in range(18):
            net = c.get(f"{group}{i}", ["0"])[0]
            if not isinstance(net, int):
                continue
            src = driver.get(net)
            if src is None or src[1] != "Q" or cells[src[0]]["type"] != "TRELLIS_FF":
                return None
            if any(user != name or not port.startswith(group) for user, port in loads[net]):
                return None
            ffs.add(src[0])
        if not ffs:
            return None
        plan[group] = ffs
    ffs = set()
    for i in range(36):
        net = c.get(f"P{i}", [None])[0]
        if not isinstance(net, int) or not loads.get(net):
            continue                    # a product bit nothing reads
        users = loads[net]
        if len(users) != 1 or users[0][1] != "DI" or cells.get(users[0][0], {}).get("type") != "TRELLIS_FF":
            return None
        ffs.add(users[0][0])
    if not ffs:
        return None
    plan["P"] = ffs
    controls = {}
    for group, group_ffs in plan.items():
        sets = {_controls(cells[ff]) for ff in group_ffs}
        if len(sets) != 1 or None in sets:
            return None
        controls[group] = sets.pop()
    clocks = {ctl[0] for ctl in controls.values()}
    modes = {ctl[2] for ctl in controls.values()} - {None}
    gsr = {ctl[3] for ctl in controls.values()}
    if len(clocks) != 1 or len(modes) > 1 or len(gsr) != 1:
        return None
    return {group: (plan[group], controls[group]) for group in plan}


def absorb_multiplier_registers(netlist: dict, top: str) -> dict[str, int]:
    """Rewrite ``netlist`` (yosys JSON, in place); returns ``{"mult18": DSPs now registered, "registers":
    flip-flops removed, "kept": DSPs left as they were}``."""
    module = netlist["modules"][top]
    cells: dict = module["cells"]
    driver, loads = net_index(module)
    done = removed = kept = 0
    for name, dsp in list(cells.items()):
        if dsp["type"] != "MULT18X18D":
            continue
        plan = _plan(name, dsp, cells, driver, loads)
        if plan is None:
            kept += 1
            continue
        p, c = dsp["parameters"], dsp["connections"]
        for group in ("A", "B"):
            for i in range(18):
                net = c.get(f"{group}{i}", ["0"])[0]
                if isinstance(net, int):
                    c[f"{group}{i}"] = [cells[driver[net][0]]["connections"]["DI"][0]]
        for i in range(36):
            net = c.get(f"P{i}", [None])[0]
            if isinstance(net, int) and loads.get(net):
                c[f"P{i}"] = [cells[loads[net][0][0]]["connections"]["Q"][0]]
        for (group, reg), rst in zip((("A", "INPUTA"), ("B", "INPUTB"), ("P", "OUTPUT")), ("RST0", "RST1", "RST2")):
            ffs, (clk, lsr, mode, gsr) = plan[group]
            p.update({f"REG_{reg}_CLK": "CLK0", f"REG_{reg}_CE": "CE0", f"REG_{reg}_RST": rst})
            c[rst] = [lsr if lsr is not None else "0"]
            c["CLK0"] = [clk]
            if mode is not None:
                p["RESETMODE"] = mode
            for ff in ffs:
                del cells[ff]
            removed += len(ffs)
        c["CE0"] = ["1"]
        p["GSR"] = gsr         # the registers follow the global set/reset as the flip-flops did
        dsp.setdefault("port_directions", {}).update({port: "input" for port in ("CLK0", "CE0", "RST0", "RST1", "RST2")})
        done += 1
    return {"mult18": done, "registers": removed, "kept": kept}
