"""The command-line layer every tool of the kit shares: parser, option types, exit codes, engine options.

One sentence and exit 2 for any bad option, config, data or output path; 130 on Ctrl-C; a reader
that closes the pipe early (``| head``) ends the tool quietly. The engine is named the same way in
every tool: ``--config NAME|PATH`` or ``--bits N`` (with ``--hidden`` and ``--lanes``), checked by
:func:`engine_config`.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Sequence

from .formats import ConfigError

__all__ = ["ArgParser", "int_in", "positive_float", "comma_subset", "int_list", "run_cli", "add_engine_options", "engine_config",
           "parse_hidden", "progress_bar", "SEED_MAX", "EXIT_USAGE", "EXIT_INTERRUPTED"]

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a C tool killed by the signal reports
SEED_MAX = 2**32 - 1
"""Largest seed: numpy's generators take any non-negative integer; 32 bits keep manifests portable."""


class ArgParser(argparse.ArgumentParser):
    """argparse with one-sentence errors (no usage wall) and the module docstring as help."""

    def __init__(self, prog: str, doc: str | None = None, **kwargs):
        doc = doc or ""
        first, _, rest = doc.strip().partition("\n")
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(prog=prog, description=first or None, epilog=rest.strip() or None, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"error: {message} (see --help)\n")


