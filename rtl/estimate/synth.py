"""Synthesis-based estimates: gate equivalents, ASIC area, ECP5 resources and Fmax of a generated engine.

Works on a folder written by :mod:`rtl.generate` (``drtp_engine.v`` + ``manifest.json``):

* **gates** - yosys generic synthesis, hierarchy kept, weight RAMs kept as memory macros (``$mem_v2``,
  what an SRAM compiler provides; every other memory becomes flip-flops, as in :mod:`rtl.flows`), then
  ``dffunmap`` (so enables and resets become gates, else ``stat -tech cmos`` undercounts flip-flops)
  and ``abc -g AND,NAND,OR,NOR,XOR,XNOR,MUX``; ``stat -json``; cells weighted by :data:`NAND2_EQ`.
  Counts are rolled up through the hierarchy, so each block (``layer0.update``, ``rng``, ...) gets its own
  figure and the learning-only blocks can be summed (:func:`learning_blocks`).
* **ecp5** - ``synth_ecp5`` (with ABC) and ``stat -json``: TRELLIS_FF, DP16KD, MULT18X18D and LUTs, counted
  as LUT4 + 2 per CCU2C carry cell (each CCU2C holds two LUT4s; PFUMX/L6MUX21 are not counted).
* **fmax** - ``nextpnr-ecp5 --out-of-context --timing-allow-fail --report`` (nextpnr exits 1 when
  Fmax misses ``--freq``; the wide top-level ports fit no package, hence out of context).

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

from ..tools import ToolMissing, find_tool, run

__all__ = ["NAND2_EQ", "strip_ram_init", "prepare_input", "synth_gates", "synth_ecp5", "synth_ice40", "pnr_ecp5",
           "parse_gates", "learning_blocks", "ECP5_DEVICES", "ICE40_DEVICES"]

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
    script = "; ".join([
        "read_verilog estimate_in.v",
        f"synth -top {top} -noabc -run begin:fine",
        "opt -fast -full",
        "memory_map t:$mem_v2 n:*weights %i %n t:$mem_v2 %i",  # every RAM but the weight RAMs
        "opt -full", "techmap", "opt -fast",
        "dffunmap",
        "abc -g AND,NAND,OR,NOR,XOR,XNOR,MUX",
        "opt_clean",
        "tee -q -o estimate_gates_stat.json stat -json",
    ])
    seconds = run("yosys", ["-q", "-p", script], build, step="generic synthesis", timeout=timeout).seconds
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


def _synth_cells(build: Path, top: str, command: str, family: str, timeout: int) -> tuple[dict[str, int], float]:
    """Run one yosys FPGA ``command`` on the prepared input; cell counts (``stat -json``) and seconds."""
    build = Path(build)
    prepare_input(build, top)
    script = "; ".join(["read_verilog estimate_in.v", command,
                        f"tee -q -o estimate_{family}_stat.json stat -json"])
    seconds = run("yosys", ["-q", "-p", script], build, step=f"synth_{family}", timeout=timeout).seconds
    stat = json.loads((build / f"estimate_{family}_stat.json").read_text())
    cells = stat.get("design", {}).get("num_cells_by_type") or \
        next(iter(stat["modules"].values())).get("num_cells_by_type", {})
    return cells, seconds


def synth_ecp5(build: Path, top: str = "drtp_engine", timeout: int = 7200) -> dict:
    """Full ``synth_ecp5``; writes ``estimate_ecp5.json`` for nextpnr; returns the resource counts."""
    cells, seconds = _synth_cells(build, top, f"synth_ecp5 -top {top} -json estimate_ecp5.json", "ecp5", timeout)
    return {"lut4": cells.get("LUT4", 0) + 2 * cells.get("CCU2C", 0), "ccu2c": cells.get("CCU2C", 0),
            "ff": cells.get("TRELLIS_FF", 0), "bram_dp16kd": cells.get("DP16KD", 0),
            "dsp_mult18": cells.get("MULT18X18D", 0), "lutram_dpr16x4": cells.get("TRELLIS_DPR16X4", 0),
            "seconds": round(seconds, 1)}


ICE40_DEVICES = {"UP5K": {"lut4": 5280, "ebr": 30, "mac16": 8}, "HX8K": {"lut4": 7680, "ebr": 32, "mac16": 0}}
"""Capacity of the two common iCE40 parts: logic cells, 4 kbit block RAMs (EBR), 16x16 DSPs."""


def synth_ice40(build: Path, top: str = "drtp_engine", timeout: int = 7200) -> dict:
    """``synth_ice40`` (with ABC, DSP inference) and ``stat -json``: LUT4, FF, EBR, MAC16, carries.

    Multipliers that find no SB_MAC16 (or on parts without one) become LUTs. ``fits`` names the
    iCE40 parts of :data:`ICE40_DEVICES` whose LUTs, EBRs and DSPs hold the design.
    """
    cells, seconds = _synth_cells(build, top, f"synth_ice40 -top {top} -dsp", "ice40", timeout)
    res = {"lut4": cells.get("SB_LUT4", 0), "carry": cells.get("SB_CARRY", 0),
           "ff": sum(n for c, n in cells.items() if c.startswith("SB_DFF")),
           "ebr": sum(n for c, n in cells.items() if c.startswith("SB_RAM40_4K")),
           "mac16": cells.get("SB_MAC16", 0), "seconds": round(seconds, 1)}
    res["fits"] = [name for name, cap in ICE40_DEVICES.items()
                   if res["lut4"] <= cap["lut4"] and res["ebr"] <= cap["ebr"] and res["mac16"] <= cap["mac16"]]
    return res


_CELL_SUFFIX = re.compile(r"_(?:TRELLIS|DI|LUT4|CCU2C|PFUMX|L6MUX21|MULT18X18D|DP16KD)|\$")


def _critical_path(paths: list) -> dict | None:
    """The worst path as the ordered design signals it passes and its logic / routing delay split."""
    if not paths:
        return None
    steps = paths[0].get("path", [])
    through: list[str] = []
    for step in steps:
        name = step.get("to", {}).get("cell", "")
        if step.get("type") == "routing" or name.startswith("$nextpnr"):
            continue
        base = _CELL_SUFFIX.split(name)[0]
        if base and (not through or through[-1] != base):
            through.append(base)
    logic = sum(s.get("delay", 0) for s in steps if s.get("type") != "routing")
    routing = sum(s.get("delay", 0) for s in steps if s.get("type") == "routing")
    return {"through": through, "logic_ns": round(logic, 2), "routing_ns": round(routing, 2)}


def pnr_ecp5(build: Path, bram: int, freq_mhz: float = 100.0, timeout: int = 7200) -> dict:
    """Out-of-context place and route on the smallest ECP5 (speed 6) that holds ``bram`` DP16KD."""
    build = Path(build)
    try:
        find_tool("nextpnr-ecp5")
    except ToolMissing as exc:
        return {"skipped": str(exc)}
    device = next((d for d, n in ECP5_DEVICES.items() if n >= bram), None)
    if device is None:
        return {"skipped": f"{bram} DP16KD block RAMs do not fit the largest ECP5 (85k: 208)"}
    args = [f"--{device}", "--speed", "6", "--package", "CABGA381", "--json", "estimate_ecp5.json",
           "--out-of-context", "--freq", str(freq_mhz), "--timing-allow-fail",
           "--report", "estimate_pnr_report.json", "--threads", "1", "--quiet"]
    seconds = run("nextpnr-ecp5", args, build, timeout=timeout).seconds
    report = json.loads((build / "estimate_pnr_report.json").read_text())
    fmax = {k: v.get("achieved") for k, v in report.get("fmax", {}).items()}
    path = _critical_path(report.get("critical_paths", []))
    return {"device": f"LFE5U-{device.upper()}", "fmax_mhz": min(fmax.values()) if fmax else None,
            "fmax_by_clock": fmax, "critical_path": path, "seconds": round(seconds, 1)}
