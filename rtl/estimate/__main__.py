"""``python -m rtl.estimate``: area, Fmax, cycles and energy of one or more configs, as JSON and Markdown tables.

Cycles and energy per inference and per training sample (mean, p50, p99) come from the work each test
sample really does (events, active groups, update visits, weight writes: hwsim.cycles.SampleCounts),
counted by the fast engine from a realistic state: ``--weights RUN``, or the config's initial weights
(``--seed``) trained one epoch over the training split. The test samples (the first ``--samples`` of a
seeded shuffle) run as inferences, then as training samples from that state. ``--no-data`` gives the
closed form instead: every column, group and word (exact for dense, the no-skipping bound for event).

    python -m rtl.estimate --config paper-784-500-10@8 --schedule event,dense --samples 1000
    python -m rtl.estimate --config paper-784-500-10@8 --lanes 8,16,32,64 --dataset fashion-mnist
    python -m rtl.estimate --config small --weights results/small-digits8x8-s0     # from a trained run
    python -m rtl.estimate --config small --config small@4 --no-data                # closed form (~1 s)
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
import time
from dataclasses import replace
from pathlib import Path

from hwsim.cli import EXIT_USAGE, SEED_MAX, ArgParser, comma_subset, int_in, int_list, positive_float, run_cli
from hwsim.config import MAX_LANES, Schedule
from hwsim.datasets import DATASETS, check_topology
from hwsim.fileio import check_output_dir, write_atomic, write_json_atomic
from hwsim.formats import ConfigError

from ..tools import FlowError, find_tool
from .flow import STEPS
from .report import estimate, markdown_table, overhead_markdown, per_sample_markdown
from .variants import VARIANT_HELP, variant


SCHEDULES = tuple(s.value for s in Schedule)


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
    parser.add_argument("--config", action="append", help=VARIANT_HELP + " (repeatable; default with --weights: "
                        "the run's config)")
    parser.add_argument("--schedule", type=comma_subset(SCHEDULES),
                        help="estimate each config with these schedules, dense, event or dense,event (name gets "
                             "+<schedule>, as the NAME+SCHEDULE form); default: each config's own")
    parser.add_argument("--lanes", type=int_list(1, MAX_LANES),
                        help="estimate each config at these lane counts P, like 16 or 8,16,32,64 (name gets -P<n>)")
    data = parser.add_argument_group("data (the per-sample counts)")
    data.add_argument("--dataset", metavar="NAME",
                      help=f"test set to count: {', '.join(DATASETS)} (default: the run's or the config's)")
    data.add_argument("--data-dir", help="folder with the data set files (mnist, fashion-mnist, cifar10)")
    data.add_argument("--samples", type=int_in(1, None), help="count only N test samples (default all)")
    data.add_argument("--weights", metavar="RUN",
                      help="start from a trained run folder (hwsim.train --out) instead of one epoch of training")
    data.add_argument("--seed", type=int_in(0, SEED_MAX), default=0,
                      help="initial weights, training order and test-sample choice (default 0)")
    data.add_argument("--no-data", action="store_true",
                      help="closed form instead of counts: every column, group and word (no engine run)")
    parser.add_argument("--synth", action="store_true", help="also run yosys / nextpnr (slow)")
    parser.add_argument("--steps", type=comma_subset(STEPS), default=STEPS,
                        help=f"synthesis steps, a comma-separated subset of {','.join(STEPS)} (default all)")
    parser.add_argument("--force", action="store_true",
                        help="regenerate the Verilog and rerun synthesis even if results exist")
    parser.add_argument("--node", type=positive_float, default=45.0, help="technology node in nm (default 45)")
    parser.add_argument("--vdd", type=positive_float, default=0.9, help="supply in V (default 0.9)")
    parser.add_argument("--write-baseline", action="store_true",
                        help="store each result (closed form + synthesis) as rtl/estimate/baselines/<config>.json "
                             "(after review)")
    parser.add_argument("-o", "--out", default="build/estimate", help="output folder")
    return run_cli(parser, argv, _main)


def _configs(args, run) -> list[tuple[str, object]]:
    """(folder name, config) for every --config (or the run's config), at every --schedule and --lanes."""
    specs = []
    for spec in args.config or []:
        try:
            specs.append((spec, variant(spec)))
        except ValueError as exc:      # a bad @BITS or +SCHEDULE suffix
            raise ConfigError(str(exc)) from None
    if not specs:
        specs = [(run.cfg.name, run.cfg)]
    if args.schedule:
        for spec, _ in specs:
            if "+" in spec:
                raise ConfigError(f"--schedule applies to configs without a +SCHEDULE suffix, not {spec!r}; "
                                  f"give one or the other")
        specs = [(f"{spec}+{s}", replace(cfg.with_schedule(s, "--schedule"), name=f"{cfg.name}+{s}"))
                 for spec, cfg in specs for s in args.schedule]
    if args.lanes:
        specs = [(f"{spec}-P{p}", replace(cfg.with_lanes(p, "--lanes"), name=f"{cfg.name}-P{p}"))
                 for spec, cfg in specs for p in args.lanes]
    return specs


def _main(args) -> int:
    if args.no_data:
        given = [opt for opt, v in (("--dataset", args.dataset), ("--data-dir", args.data_dir),
                                    ("--samples", args.samples), ("--weights", args.weights)) if v is not None]
        if given:
            raise ConfigError(f"--no-data counts no data set, so {given[0]} cannot be given with it")
    if not args.config and not args.weights:
        raise ConfigError("name a config with --config NAME (or a trained run with --weights RUN)")
    run = None
    if args.weights:
        from hwsim.run_dir import load_run
        run = load_run(args.weights, "--weights")
    cfgs = _configs(args, run)
    workloads = {}
    if not args.no_data:
        from .workload import check_run_fits, load_data, run_workload
        cache: dict = {}
        datas = []
        for _, cfg in cfgs:            # every config, data set and run checked before any work
            if run is not None:
                check_run_fits(cfg, run)
            name = args.dataset or (run.dataset if run is not None else cfg.dataset)
            data = load_data(name, args.data_dir, cache)
            check_topology(data, cfg.topology[0], cfg.n_classes)
            datas.append(data)
    out = check_output_dir(args.out, "-o")
    if args.synth:
        try:
            find_tool("yosys")         # a missing or too-old yosys: one sentence, before any work
        except FlowError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    if not args.no_data:
        for (spec, cfg), data in zip(cfgs, datas):
            t0 = time.monotonic()
            workloads[spec] = run_workload(cfg, data, args.samples, run, args.seed)
            w = workloads[spec]
            _progress(f"{cfg.name}: {w.samples:,} test samples of {data.name} counted in "
                      f"{time.monotonic() - t0:.1f} s (accuracy {w.accuracy:.1%})")
    results, closed = [], []
    for spec, cfg in cfgs:
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
        results.append(estimate(cfg, synth, args.node, args.vdd, workloads.get(spec)))
        if args.write_baseline:        # baselines hold the closed form, whatever data this run counted
            closed.append(estimate(cfg, synth, args.node, args.vdd) if spec in workloads else results[-1])
    write_json_atomic(out / "estimate.json", results, indent=1)
    md = (markdown_table(results) + "\n" + per_sample_markdown(results) + "\n"
          + "\n".join(overhead_markdown(r) for r in results))
    write_atomic(out / "estimate.md", md)
    print(md)
    if args.write_baseline:
        from .baseline import write_baseline
        for r in closed:
            print(f"wrote {write_baseline(r)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
