"""``python -m rtl.estimate``: area, Fmax and energy of one or more configs, as JSON and a Markdown table.

    python -m rtl.estimate --config small --config small@4            # op-count model only (~1 s)
    python -m rtl.estimate --config paper-784-500-10 --synth -o build/estimate

``--synth`` generates each config's Verilog under ``OUT/<name>`` and runs yosys (gates, synth_ecp5)
and nextpnr-ecp5 (Fmax); results already in ``OUT/<name>/estimate_synth.json`` for the same config
digest are reused unless ``--force``. Each synthesis step prints a line to stderr as it starts and
ends (with its wall time). Writes ``OUT/estimate.json`` and ``OUT/estimate.md``.
A bad config or option, an unusable ``-o``, a missing or too-old yosys: one sentence, exit 2, before
any work. A synthesis tool that fails: one sentence naming the config, the tool's last lines, exit 1.
Result files are written atomically.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from hwsim.cli import EXIT_USAGE, ArgParser, comma_subset, positive_float, run_cli
from hwsim.fileio import check_output_dir, write_atomic, write_json_atomic
from hwsim.formats import ConfigError

from ..tools import FlowError, find_tool
from .flow import STEPS
from .report import estimate, markdown_table, overhead_markdown
from .variants import VARIANT_HELP, variant


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _synth(cfg, out: Path, steps, force: bool) -> dict:
    from .flow import run_synthesis
    cached = out / "estimate_synth.json"
    if cached.is_file() and not force:
        prev = json.loads(cached.read_text())
        if prev.get("digest") == cfg.digest():
            missing = tuple(s for s in steps if s not in prev)
            if not missing:
                _progress(f"{cfg.name}: synthesis results reused from {cached} (--force reruns them)")
                return prev
            # Only the steps not yet run (e.g. ice40 added to an older result); keep the rest.
            merged = {**prev, **run_synthesis(cfg, out, missing, progress=_progress)}
            write_json_atomic(cached, merged, indent=1)
            return merged
    return run_synthesis(cfg, out, steps, regenerate=force, progress=_progress)


def main(argv=None) -> int:
    parser = ArgParser("python -m rtl.estimate", __doc__)
    parser.add_argument("--config", action="append", required=True, help=VARIANT_HELP + " (repeatable)")
    parser.add_argument("--synth", action="store_true", help="also run yosys / nextpnr (slow)")
    parser.add_argument("--steps", type=comma_subset(STEPS), default=STEPS,
                        help=f"synthesis steps, a comma-separated subset of {','.join(STEPS)} (default all)")
    parser.add_argument("--force", action="store_true",
                        help="regenerate the Verilog and rerun synthesis even if results exist")
    parser.add_argument("--node", type=positive_float, default=45.0, help="technology node in nm (default 45)")
    parser.add_argument("--vdd", type=positive_float, default=0.9, help="supply in V (default 0.9)")
    parser.add_argument("--write-baseline", action="store_true",
                        help="store each result as rtl/estimate/baselines/<config>.json (after review)")
    parser.add_argument("-o", "--out", default="build/estimate", help="output folder")
    return run_cli(parser, argv, _main)


def _main(args) -> int:
    cfgs = []
    for spec in args.config:
        try:
            cfgs.append(variant(spec))
        except ValueError as exc:      # a bad @BITS suffix
            raise ConfigError(str(exc)) from None
    out = check_output_dir(args.out, "-o")
    if args.synth:
        try:
            find_tool("yosys")         # a missing or too-old yosys: one sentence, before any work
        except FlowError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    results = []
    for spec, cfg in zip(args.config, cfgs):
        synth = None
        folder = out / spec.replace("@", "_b")
        if args.synth:
            try:
                synth = _synth(cfg, folder, args.steps, args.force)
            except FlowError as exc:
                # A tool's failure, not ours: its last lines follow the one sentence, no traceback.
                print(f"error: synthesis of {spec} stopped: {exc}", file=sys.stderr)
                return 1
        elif (folder / "estimate_synth.json").is_file():
            prev = json.loads((folder / "estimate_synth.json").read_text())
            synth = prev if prev.get("digest") == cfg.digest() else None
        results.append(estimate(cfg, synth, args.node, args.vdd))
    write_json_atomic(out / "estimate.json", results, indent=1)
    md = markdown_table(results) + "\n" + "\n".join(overhead_markdown(r) for r in results)
    write_atomic(out / "estimate.md", md)
    print(md)
    if args.write_baseline:
        from .baseline import write_baseline
        for r in results:
            print(f"wrote {write_baseline(r)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
