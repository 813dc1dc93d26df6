"""``python -m hwsim.paper``: the DRTP paper's float experiments -- a grid, its table and figures.

Examples::

    python -m hwsim.paper --preset synthetic                  # regression + classification, 500 epochs
    python -m hwsim.paper --preset table --jobs 2             # MNIST 5k + Fashion-MNIST, 784-500/1000-10
    python -m hwsim.paper --tasks mnist5k --topologies 784-500-10 --algorithms bp,drtp --epochs 5
    python -m hwsim.paper --preset cnn-mnist                  # 28x28-32c5-2p-1000-10, conv fixed random
    python -m hwsim.paper --preset cifar10 --data-dir ~/cifar-10-batches-py
    python -m hwsim.paper --out results/paper/table --report-only   # tables and figures of finished runs

Rerunning the same command skips the runs already finished under --out (resumable).
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..cli import SEED_MAX, ArgParser, int_in, run_cli
from ..formats import ConfigError
from .algorithms import ALGORITHMS, SCALINGS
from .losses import LOSSES
from .nets import ACTIVATIONS, INITS
from .optim import OPTIMIZERS
from .runner import PRESETS, Grid, expand, grid_from_preset, load_records, pending, run_grid

__all__ = ["main"]


def _parser() -> ArgParser:
    p = ArgParser("python -m hwsim.paper", __doc__)
    p.add_argument("--preset", help=f"a ready grid: {', '.join(PRESETS)}")
    p.add_argument("--tasks", help="comma list: regression, classification, mnist5k, digits8x8, mnist, "
                                   "fashion-mnist, cifar10")
    p.add_argument("--topologies", help="comma list like 784-500-10,784-1000-10 or 28x28-32c5-2p-1000-10")
    p.add_argument("--algorithms", help=f"comma list of {', '.join(ALGORITHMS)} (default all)")
    p.add_argument("--trials", type=int, help="trials per cell (default: the preset's, else 1)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch", type=int)
    p.add_argument("--lr", help="one learning rate for all, or per algorithm: bp=1,drtp=1e-3")
    p.add_argument("--init", help=f"forward weight init ({', '.join(INITS)}) for all, or per algorithm: "
                                  "fa=zero,drtp=zero")
    p.add_argument("--optimizer", help=f"{', '.join(OPTIMIZERS)} (default nag: Nesterov, momentum 0.9)")
    p.add_argument("--loss", help=f"{', '.join(LOSSES)} (default bce; mse for regression)")
    p.add_argument("--hidden-act", help=f"{', '.join(ACTIVATIONS[:3])} (default tanh)")
    p.add_argument("--output-act", help="sigmoid, tanh, none (default sigmoid; none for regression)")
    p.add_argument("--conv-act", help="tanh, sigmoid, relu (default tanh)")
    p.add_argument("--dropout", type=float, help="dropout probability on dense-layer inputs (default 0)")
    p.add_argument("--scaling", help=f"{', '.join(SCALINGS)}: the authors' gradient scales, or hidden "
                                     "DFA/DRTP signals scaled like the output layer's (default paper)")
    p.add_argument("--freeze-conv", action="store_true", default=None, help="keep conv layers fixed random")
    p.add_argument("--train-conv", action="store_false", dest="freeze_conv", help="train conv layers")
    p.add_argument("--angle-every", type=int, help="measure angles to BP every N batches (0: off)")
    p.add_argument("--seed", type=int_in(0, SEED_MAX), help="base seed (default 0)")
    p.add_argument("--eval-train", type=int, help="training-set metrics on the first N examples (default all)")
    p.add_argument("--data-dir", help="directory of mnist / fashion-mnist / cifar10 files")
    p.add_argument("--out", help="results directory (default results/paper/<preset or 'custom'>)")
    p.add_argument("--jobs", type=int_in(1), default=1, help="parallel worker processes (default 1)")
    p.add_argument("--reverse", action="store_true",
                   help="run the grid last run first (a second grid sharing --out then meets the first halfway)")
    p.add_argument("--report-only", action="store_true", help="only write the table and figures of finished runs")
    p.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def _list(text: str, what: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise ConfigError(f"--{what} needs at least one value, not {text!r}")
    return items


def _per_algorithm(text: str, what: str, convert) -> dict:
    """'0.1' -> every algorithm; 'bp=1,drtp=1e-3' -> those algorithms."""
    out = {}
    if "=" not in text:
        value = convert(text, what)
        return {a: value for a in ALGORITHMS}
    for part in _list(text, what):
        name, _, value = part.partition("=")
        name = name.strip().lower()
        if name not in ALGORITHMS:
            raise ConfigError(f"--{what} names algorithm {name!r}; allowed are {', '.join(ALGORITHMS)}")
        out[name] = convert(value.strip(), what)
    return out


def _float(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"--{what} must be a number or a list like bp=1,drtp=1e-3, not {text!r}") from None


def _init(text: str, what: str) -> str:
    if text not in INITS:
        raise ConfigError(f"--{what} must be one of {', '.join(INITS)}, not {text!r}")
    return text


def build_grid(args) -> tuple[Grid, str]:
    if args.preset:
        grid, name = grid_from_preset(args.preset), args.preset
    else:
        if not args.tasks or not args.topologies:
            raise ConfigError("give --preset, or both --tasks and --topologies")
        grid, name = Grid([], []), "custom"
    if args.tasks:
        grid.tasks = _list(args.tasks, "tasks")
    if args.topologies:
        grid.topologies = _list(args.topologies, "topologies")
    if args.algorithms:
        grid.algorithms = [a.lower() for a in _list(args.algorithms, "algorithms")]
    if args.trials is not None:
        grid.trials = args.trials
    if args.lr:
        grid.lr.update(_per_algorithm(args.lr, "lr", _float))
    if args.init:
        grid.init.update(_per_algorithm(args.init, "init", _init))
    for field in ("epochs", "batch", "optimizer", "loss", "hidden_act", "output_act", "conv_act", "dropout",
                  "scaling", "freeze_conv", "angle_every", "seed", "eval_train"):
        value = getattr(args, field)
        if value is not None:
            grid.settings[field] = value.lower() if isinstance(value, str) else value
    return grid, name


def _interrupted(args) -> str:
    return "interrupted: finished runs are kept; rerun the same command to resume"


def main(argv=None) -> int:
    return run_cli(_parser(), argv, _main, interrupted=_interrupted)


def _main(args) -> int:
    from ..fileio import check_output_dir
    if args.report_only and not (args.preset or args.tasks):
        grid, specs = None, None
        out = Path(args.out or "results/paper/custom")
    else:
        grid, name = build_grid(args)
        specs = expand(grid)
        out = Path(args.out or f"results/paper/{name}")
    check_output_dir(out, "--out")
    if specs is not None and not args.report_only:
        todo = len(pending(specs, out))
        print(f"{len(specs)} runs in the grid, {len(specs) - todo} already finished under {out}", flush=True)
        run_grid(specs[::-1] if args.reverse else specs, out, args.data_dir, args.jobs,
                 progress=not args.no_progress)
    records = load_records(out, specs)
    if not records:
        raise ConfigError(f"no finished runs under {str(out)!r}")
    from .report import write_outputs
    text, files = write_outputs(records, out, figures=not args.no_figures)
    print(text)
    print(f"wrote {len(files)} files under {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
