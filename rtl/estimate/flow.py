"""Generate one variant's Verilog and run the synthesis estimates on it, timing every step."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path

from hwsim.config import EngineConfig
from hwsim.fileio import write_json_atomic

from ..tools import FlowError
from ..weight_ram import WeightWrites, built_writes
from . import synth

__all__ = ["STEPS", "run_synthesis"]

STEPS = ("gates", "ecp5", "fmax", "ice40", "ice40-fmax")
"""Synthesis steps: generic gates (yosys), synth_ecp5, nextpnr-ecp5 Fmax (runs synth_ecp5 too), synth_ice40,
nextpnr-ice40 Fmax (runs synth_ice40 too). Each step's result is saved under its own name."""


RTL_SOURCES = Path(__file__).resolve().parent.parent
"""The ``rtl`` package: Verilog generated before any of its ``*.py`` changed is regenerated."""


FPGA_WRITES = WeightWrites.WORD
"""The FPGA steps build the engine with whole-word weight writes (:class:`rtl.weight_ram.WeightWrites`):
lane write enables cost one block RAM per lane. The gates step (ASIC) keeps the default, lane enables."""


def fpga_build(out: Path, cfg: EngineConfig) -> Path:
    """Where the FPGA steps' Verilog goes: ``out`` itself when it is the same design (``dense``), else
    ``out/fpga``."""
    return out if built_writes(cfg, WeightWrites.LANES) is built_writes(cfg, FPGA_WRITES) else out / "fpga"


def _stale(out: Path, cfg: EngineConfig, writes: WeightWrites) -> bool:
    """No generated Verilog in ``out``, one for another config or weight writes, or one older than the RTL
    sources.

    (Reusing an old ``drtp_engine.v`` is how a paper-size run once sat > 30 min in yosys' Verilog
    frontend: that file still held the 25,120 inline weight-RAM init lines the generator now drops.)
    """
    manifest, verilog = out / "manifest.json", out / "drtp_engine.v"
    if not manifest.is_file() or not verilog.is_file():
        return True
    man = json.loads(manifest.read_text())
    if man.get("config", {}).get("digest") != cfg.digest():
        return True
    if man.get("parameters", {}).get("weight_writes") != built_writes(cfg, writes).value:
        return True
    newest = max(p.stat().st_mtime for p in RTL_SOURCES.glob("*.py"))
    return verilog.stat().st_mtime < newest


@contextlib.contextmanager
def _step(progress: Callable[[str], None] | None, what: str):
    """Tell ``progress`` that ``what`` starts, and when it ends, its wall time."""
    t0 = time.monotonic()
    if progress:
        progress(f"{what} ...")
    yield
    if progress:
        progress(f"{what} done in {time.monotonic() - t0:.1f} s")


def run_synthesis(cfg: EngineConfig, out: Path, steps=STEPS, regenerate: bool = False,
                  progress: Callable[[str], None] | None = None) -> dict:
    """Write ``out/drtp_engine.v`` (unless present for the same config), run ``steps``, save the results.

    Results go to ``out/estimate_synth.json``, with the wall time of every step (``seconds``).
    ``progress(line)`` hears every step start and end (the CLI prints them to stderr).

    Weight RAMs are generated without initial contents: area and timing do not depend on them. The
    FPGA steps (ecp5, fmax, ice40, ice40-fmax) of an ``event`` config run on its whole-word-write Verilog
    in ``out/fpga`` (:data:`FPGA_WRITES`); the gates step on the default one.
    """
    from rtl.generate import generate  # Amaranth import is slow: only when synthesizing

    out = Path(out)
    res: dict = {"config": cfg.name, "digest": cfg.digest()}
    t0 = time.monotonic()
    name = cfg.name
    fpga = fpga_build(out, cfg)
    builds: dict[Path, WeightWrites] = {}     # dense: one design, one folder
    if "gates" in steps:
        builds[out] = WeightWrites.LANES
    if any(step != "gates" for step in steps):
        builds.setdefault(fpga, FPGA_WRITES)
    for where, writes in builds.items():
        if regenerate or _stale(where, cfg, writes):
            what = f" ({writes.value} weight writes)" if cfg.is_event else ""
            with _step(progress, f"{name}: generate Verilog{what}"):
                generate(cfg, where, init_weights=False, weight_writes=writes)
    res["generate_seconds"] = round(time.monotonic() - t0, 1)
    res["fpga_weight_writes"] = FPGA_WRITES.value
    if "gates" in steps:
        with _step(progress, f"{name}: gates (yosys generic synthesis)"):
            res["gates"] = synth.synth_gates(out)
        res["gates"]["learning_nand2_eq"] = synth.learning_blocks(res["gates"]["blocks_nand2_eq"])
    if "ecp5" in steps or "fmax" in steps:
        with _step(progress, f"{name}: ecp5 (yosys synth_ecp5)"):
            res["ecp5"] = synth.synth_ecp5(fpga)
    if "fmax" in steps:
        with _step(progress, f"{name}: fmax (nextpnr-ecp5 place and route)"):
            try:
                res["fmax"] = synth.pnr_ecp5(fpga, res["ecp5"]["bram_dp16kd"])
            except FlowError as exc:
                res["fmax"] = {"skipped": str(exc).splitlines()[0]}
    if "ice40" in steps or "ice40-fmax" in steps:
        with _step(progress, f"{name}: ice40 (yosys synth_ice40)"):
            res["ice40"] = synth.synth_ice40(fpga)
    if "ice40-fmax" in steps:
        with _step(progress, f"{name}: ice40-fmax (nextpnr-ice40 place and route)"):
            try:
                res["ice40-fmax"] = synth.pnr_ice40(fpga)
            except FlowError as exc:
                res["ice40-fmax"] = {"skipped": str(exc).splitlines()[0]}
    res["wall_seconds"] = round(time.monotonic() - t0, 1)
    write_json_atomic(out / "estimate_synth.json", res, indent=1)
    return res
