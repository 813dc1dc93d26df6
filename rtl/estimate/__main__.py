"""``python -m rtl.estimate``: area, Fmax and energy of one or more configs, as JSON and a Markdown table.

    python -m rtl.estimate --config small --config small@4            # op-count model only (~1 s)
    python -m rtl.estimate --config paper-784-500-10 --synth -o build/estimate

``--synth`` generates each config's Verilog under ``OUT/<name>`` and runs yosys (gates, synth_ecp5)
and nextpnr-ecp5 (Fmax); results already in ``OUT/<name>/estimate_synth.json`` for the same config
digest are reused unless ``--force``. Writes ``OUT/estimate.json`` and ``OUT/estimate.md``.
A bad config or option: one sentence, exit 2. A synthesis tool that fails: one sentence naming the
config, the tool's last lines, exit 1. Result files are written atomically.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hwsim.formats import ConfigError
from hwsim.training import write_atomic, write_json_atomic

from .report import estimate, markdown_table, overhead_markdown
from .synth import FlowError
from .variants import VARIANT_HELP, variant


def _synth(cfg, out: Path, steps, force: bool) -> dict:
    from .flow import run_synthesis
    cached = out / "estimate_synth.json"
    if cached.is_file() and not force:
        prev = json.loads(cached.read_text())
        if prev.get("digest") == cfg.digest():
            missing = tuple(s for s in steps if s not in prev)
            if not missing:
                return prev
            # Only the steps not yet run (e.g. ice40 added to an older result); keep the rest.
            merged = {**prev, **run_synthesis(cfg, out, missing)}
            write_json_atomic(cached, merged, indent=1)
            return merged
    return run_synthesis(cfg, out, steps, regenerate=force)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rtl.estimate", description=__doc__.splitlines()[0])
    parser.add_argument("--config", action="append", required=True, help=VARIANT_HELP + " (repeatable)")
    parser.add_argument("--synth", action="store_true", help="also run yosys / nextpnr (slow)")
    parser.add_argument("--steps", default="gates,ecp5,fmax,ice40",
                        help="synthesis steps: gates,ecp5,fmax,ice40 (default all)")
    parser.add_argument("--force", action="store_true",
                        help="regenerate the Verilog and rerun synthesis even if results exist")
    parser.add_argument("--node", type=float, default=45.0, help="technology node in nm (default 45)")
    parser.add_argument("--vdd", type=float, default=0.9, help="supply in V (default 0.9)")
    parser.add_argument("--write-baseline", action="store_true",
                        help="store each result as rtl/estimate/baselines/<config>.json (after review)")
    parser.add_argument("-o", "--out", default="build/estimate", help="output folder")
    args = parser.parse_args(argv)
    out = Path(args.out)
    results = []
    try:
        cfgs = [variant(spec) for spec in args.config]
    except (ConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for spec, cfg in zip(args.config, cfgs):
        synth = None
        folder = out / spec.replace("@", "_b")
        if args.synth:
            try:
                synth = _synth(cfg, folder, tuple(args.steps.split(",")), args.force)
            except FlowError as exc:
                # A tool's failure, not ours: its last lines follow the one sentence, no traceback.
                print(f"error: synthesis of {spec} stopped: {exc}", file=sys.stderr)
                return 1
        elif (folder / "estimate_synth.json").is_file():
            prev = json.loads((folder / "estimate_synth.json").read_text())
            synth = prev if prev.get("digest") == cfg.digest() else None
        results.append(estimate(cfg, synth, args.node, args.vdd))
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "estimate.json", results, indent=1)
    md = markdown_table(results) + "\n" + "\n".join(overhead_markdown(r) for r in results)
    write_atomic(out / "estimate.md", md.encode())
    print(md)
    if args.write_baseline:
        from .baseline import write_baseline
        for r in results:
            print(f"wrote {write_baseline(r)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
