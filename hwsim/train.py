"""``python -m hwsim.train``: train the bit-accurate DRTP engine (or its float twin) and save the results.

Examples::

    python -m hwsim.train --bits 8                       # 784-500-10, MNIST 5k subset
    python -m hwsim.train --bits 8 --with-float          # and the float DRTP baseline beside it
    python -m hwsim.train --config configs/small.yaml    # a named engine
    python -m hwsim.train --bits 8 --dataset fashion-mnist --epochs 5
    python -m hwsim.train --bits 4,6,8,12,16 --hidden 100   # accuracy vs precision (runs hwsim.sweep)
    python -m hwsim.train --resume results/RUN --epochs 5   # 5 more epochs of a saved run
    python -m hwsim.train --eval-only results/RUN           # accuracy of a saved run's weights
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from .cli import SEED_MAX, ArgParser, add_engine_options, engine_config, int_in, parse_hidden, run_cli
from .fileio import check_output_dir
from .formats import ConfigError

__all__ = ["main"]


def _parser() -> ArgParser:
    p = ArgParser("python -m hwsim.train", __doc__)
    add_engine_options(p, bits_list=True)
    p.add_argument("--dataset", help="mnist5k (default), digits8x8, fashion-mnist, mnist, cifar10")
    p.add_argument("--data-dir", help="directory with the data set files (mnist, fashion-mnist, cifar10)")
    p.add_argument("--epochs", type=int_in(1, 10000), help="training epochs (default: the config's)")
    p.add_argument("--seed", type=int_in(0, SEED_MAX), default=0,
                   help="weight init and shuffling seed (default 0)")
    p.add_argument("--out", help="results directory (default results/<config>-<dataset>-s<seed>); the float "
                                 "twin of --with-float goes into its float/ subfolder")
    p.add_argument("--float", action="store_true", help="train the float DRTP twin instead")
    p.add_argument("--with-float", action="store_true", help="also train the float twin and compare")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--profile", nargs="?", type=int_in(1, 1_000_000), const=1000, metavar="N",
                   help="after training, profile N training samples (default 1000): saturation, wrap, rounding "
                        "and ranges per layer and quantity; prints a table, writes profile.png/profile.json")
    saved = p.add_mutually_exclusive_group()
    saved.add_argument("--resume", metavar="RUN", help="continue a saved fixed-point run for --epochs more epochs "
                                                       "(bit-identical to one longer run); writes back into RUN "
                                                       "unless --out is given")
    saved.add_argument("--eval-only", metavar="RUN", help="evaluate a saved run's weights on its data set; "
                                                          "writes nothing")
    return p


def _fmt_pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def main(argv=None) -> int:
    return run_cli(_parser(), argv, _main)


def _out_dirs(args, cfg, data_name: str) -> dict[str, Path]:
    """Where each mode writes: everything stays under --out (the float twin of --with-float in float/)."""
    if args.out:
        out = Path(args.out)
    else:
        out = Path("results") / f"{cfg.name}-{data_name}-s{args.seed}{'-float' if args.float else ''}"
    if args.float:
        return {"float": out}
    dirs = {"fixed": out}
    if args.with_float:
        dirs["float"] = out / "float"
    return dirs


def _refuse_with_saved_run(args) -> None:
    """--resume / --eval-only take engine, seed and data set from the run: naming them again is an error."""
    flag = "--resume" if args.resume else "--eval-only"
    given = [name for name, value in (("--bits", args.bits), ("--config", args.config), ("--hidden", args.hidden),
                                      ("--lanes", args.lanes), ("--dataset", args.dataset), ("--float", args.float),
                                      ("--with-float", args.with_float)) if value not in (None, False)]
    if args.seed != 0:
        given.append("--seed")
    if args.eval_only and args.epochs is not None:
        given.append("--epochs")
    if args.eval_only and args.out:
        given.append("--out")
    if given:
        raise ConfigError(f"{flag} takes the engine, seed and data set from the saved run, so {given[0]} cannot "
                          f"be given with it")


def _bits_sweep(args) -> int:
    """``--bits 4,6,8``: one accuracy-vs-precision sweep point per width, through hwsim.sweep."""
    from .sweep.__main__ import main as sweep_main

    if args.resume or args.eval_only:
        raise ConfigError("--bits with several widths runs a sweep; it cannot be combined with --resume or "
                          "--eval-only")
    hidden = "-".join(map(str, parse_hidden(args.hidden if args.hidden is not None else "500")))
    dataset = args.dataset or "mnist5k"
    widths = ",".join(map(str, args.bits))
    argv = ["--hidden", hidden, "--dataset", dataset, "--grid", f"bits={widths}", "--grid", f"seed={args.seed}",
            "--name", f"bits-{widths.replace(',', '-')}-{hidden}-{dataset}"]
    if args.lanes is not None:
        argv += ["--lanes", str(args.lanes)]
    if args.epochs is not None:
        argv += ["--epochs", str(args.epochs)]
    if args.data_dir:
        argv += ["--data-dir", args.data_dir]
    if args.out:
        argv += ["--out", args.out]
    argv += ["--float-only"] if args.float else ([] if args.with_float else ["--no-float"])
    if args.no_progress:
        argv.append("--no-progress")
    print(f"accuracy vs precision: {len(args.bits)} widths ({widths}) through python -m hwsim.sweep "
          f"{' '.join(argv)}", flush=True)
    return sweep_main(argv)


def _eval_only(args) -> int:
    from .datasets import check_topology, load_dataset, quantize_inputs
    from .fast import Engine
    from .run_dir import load_run

    run = load_run(args.eval_only, "--eval-only")
    data = load_dataset(run.dataset, args.data_dir)
    check_topology(data, run.cfg.topology[0], run.cfg.n_classes)
    engine = Engine(run.cfg, run.weights, run.rng_word)
    train = float(np.mean(engine.infer(quantize_inputs(data.x_train, run.cfg.input)) == data.y_train))
    test = float(np.mean(engine.infer(quantize_inputs(data.x_test, run.cfg.input)) == data.y_test))
    print(f"EVAL {run.cfg.name} on {data.name} after {run.epochs_done} epochs (seed {run.seed}): "
          f"train {_fmt_pct(train)}, test {_fmt_pct(test)}")
    return 0


def _main(args) -> int:
    from .datasets import check_topology, load_dataset, quantize_inputs
    from .fileio import write_json_atomic
    from .run_dir import load_run, save_run
    from .run_plots import confusion, learning_curve
    from .train_loop import train_run

    if args.bits is not None and len(args.bits) > 1:
        return _bits_sweep(args)
    args.bits = args.bits[0] if args.bits is not None else None
    if args.float and args.with_float:
        raise ConfigError("--float and --with-float exclude each other; keep one")
    if args.resume or args.eval_only:
        _refuse_with_saved_run(args)
    if args.eval_only:
        return _eval_only(args)
    resume = None
    if args.resume:
        resume = load_run(args.resume, "--resume")
        cfg, args.seed = resume.cfg, resume.seed
        if args.out is None:
            args.out = args.resume
        data = load_dataset(resume.dataset, args.data_dir)
    elif args.config:
        cfg = engine_config(args)
        data = load_dataset(args.dataset or cfg.dataset, args.data_dir)
    else:
        data = load_dataset(args.dataset or "mnist5k", args.data_dir)
        cfg = engine_config(args, data.x_train.shape[1], data.n_classes)
    check_topology(data, cfg.topology[0], cfg.n_classes)
    dirs = _out_dirs(args, cfg, data.name)
    for out in dirs.values():  # before any training: a bad --out must not cost a run
        check_output_dir(out, "--out")
    epochs = args.epochs or cfg.epochs
    first = resume.epochs_done if resume is not None else 0
    if resume is not None:
        print(f"resuming {args.resume} after epoch {first}", flush=True)
    print(f"engine {cfg.name}: topology {'-'.join(map(str, cfg.topology))}, lanes {cfg.lanes}, "
          f"data set {data.name} ({len(data.x_train)} train / {len(data.x_test)} test), "
          f"{epochs} epochs, seed {args.seed}", flush=True)
    summary = {}
    for mode, out in dirs.items():
        label = "float DRTP" if mode == "float" else "fixed-point"

        def on_epoch(epoch, res, bar, label=label):
            line = (f"[{label}] epoch {epoch + 1:>3}/{first + epochs}  train {_fmt_pct(res.train_acc[-1])}  "
                    f"test {_fmt_pct(res.test_acc[-1])}  ({res.epoch_seconds[-1]:.1f} s)")
            if bar is not None:
                bar.write(line)
            else:
                print(line, flush=True)

        result, engine = train_run(cfg, data, epochs, args.seed, use_float=(mode == "float"),
                                   progress=not args.no_progress, on_epoch=on_epoch,
                                   resume=resume if mode == "fixed" else None)
        record = {**result.to_dict(), "epochs": first + epochs}
        if mode == "fixed":
            save_run(out, cfg, record, engine.weights(), engine.rng_word)
        else:
            save_run(out, cfg, record)
        x_test = data.x_test if mode == "float" else quantize_inputs(data.x_test, cfg.input)
        confusion(data.y_test, engine.infer(x_test), cfg.n_classes, out / "confusion.png", title=f"{cfg.name} {label}")
        if args.profile and mode == "fixed":
            from .profile import profile_run
            prof = profile_run(cfg, data, engine, n_samples=args.profile, epoch=first + epochs, seed=args.seed)
            print(prof.table())
            prof.plot(out / "profile.png")
            write_json_atomic(out / "profile.json", prof.to_dict())
        summary[mode] = result
        print(f"[{label}] {result.samples_per_s:,.0f} samples/s training; results in {out}/", flush=True)
    records = {m: r.to_dict() for m, r in summary.items()}
    learning_curve(records, next(iter(dirs.values())) / "learning_curve.png", title=cfg.name)
    parts = []
    if "fixed" in summary:
        parts.append(f"fixed-point test accuracy {_fmt_pct(summary['fixed'].final_test)}")
    if "float" in summary:
        parts.append(f"float DRTP baseline {_fmt_pct(summary['float'].final_test)}")
    print(f"SUMMARY {cfg.name} on {data.name}, {first + epochs} epochs, seed {args.seed}: " + ", ".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
