"""``python -m hwsim.train``: train the bit-accurate DRTP engine (or its float twin) and save the results.

Examples::

    python -m hwsim.train --bits 8                       # 784-500-10, MNIST 5k subset
    python -m hwsim.train --bits 8 --with-float          # and the float DRTP baseline beside it
    python -m hwsim.train --config configs/small.yaml    # a named engine
    python -m hwsim.train --bits 8 --dataset fashion-mnist --epochs 5
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np

from .cli import SEED_MAX, ArgParser, add_engine_options, engine_config, int_in, run_cli
from .fileio import check_output_dir
from .formats import ConfigError

__all__ = ["main"]


def _parser() -> ArgParser:
    p = ArgParser("python -m hwsim.train", __doc__)
    add_engine_options(p)
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


def _main(args) -> int:
    from .datasets import check_topology, load_dataset
    from .fileio import write_atomic, write_json_atomic
    from .train_loop import train_run

    if args.float and args.with_float:
        raise ConfigError("--float and --with-float exclude each other; keep one")
    if args.config:
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
    print(f"engine {cfg.name}: topology {'-'.join(map(str, cfg.topology))}, lanes {cfg.lanes}, "
          f"data set {data.name} ({len(data.x_train)} train / {len(data.x_test)} test), "
          f"{epochs} epochs, seed {args.seed}", flush=True)
    summary = {}
    for mode, out in dirs.items():
        label = "float DRTP" if mode == "float" else "fixed-point"

        def on_epoch(epoch, res, bar, label=label):
            line = (f"[{label}] epoch {epoch + 1:>3}/{epochs}  train {_fmt_pct(res.train_acc[-1])}  "
                    f"test {_fmt_pct(res.test_acc[-1])}  ({res.epoch_seconds[-1]:.1f} s)")
            if bar is not None:
                bar.write(line)
            else:
                print(line, flush=True)

        result, engine = train_run(cfg, data, epochs, args.seed, use_float=(mode == "float"),
                                   progress=not args.no_progress, on_epoch=on_epoch)
        record = result.to_dict()
        record["epochs"] = epochs
        record["config_digest"] = cfg.digest()
        record["config_yaml"] = cfg.dump_yaml()
        write_json_atomic(out / "results.json", record)
        write_atomic(out / "config.yaml", cfg.dump_yaml())
        if mode == "fixed":
            buf = io.BytesIO()
            arrays = {f"W{k}": w for k, w in enumerate(engine.weights())}
            np.savez(buf, rng_word=np.int64(engine.rng_word), **arrays)
            write_atomic(out / "weights.npz", buf.getvalue())
        summary[mode] = result
        print(f"[{label}] {result.samples_per_s:,.0f} samples/s training; results in {out}/", flush=True)
    parts = []
    if "fixed" in summary:
        parts.append(f"fixed-point test accuracy {_fmt_pct(summary['fixed'].final_test)}")
    if "float" in summary:
        parts.append(f"float DRTP baseline {_fmt_pct(summary['float'].final_test)}")
    print(f"SUMMARY {cfg.name} on {data.name}, {epochs} epochs, seed {args.seed}: " + ", ".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
