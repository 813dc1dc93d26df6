"""``python -m hwsim.sweep``: accuracy-vs-precision sweeps on every core (or a Dask cluster), resumable.

Examples::

    python -m hwsim.sweep weight-bits-mnist5k                 # configs/sweeps/weight-bits-mnist5k.yaml
    python -m hwsim.sweep --bits 8 --hidden 100 --grid weight_bits=2..8 --seeds 3 --epochs 5
    python -m hwsim.sweep --config small --grid update_rounding=trn,rnd,stoch --grid hidden_shift=8,10
    python -m hwsim.sweep weight-bits-mnist5k --scheduler tcp://10.0.0.5:8786   # an existing cluster
    python -m hwsim.sweep --list-knobs

Rerunning the same command skips the points already in --out (default results/sweeps/<name>/);
results are written as each point ends, so an interrupted sweep loses only the running points.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import yaml

from ..cli import ArgParser, int_in, run_cli

__all__ = ["main"]


def _parser() -> ArgParser:
    p = ArgParser("python -m hwsim.sweep", __doc__)
    p.add_argument("spec", nargs="?", help="sweep spec YAML (a path, or a name in configs/sweeps/)")
    g = p.add_argument_group("what to sweep (these override the spec file)")
    g.add_argument("--grid", action="append", default=[], metavar="KNOB=VALUES",
                   help="a knob and its values: weight_bits=2,4,8 or weight_bits=2..8 or layers.*.update.shift=8,10")
    g.add_argument("--seeds", help="a count (3 = seeds 0,1,2) or a list like 0,5,7")
    g.add_argument("--epochs", help="training epochs of every point")
    g.add_argument("--name", help="the sweep's name (default: the spec file's, or a hash)")
    src = g.add_mutually_exclusive_group()
    src.add_argument("--bits", help="base engine derived with N bits everywhere (default 8)")
    src.add_argument("--config", help="base engine config YAML instead (a path, or a name in configs/)")
    g.add_argument("--hidden", help="hidden layer sizes of the derived base, e.g. 100 or 500-500")
    g.add_argument("--dataset", help="mnist5k (default), digits8x8, fashion-mnist, mnist, cifar10")
    g.add_argument("--lanes", help="parallel MAC lanes of the derived base")
    g.add_argument("--data-dir", help="directory with the data set files (mnist, fashion-mnist, cifar10)")
    g.add_argument("--profile", type=int_in(0, 1_000_000), metavar="N",
                   help="profile N samples of every fixed-point point after training (hwsim.profile): "
                        "saturation / wrap / rounding counts become columns of results.csv")
    g.add_argument("--no-float", action="store_true", help="skip the float DRTP baseline")
    g.add_argument("--float-only", action="store_true", help="run only the float DRTP twin")
    r = p.add_argument_group("how to run")
    r.add_argument("--out", help="results folder (default results/sweeps/<name>)")
    r.add_argument("--workers", type=int_in(1), help="worker processes (default: one per core)")
    r.add_argument("--backend", choices=("dask", "local"), default="dask",
                   help="dask (LocalCluster, or --scheduler) or a plain local process pool")
    r.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://host:8786")
    r.add_argument("--cost", metavar="MODULE:FUNC", help="hardware cost estimator: cfg -> {metric: value}")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.add_argument("--no-plots", action="store_true", help="tables only")
    r.add_argument("--dry-run", action="store_true", help="validate and list the points, run nothing")
    r.add_argument("--report-only", action="store_true", help="rewrite the reports from finished points")
    r.add_argument("--list-knobs", action="store_true", help="list the knobs and exit")
    return p


def _raw_spec(args) -> tuple[dict, str, str | None]:
    """The spec's dict form: the YAML file's, with the command line's options laid over it."""
    from .knobs import SweepError
    from .spec import read_spec_file

    d, origin, default_name = {}, "command line", None
    if args.spec:
        d, origin, default_name = read_spec_file(args.spec)
    base = dict(d.get("base") or {}) if isinstance(d.get("base", {}), dict) else d.get("base")
    if isinstance(base, dict):
        if args.config:
            base = {"config": args.config}
        elif args.bits is not None:
            base.pop("config", None)
            base["bits"] = args.bits
        for key in ("hidden", "dataset", "lanes"):
            value = getattr(args, key)
            if value is not None:
                if "config" in base:
                    d.setdefault("grid", {})
                    if not isinstance(d["grid"], dict):
                        break
                    d["grid"][key] = [value]  # a config-file base: the knob edits it
                else:
                    base[key] = value
        if base:
            d["base"] = base
    if args.grid:
        grid = d.get("grid") if isinstance(d.get("grid"), dict) else {}
        given = set()
        for item in args.grid:
            knob, sep, values = item.partition("=")
            if not sep or not knob.strip():
                raise SweepError(f"--grid takes KNOB=VALUES like weight_bits=2,4,8, not {item!r}")
            if knob.strip() in given:
                raise SweepError(f"--grid names the knob {knob.strip()!r} twice; give all its values in one "
                                 f"--grid {knob.strip()}=A,B,...")
            given.add(knob.strip())
            grid[knob.strip()] = values
        d["grid"] = grid
    for key in ("seeds", "epochs"):
        value = getattr(args, key)
        if value is not None:
            d[key] = int(value) if key == "seeds" and value.strip().isdigit() else value
    if args.name:
        d["name"] = args.name
    if args.profile is not None:
        d["profile"] = args.profile
    if args.data_dir:
        d["data_dir"] = args.data_dir
    if args.no_float:
        d["float_baseline"] = False
    if args.float_only:
        d["fixed"], d["float_baseline"] = False, True
    return d, origin, default_name


