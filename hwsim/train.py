"""``python -m hwsim.train``: train the bit-accurate DRTP engine (or its float twin) and save the results.

Examples::

    python -m hwsim.train --bits 8                       # 784-500-10, MNIST 5k subset
    python -m hwsim.train --bits 8 --with-float          # and the float DRTP baseline beside it
    python -m hwsim.train --config configs/small.yaml    # a named engine
    python -m hwsim.train --bits 8 --dataset fashion-mnist --epochs 5
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np

from .config import EngineConfig, config_for_bits, load_config
from .formats import ConfigError

__all__ = ["main", "build_config"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one sentence, exit 2, no usage wall
        self.exit(2, f"error: {message} (see --help)\n")


def _parse_args(argv):
    p = _Parser(prog="python -m hwsim.train", description=__doc__.split("\n")[0],
                formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--bits", type=int, help="derive a full engine whose stored quantities have N bits")
    src.add_argument("--config", help="engine config YAML (a path, or a name in configs/)")
    p.add_argument("--hidden", default="500",
                   help="hidden layer sizes for --bits, e.g. 500 or 500-500 (default 500)")
    p.add_argument("--lanes", type=int, help="parallel MAC lanes P (changes the random-word layout)")
    p.add_argument("--dataset", help="mnist5k (default), digits8x8, fashion-mnist, mnist, cifar10")
    p.add_argument("--data-dir", help="directory with the data set files (mnist, fashion-mnist, cifar10)")
    p.add_argument("--epochs", type=int, help="training epochs (default: the config's)")
    p.add_argument("--seed", type=int, default=0, help="weight init and shuffling seed (default 0)")
    p.add_argument("--out", help="results directory (default results/<config>-<dataset>-s<seed>[-float])")
    p.add_argument("--float", action="store_true", help="train the float DRTP twin instead")
    p.add_argument("--with-float", action="store_true", help="also train the float twin and compare")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def build_config(args, n_inputs: int | None = None, n_classes: int | None = None) -> EngineConfig:
    """The config named by --config, or derived from --bits (default 8) for the data set's shape."""
    if args.config:
        cfg = load_config(args.config)
        if args.lanes is not None:
            from dataclasses import replace
            if not 1 <= args.lanes <= 256:
                raise ConfigError(f"--lanes must be in 1..256, not {args.lanes}")
            cfg = replace(cfg, lanes=args.lanes)
        return cfg
    bits = 8 if args.bits is None else args.bits
    if not 2 <= bits <= 24:
        raise ConfigError(f"--bits must be an integer in 2..24, not {bits}")
    try:
        hidden = tuple(int(h) for h in str(args.hidden).split("-") if h != "")
    except ValueError:
        raise ConfigError(f"--hidden must be layer sizes like 500 or 500-500, not {args.hidden!r}") from None
    if not hidden or any(h < 1 for h in hidden):
        raise ConfigError(f"--hidden must be layer sizes like 500 or 500-500, not {args.hidden!r}")
    topology = (n_inputs or 784,) + hidden + (n_classes or 10,)
    lanes = 16 if args.lanes is None else args.lanes
    if not 1 <= lanes <= 256:
        raise ConfigError(f"--lanes must be in 1..256, not {lanes}")
    return config_for_bits(bits, topology, lanes=lanes, dataset=args.dataset or "mnist5k")


def _fmt_pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def main(argv=None) -> int:
    args = _parse_args(argv)
    try:
        return _main(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _main(args) -> int:
    from .datasets import load_dataset
    from .training import train_run, write_atomic, write_json_atomic

    if args.epochs is not None and not 1 <= args.epochs <= 10000:
        raise ConfigError(f"--epochs must be in 1..10000, not {args.epochs}")
    if args.config:
        cfg = build_config(args)
        data = load_dataset(args.dataset or cfg.dataset, args.data_dir)
    else:
        data = load_dataset(args.dataset or "mnist5k", args.data_dir)
        cfg = build_config(args, data.x_train.shape[1], data.n_classes)
    from .datasets import check_topology
    check_topology(data, cfg.topology[0], cfg.n_classes)
    epochs = args.epochs or cfg.epochs
    modes = ["float"] if args.float else (["fixed", "float"] if args.with_float else ["fixed"])
    print(f"engine {cfg.name}: topology {'-'.join(map(str, cfg.topology))}, lanes {cfg.lanes}, "
          f"data set {data.name} ({len(data.x_train)} train / {len(data.x_test)} test), "
          f"{epochs} epochs, seed {args.seed}", flush=True)
    summary = {}
    for mode in modes:
        label = "float DRTP" if mode == "float" else "fixed-point"

        def on_epoch(epoch, res, bar, label=label):
            line = (f"[{label}] epoch {epoch + 1:>3}/{epochs}  train {_fmt_pct(res.train_acc[-1])}  "
                    f"test {_fmt_pct(res.test_acc[-1])}  ({res.epoch_seconds[-1]:.1f} s)")
            (bar.write if bar is not None else print)(line)

        result, engine = train_run(cfg, data, epochs, args.seed, use_float=(mode == "float"),
                                   progress=not args.no_progress and sys.stderr.isatty(), on_epoch=on_epoch)
        out = Path(args.out) if args.out else Path("results") / f"{cfg.name}-{data.name}-s{args.seed}"
        if mode == "float" and (args.with_float or not args.out):
            out = out.with_name(out.name + "-float")
        record = result.to_dict()
        record["epochs"] = epochs
        record["config_digest"] = cfg.digest()
        record["config_yaml"] = cfg.dump_yaml()
        write_json_atomic(out / "results.json", record)
        write_atomic(out / "config.yaml", cfg.dump_yaml().encode())
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
