"""Generate one variant's Verilog and run the synthesis estimates on it, timing every step."""

from __future__ import annotations

import json
import time
from pathlib import Path

from hwsim.config import EngineConfig
from hwsim.training import write_json_atomic

from . import synth

__all__ = ["STEPS", "run_synthesis"]

STEPS = ("gates", "ecp5", "fmax", "ice40")


RTL_SOURCES = Path(__file__).resolve().parent.parent
"""The ``rtl`` package: Verilog generated before any of its ``*.py`` changed is regenerated."""


def _stale(out: Path, cfg: EngineConfig) -> bool:
    """No generated Verilog in ``out``, one for another config, or one older than the RTL sources.

    (Reusing an old ``drtp_engine.v`` is how a paper-size run once sat > 30 min in yosys' Verilog
    frontend: that file still held the 25,120 inline weight-RAM init lines the generator now drops.)
    """
    manifest, verilog = out / "manifest.json", out / "drtp_engine.v"
    if not manifest.is_file() or not verilog.is_file():
        return True
    if json.loads(manifest.read_text()).get("config", {}).get("digest") != cfg.digest():
        return True
    newest = max(p.stat().st_mtime for p in RTL_SOURCES.glob("*.py"))
    return verilog.stat().st_mtime < newest


def run_synthesis(cfg: EngineConfig, out: Path, steps=STEPS, regenerate: bool = False) -> dict:
    """Write ``out/drtp_engine.v`` (unless present for the same config), run ``steps``, save the results.

    Results go to ``out/estimate_synth.json``, with the wall time of every step (``seconds``).

    Weight RAMs are generated without initial contents: area and timing do not depend on them.
    """
    from rtl.generate import generate  # Amaranth import is slow: only when synthesizing

    out = Path(out)
    res: dict = {"config": cfg.name, "digest": cfg.digest()}
    t0 = time.monotonic()
    if regenerate or _stale(out, cfg):
        generate(cfg, out, init_weights=False)
    res["generate_seconds"] = round(time.monotonic() - t0, 1)
    if "gates" in steps:
        res["gates"] = synth.synth_gates(out)
        res["gates"]["learning_nand2_eq"] = synth.learning_blocks(res["gates"]["blocks_nand2_eq"])
    if "ecp5" in steps or "fmax" in steps:
        res["ecp5"] = synth.synth_ecp5(out)
    if "fmax" in steps:
        try:
            res["fmax"] = synth.pnr_ecp5(out, res["ecp5"]["bram_dp16kd"])
        except synth.FlowError as exc:
            res["fmax"] = {"skipped": str(exc).splitlines()[0]}
    if "ice40" in steps:
        res["ice40"] = synth.synth_ice40(out)
    res["wall_seconds"] = round(time.monotonic() - t0, 1)
    write_json_atomic(out / "estimate_synth.json", res, indent=1)
    return res
