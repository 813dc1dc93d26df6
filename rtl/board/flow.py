"""Bitstream build of the board top with the pinned tools: Amaranth plan -> yosys -> nextpnr -> ecppack/icepack.

Amaranth's ``platform.build(..., do_build=False)`` gives the plan: the design's Verilog (``top.debug.v``,
vendor I/O buffers included) and the pin constraints (``top.lpf`` / ``top.pcf``). The tools are then run
here, not by the plan's script, so they are the project's pinned ones (:mod:`rtl.tools`) and synthesis
is the estimate flow's (:mod:`rtl.estimate.synth`: ``synth_<family>`` in two halves around
``opt_clean -purge``, yosys#4349). nextpnr-ecp5 runs with router2 and falls back to router1 after
:data:`~rtl.estimate.synth.PNR_ROUTER2_BUDGET_S`, like the estimate's place and route. The packers come
with nextpnr (the yowasp wheels ship ``yowasp-ecppack`` / ``yowasp-icepack`` beside it; a Trellis or
IceStorm install has ``ecppack`` / ``icepack`` beside a named nextpnr).

An engine that needs more LUTs, block RAMs or DSPs than the board's FPGA has raises :class:`DoesNotFit`
(one sentence); on iCE40 a netlist with more SB_MAC16 than the part has (or unregistered ones, which
nextpnr-ice40 mistimes) is synthesised again with the multipliers in logic first.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

from hwsim.config import EngineConfig
from hwsim.fileio import write_json_atomic, write_text_atomic

from ..estimate import synth
from ..tools import FlowError, ToolTimeout, find_tool, run
from . import protocol as pr
from .boards import Board
from .core import DEFAULT_FIFO_DEPTH
from .top import BoardTop, clocks_per_bit

__all__ = ["DoesNotFit", "build", "REPORT", "TOP"]

TOP = "top"
REPORT = "board_report.json"


class DoesNotFit(FlowError):
    """The engine needs more of a resource than the board's FPGA has (one sentence)."""


def _packer(nextpnr: str, name: str) -> Path:
    """``ecppack`` / ``icepack`` beside the nextpnr in use (same wheel, or same install)."""
    folder = find_tool(nextpnr).parent
    for exe in (f"yowasp-{name}", name):
        if (folder / exe).is_file():
            return folder / exe
    raise FlowError(f"{name} is not installed beside {find_tool(nextpnr)}: pip install yowasp-{nextpnr} "
                    f"ships yowasp-{name}")


def _resources(board: Board, cells: dict[str, int]) -> dict[str, int]:
    if board.family == "ecp5":
        return {"lut4": cells.get("LUT4", 0) + 2 * cells.get("CCU2C", 0), "ff": cells.get("TRELLIS_FF", 0),
                "bram": cells.get("DP16KD", 0), "dsp": cells.get("MULT18X18D", 0)}
    c = synth._ice40_cells(cells)
    return {"lut4": c["lut4"], "ff": c["ff"], "bram": c["ebr"], "dsp": c["mac16"], "carry": c["carry"]}


def _over(board: Board, res: dict[str, int]) -> list[str]:
    names = {"lut4": "LUT4", "bram": "block RAMs", "dsp": "DSPs"}
    return [f"{res[k]:,} {names[k]} (the part has {getattr(board, k):,})" for k in ("lut4", "bram", "dsp")
            if res[k] > getattr(board, k)]


def _synth(board: Board, build: Path, timeout: int) -> dict:
    """Synthesis for ``board``; on iCE40 without DSPs when they do not fit or are unregistered."""
    dsp = "-dsp" if board.family == "ice40" and board.dsp else ""
    cells, seconds, script = synth._synth_cells(build, TOP, dsp, board.family, timeout, json_out="top.json",
                                                tag="board")
    res, note = _resources(board, cells), None
    if dsp:
        unregistered = synth._ice40_netlist(build, "top.json", TOP)["mac16_unregistered"]
        if res["dsp"] > board.dsp or unregistered:
            note = (f"synth_ice40 -dsp used {res['dsp']} SB_MAC16 ({unregistered} unregistered; the part has "
                    f"{board.dsp}): synthesised again with the multipliers in logic")
            first = {**res, "seconds": round(seconds, 1)}
            cells, more, script = synth._synth_cells(build, TOP, "", board.family, timeout, json_out="top.json",
                                                     tag="board_nodsp")
            seconds += more
            res = {**_resources(board, cells), "with_dsp": first}
    if board.family == "ecp5":      # read registers into the block RAMs, the block RAMs floorplanned
        res["netlist_opt"] = opt = synth.ecp5_netlist_opt(build, "top.json", TOP, board.nextpnr_device)
        res["ff"] += opt["ff_change"]
    return {**res, "seconds": round(seconds, 1), "yosys": "; ".join(script), **({"note": note} if note else {})}