def int_in(lo: int | None, hi: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer in lo..hi (None: no bound on that side)."""
    allowed = (f"an integer in {lo}..{hi}" if lo is not None and hi is not None else
               f"an integer >= {lo}" if lo is not None else f"an integer <= {hi}" if hi is not None else "an integer")

    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {allowed}, not {text!r}") from None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"must be {allowed}, not {value}")
        return value
    parse.__name__ = "integer"
    return parse


def comma_subset(allowed: Sequence[str]) -> Callable[[str], tuple[str, ...]]:
    """An argparse type: a comma-separated, non-empty subset of ``allowed``, like ``gates,fmax``."""
    def parse(text: str) -> tuple[str, ...]:
        items = tuple(s.strip() for s in text.split(","))
        bad = [s for s in items if s not in allowed]
        if bad:
            raise argparse.ArgumentTypeError(f"must be a comma-separated subset of {','.join(allowed)}, "
                                             f"not {bad[0]!r}")
        return items
    parse.__name__ = "list"
    return parse


def int_list(lo: int, hi: int) -> Callable[[str], tuple[int, ...]]:
    """An argparse type: integers in lo..hi as ``8``, ``4,6,8`` or ranges ``2..16`` (mixed: ``2..4,8``)."""
    allowed = f"integers in {lo}..{hi} like 8, 4,6,8 or 2..16"

    def parse(text: str) -> tuple[int, ...]:
        out: list[int] = []
        for part in text.split(","):
            a, sep, b = part.strip().partition("..")
            try:
                values = range(int(a), int(b) + 1) if sep else [int(a)]
            except ValueError:
                raise argparse.ArgumentTypeError(f"must be {allowed}, not {text!r}") from None
            if not values or any(not lo <= v <= hi for v in values):
                raise argparse.ArgumentTypeError(f"must be {allowed}, not {text!r}")
            out += [v for v in values if v not in out]
        return tuple(out)
    parse.__name__ = "list"
    return parse


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number > 0, not {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number > 0, not {text}")
    return value


positive_float.__name__ = "number"


def run_cli(parser: argparse.ArgumentParser, argv: Sequence[str] | None, body: Callable[[argparse.Namespace], int],
            *, errors: tuple[type[BaseException], ...] = (),
            interrupted: str | Callable[[argparse.Namespace], str] = "interrupted") -> int:
    """Parse ``argv`` and run ``body(args)``; the exit code policy of every tool in the kit.

    ``errors`` are the exception types whose message is already one sentence for the user
    (config, data, golden-file, output-path errors): printed as ``error: ...``, exit 2.
    ``interrupted`` is what Ctrl-C prints (a callable gets the arguments, e.g. to name the folder
    where finished work is kept).
    """
    args = parser.parse_args(argv)
    try:
        code = body(args)
        sys.stdout.flush()  # here, not at exit: a closed pipe must be caught below
        return code
    except (ConfigError, *errors) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"\n{interrupted(args) if callable(interrupted) else interrupted}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly; point stdout at /dev/null so the
        # interpreter's final flush does not raise a second time.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


# ----------------------------------------------------------------------------------------------
# Naming the engine: --config | --bits (+ --hidden, --lanes)
# ----------------------------------------------------------------------------------------------

_HIDDEN = re.compile(r"^[1-9][0-9]*(-[1-9][0-9]*)*$")


def parse_hidden(text: str, option: str = "--hidden") -> tuple[int, ...]:
    """Hidden layer sizes like ``500`` or ``500-500``: positive integers joined by single dashes."""
    text = str(text).strip()
    if not _HIDDEN.match(text):
        raise ConfigError(f"{option} must be layer sizes like 500 or 500-500 (positive integers joined by "
                          f"'-'), not {text!r}")
    return tuple(int(h) for h in text.split("-"))


def add_engine_options(parser: argparse.ArgumentParser, *, hidden_default: str | None = "500",
                       required: bool = False, bits: bool = True, bits_list: bool = False) -> None:
    """``--config`` / ``--bits`` (exclusive), ``--hidden`` and ``--lanes``, with the same help everywhere.

    ``bits_list``: ``--bits`` also takes a list or range (``4,6,8``, ``2..16``), parsed to a tuple.
    """
    src = parser.add_mutually_exclusive_group(required=required)
    if bits and bits_list:
        src.add_argument("--bits", type=int_list(2, 24), help="derive a full engine whose stored quantities have "
                                                             "N bits (2..24, default 8); a list like 4,6,8 or a "
                                                             "range like 2..16 runs the accuracy-vs-precision sweep")
    elif bits:
        src.add_argument("--bits", type=int_in(2, 24), help="derive a full engine whose stored quantities have "
                                                           "N bits (2..24, default 8)")
    src.add_argument("--config", help="engine config YAML (a path, or a name in configs/)")
    if bits:
        parser.add_argument("--hidden", default=None,
                            help=f"hidden layer sizes for --bits, e.g. 500 or 500-500 (default {hidden_default})")
    # the range depends on the topology: EngineConfig.check_buildable names it
    parser.add_argument("--lanes", type=int_in(None), help="parallel MAC lanes P (changes the random-word layout)")
    parser.add_argument("--schedule", choices=("dense", "event"), default=None,
                        help="which work the engine does: every column and group (dense) or only non-zero "
                             "inputs, active groups and non-zero weight changes (event); default: the config's "
                             "(yaml: dense unless it says; --bits: event)")
    parser.set_defaults(_hidden_default=hidden_default)


def engine_config(args: argparse.Namespace, n_inputs: int | None = None, n_classes: int | None = None,
                  dataset: str | None = None):
    """The config that ``--config`` names, or the one ``--bits`` (default 8) derives, checked for the RTL.

    ``--hidden`` belongs to ``--bits``: given with ``--config`` it is an error, not silently
    ignored. ``--lanes`` overrides either and is checked by :meth:`EngineConfig.check_lanes`, so
    that what trains here is what ``rtl.generate`` builds.
    """
    from .config import config_for_bits, load_config

    hidden = getattr(args, "hidden", None)
    if getattr(args, "config", None):
        if hidden is not None:
            raise ConfigError("--hidden applies to --bits only; with --config the topology is the config's "
                              "(edit its topology: instead)")
        cfg = load_config(args.config)
        return _overrides(args, cfg)
    bits = 8 if getattr(args, "bits", None) is None else args.bits
    sizes = parse_hidden(hidden if hidden is not None else args._hidden_default)
    topology = (n_inputs or 784,) + sizes + (n_classes or 10,)
    cfg = config_for_bits(bits, topology, dataset=dataset or getattr(args, "dataset", None) or "mnist5k")
    return _overrides(args, cfg)


def _overrides(args: argparse.Namespace, cfg):
    """``--lanes`` and ``--schedule`` applied to a loaded or derived config."""
    if getattr(args, "schedule", None) is not None:
        cfg = cfg.with_schedule(args.schedule, "--schedule")
    return cfg if args.lanes is None else cfg.with_lanes(args.lanes, "--lanes")


def progress_bar(enabled: bool = True, **tqdm_kwargs):
    """A tqdm bar on an interactive terminal, else None: bars never go into a log file or a pipe."""
    if not enabled or not sys.stderr.isatty():
        return None
    from tqdm import tqdm
    tqdm_kwargs.setdefault("dynamic_ncols", True)
    return tqdm(**tqdm_kwargs)