def _local_cpu() -> float:
    """User + system CPU seconds of this process and its finished children (local workers included)."""
    import resource
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


def _interrupted(args) -> str:
    out = getattr(args, "_out", None)
    return f"interrupted: finished points are saved{f' in {out}' if out else ''}; rerun the same command to resume"


def main(argv=None) -> int:
    return run_cli(_parser(), argv, _main, interrupted=_interrupted)


def _main(args) -> int:
    from ..fileio import check_output_dir
    from .knobs import KNOBS, SweepError
    from .spec import expand, spec_from_dict

    if args.list_knobs:
        for k in KNOBS.values():
            print(f"{k.name:<20} {k.kind:<7} {k.doc}")
        print(f"{'a.dotted.path':<20} {'dict':<7} any field of the config dict, e.g. layers.*.update.shift "
              f"(* = every layer)")
        return 0
    if args.no_float and args.float_only:
        raise SweepError("--no-float and --float-only exclude each other; keep one")
    if args.cost:
        from .cost import load_cost_estimator
        load_cost_estimator(args.cost)
    raw, origin, default_name = _raw_spec(args)
    spec = spec_from_dict(raw, origin=origin, default_name=default_name)
    points = expand(spec)
    out = Path(args.out) if args.out else Path("results") / "sweeps" / spec.name
    args._out = out
    if not args.dry_run:
        check_output_dir(out, "--out")
    n_float = sum(p.mode == "float" for p in points)
    grid_text = " x ".join(f"{k}[{len(v)}]" for k, v in spec.grid) or "base config"
    print(f"sweep {spec.name}: {grid_text} x {len(spec.seeds)} seeds = {len(points) - n_float} engine runs"
          f"{f' + {n_float} float baseline runs' if n_float else ''}, {points[0].epochs} epochs; results in {out}/",
          flush=True)
    if args.dry_run:
        for p in points:
            print(f"  {p.id}  {p.label()}")
        return 0

    from ..fileio import write_atomic
    from .report import write_reports
    from .runner import make_backend, run_points
    from .store import ResultStore

    store = ResultStore(out)
    store.lock()
    try:
        write_atomic(out / "sweep.yaml", yaml.safe_dump(spec.to_dict(), sort_keys=False))
        stats = None
        pending = len(points) - len(store.finished(p.id for p in points))
        if not args.report_only and not pending:
            print(f"all {len(points)} points are already finished in {out}/")
        elif not args.report_only:
            t0 = time.perf_counter()
            backend = make_backend(args.backend, args.workers, args.scheduler)
            try:
                print(f"backend: {backend.describe()} (ready in {time.perf_counter() - t0:.1f} s)", flush=True)
                stats = run_points(points, store, backend, progress=not args.no_progress, desc=spec.name)
            except BaseException:
                backend.close(cancel=True)
                raise
            backend.close()
        records = store.finished(p.id for p in points)
        groups, table, plots = write_reports(spec, points, records, out, plots=not args.no_plots)
        print(table, end="")
        if stats is not None:
            print(f"ran {stats.done} points ({stats.skipped} already finished, {len(stats.failed)} failed) in "
                  f"{stats.wall_seconds:.1f} s wall; CPU time: {stats.cpu_seconds:.1f} s in the points, "
                  f"{_local_cpu():.1f} s in all processes on this machine")
        missing = len(points) - len(records)
        if missing:
            print(f"{missing} of {len(points)} points are not finished (see {out}/failed/); "
                  f"rerun the same command to retry them", file=sys.stderr)
            return 1
        print(f"reports: {out}/summary.md, results.csv, results.json")
        if plots:
            print(f"plots: {', '.join(str(p) for p in plots)}")
        return 0
    finally:
        store.unlock()


if __name__ == "__main__":
    sys.exit(main())