_UTIL = re.compile(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", re.M)
"""nextpnr's "Device utilisation" lines (used / available per cell type), printed before it places."""


def _pnr(board: Board, build: Path, clock_mhz: float, threads: int, timeout: int) -> dict:
    """Place and route with the board's pin constraints; Fmax against the board clock."""
    tool = f"nextpnr-{board.family}"
    if board.family == "ecp5":
        io = ["--lpf", "top.lpf", "--textcfg", "top.config", "--speed", "6"]
    else:
        io = ["--pcf", "top.pcf", "--asc", "top.asc"]
    base = [f"--{board.nextpnr_device}", "--package", board.package, "--json", "top.json", *io,
            "--freq", f"{clock_mhz:g}", "--timing-allow-fail"]
    tail = ["--report", "pnr_report.json", "--threads", str(threads), "--log", "pnr.log", "--quiet"]
    out: dict = {}
    try:
        if board.family == "ecp5":
            budget = min(timeout, synth.PNR_ROUTER2_BUDGET_S)
            try:
                args = [*base, *synth.PNR_ECP5_OPTIONS, *tail]
                seconds = run(tool, args, build, step="place and route", timeout=budget).seconds
                out["router"] = "router2"
            except ToolTimeout:
                if budget >= timeout:
                    raise
                shutil.move(build / "pnr.log", build / "pnr_router2_stopped.log")
                args = [*base, "--router", "router1", *tail]
                seconds = budget + run(tool, args, build, step="place and route (router1)",
                                       timeout=timeout - budget).seconds
                out.update(router="router1", router2_stopped_s=budget)
        else:
            args = [*base, *tail]
            seconds = run(tool, args, build, step="place and route", timeout=timeout).seconds
    except FlowError as exc:
        log = (build / "pnr.log").read_text(errors="replace") if (build / "pnr.log").is_file() else str(exc)
        over = [(k, int(u), int(a)) for k, u, a in _UTIL.findall(log) if int(u) > int(a)]
        if over:
            raise DoesNotFit(" and ".join(f"{u:,} {k} (the part has {a:,})" for k, u, a in over)) from None
        raise
    report = json.loads((build / "pnr_report.json").read_text())
    fmax = {k: v.get("achieved") for k, v in report.get("fmax", {}).items()}
    used = {k: {"used": v.get("used"), "available": v.get("available")}
            for k, v in report.get("utilization", {}).items() if v.get("used")}
    log = (build / "pnr.log").read_text(errors="replace") if (build / "pnr.log").is_file() else ""
    return {**out, "fmax_mhz": min(fmax.values()) if fmax else None, "fmax_by_clock": fmax,
            "critical_path": synth._critical_path(report.get("critical_paths", [])), "utilization": used,
            "phases_s": synth._pnr_phases(log), "nextpnr": " ".join(args), "seconds": round(seconds, 1)}


def _pack(board: Board, build: Path, timeout: int) -> dict:
    if board.family == "ecp5":
        exe, args, product = _packer("nextpnr-ecp5", "ecppack"), ["--compress", "--input", "top.config",
                                                                   "--bit", "top.bit"], "top.bit"
    else:
        exe, args, product = _packer("nextpnr-ice40", "icepack"), ["top.asc", "top.bin"], "top.bin"
    seconds = run(exe, args, build, step="bitstream", timeout=timeout).seconds
    return {"bitstream": str(build / product), "bytes": (build / product).stat().st_size,
            "seconds": round(seconds, 1)}


def build(board: Board, cfg: EngineConfig, out: Path, baud: int, threads: int = 1, timeout: int = 7200,
          fifo_depth: int = DEFAULT_FIFO_DEPTH, rng_word: int = 0) -> dict:
    """Build ``cfg``'s engine for ``board`` into ``out``; the report (also written to ``out/board_report.json``).

    Raises :class:`DoesNotFit` (one sentence) when the engine needs more than the FPGA has, and
    :class:`~hwsim.formats.ConfigError` for a baud rate the board clock cannot make.
    """
    t0 = time.perf_counter()
    out = Path(out)
    clocks_per_bit(board.clock_hz, baud)                      # a bad rate: one sentence, nothing built
    top = BoardTop(board, cfg, baud, fifo_depth, rng_word)
    out.mkdir(parents=True, exist_ok=True)
    plan = board.platform().build(top, name=TOP, do_build=False, debug_verilog=True)
    for name, content in plan.files.items():
        path = out / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            write_text_atomic(path, content)
    write_text_atomic(out / f"{TOP}.v", (out / f"{TOP}.debug.v").read_text())
    elaborate_s = time.perf_counter() - t0
    clock_mhz = top.clock_hz / 1e6
    report: dict = {"board": board.name, "part": board.part, "config": cfg.name, "config_digest": cfg.digest(),
                    "lanes": cfg.lanes, "clock_mhz": clock_mhz, "baud": baud,
                    "clocks_per_bit": top.clocks_per_bit, "fifo_depth": fifo_depth,
                    "elaborate_s": round(elaborate_s, 1)}
    res = _synth(board, out, timeout)
    report["synth"] = res
    over = _over(board, res)
    if over:
        write_json_atomic(out / REPORT, {**report, "fits": False, "wall_s": round(time.perf_counter() - t0, 1)})
        raise DoesNotFit(f"the {cfg.name} engine ({cfg.lanes} lanes) does not fit the {board.part} of "
                         f"{board.name}: it needs {' and '.join(over)}")
    try:
        report["pnr"] = _pnr(board, out, clock_mhz, threads, timeout)
    except DoesNotFit as exc:
        write_json_atomic(out / REPORT, {**report, "fits": False, "needs": str(exc),
                                         "wall_s": round(time.perf_counter() - t0, 1)})
        raise DoesNotFit(f"the {cfg.name} engine ({cfg.lanes} lanes) does not fit the {board.part} of "
                         f"{board.name}: placed, it needs {exc}") from None
    fmax = report["pnr"]["fmax_mhz"]
    report["meets_clock"] = fmax is not None and fmax >= clock_mhz
    report["pack"] = _pack(board, out, timeout)
    report["link"] = pr.link_rates(cfg, baud, top.clock_hz)
    report["fits"] = True
    report["wall_s"] = round(time.perf_counter() - t0, 1)
    write_json_atomic(out / REPORT, report)
    return report
