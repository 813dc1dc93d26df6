"""Generate one variant's Verilog and run the synthesis estimates on it, timing every step."""

from __future__ import annotations

import json
import time
from pathlib import Path

from hwsim.config import EngineConfig

from . import synth

__all__ = ["STEPS", "run_synthesis"]

STEPS = ("gates", "ecp5", "fmax")


def run_synthesis(cfg: EngineConfig, out: Path, steps=STEPS, regenerate: bool = False) -> dict:
    """Write ``out/drtp_engine.v`` (unless present) and run ``steps``; results go to ``out/estimate_synth.json``.

    Weight RAMs are generated without initial contents: area and timing do not depend on them.
    """
    from rtl.generate import generate  # Amaranth import is slow: only when synthesizing

    out = Path(out)
    res: dict = {"config": cfg.name, "digest": cfg.digest()}
    t0 = time.monotonic()
    if regenerate or not (out / "manifest.json").is_file():
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
    res["wall_seconds"] = round(time.monotonic() - t0, 1)
    (out / "estimate_synth.json").write_text(json.dumps(res, indent=1) + "\n")
    return res
