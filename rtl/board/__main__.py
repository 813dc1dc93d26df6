"""The engine on an FPGA board: build a bitstream, or run a data set through a board over its UART.

python -m rtl.board build --board ulx3s-85f --config configs/paper-784-500-10.yaml [--baud 115200] [-o DIR]
python -m rtl.board run --port /dev/ttyUSB0 --run RUN/ [--dataset NAME] [--limit N] [--train]

build: Amaranth's plan for the board, then the pinned yosys / nextpnr / ecppack|icepack; prints the
utilisation and Fmax at the board clock, writes DIR/board_report.json. An engine that does not fit
the board's FPGA is one sentence and exit 2. Boards: see docs/board.md.

run: checks that the board's bitstream is for the run's config, resets the engine, loads the run's
weights (and reads them back), streams the data set's samples (inference, or training with --train),
and compares every prediction (and after --train every weight) with the model. Exit 1 when the
board and the model differ, 2 for bad options or a link error.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hwsim.cli import ArgParser, add_engine_options, engine_config, int_in, positive_float, run_cli
from hwsim.formats import ConfigError

from .boards import BOARDS, board_names

DEFAULT_BAUD = 115200


def _parser() -> ArgParser:
    p = ArgParser("python -m rtl.board", __doc__)
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build a bitstream for a board")
    b.add_argument("--board", required=True, help=f"one of {board_names()}")
    add_engine_options(b)
    b.add_argument("--baud", type=int_in(1), default=DEFAULT_BAUD, help=f"UART rate (default {DEFAULT_BAUD})")
    b.add_argument("--threads", type=int_in(1, 64), default=1, help="nextpnr threads (default 1)")
    b.add_argument("--timeout", type=int_in(60), default=7200, help="seconds per tool run (default 7200)")
    b.add_argument("-o", "--out", help="build folder (default build/board/<board>-<config>)")
    r = sub.add_parser("run", help="run a data set through a board and compare with the model")
    r.add_argument("--port", required=True, help="serial port of the board, e.g. /dev/ttyUSB0")
    r.add_argument("--run", required=True, help="a run folder of python -m hwsim.train (config and weights)")
    r.add_argument("--dataset", help="data set (default: the run's)")
    r.add_argument("--data-dir", help="folder of an external data set's files")
    r.add_argument("--split", choices=("test", "train"), default="test")
    r.add_argument("--limit", type=int_in(1), help="only the first N samples")
    r.add_argument("--train", action="store_true", help="train on the samples instead of inferring")
    r.add_argument("--baud", type=int_in(1), default=DEFAULT_BAUD, help=f"UART rate (default {DEFAULT_BAUD})")
    r.add_argument("--timeout", type=positive_float, default=5.0, help="seconds to wait for an answer")
    return p


def _build(args) -> int:
    from ..tools import FlowError
    from .flow import DoesNotFit, build
    board = BOARDS.get(args.board)
    if board is None:
        raise ConfigError(f"--board must be one of {board_names()}, not {args.board!r}")
    cfg = engine_config(args)
    cfg.check_buildable()
    out = Path(args.out or f"build/board/{board.name}-{cfg.name}")
    try:
        rep = build(board, cfg, out, args.baud, args.threads, args.timeout)
    except DoesNotFit as exc:
        raise ConfigError(str(exc)) from None
    except FlowError as exc:              # a tool failed: its own lines, exit 1
        print(f"error: {exc}", file=sys.stderr)
        return 1
    s, pnr = rep["synth"], rep["pnr"]
    print(f"{board.name} ({board.part}), {cfg.name} engine, {cfg.lanes} lanes: "
          f"{s['lut4']:,} LUT4, {s['ff']:,} FF, {s['bram']} block RAMs, {s['dsp']} DSPs")
    for bel, u in sorted(pnr["utilization"].items()):
        print(f"  {bel:<16} {u['used']:>7,} / {u['available']:,}")
    fmax = pnr["fmax_mhz"]
    print(f"Fmax {fmax:.1f} MHz at the {rep['clock_mhz']:g} MHz board clock "
          f"({'met' if rep['meets_clock'] else 'NOT met'}); UART {rep['baud']} baud = "
          f"{rep['clocks_per_bit']} clocks per bit")
    link = rep["link"]
    for mode in ("train", "infer"):
        m = link[mode]
        print(f"  {mode}: link {m['link_samples_per_s']:g} samples/s one at a time (at most "
              f"{m['link_bound_samples_per_s']:g}), engine {m['engine_samples_per_s']:g} samples/s "
              f"({m['engine_cycles']} cycles)")
    print(f"bitstream {rep['pack']['bitstream']} ({rep['pack']['bytes']:,} bytes); wall {rep['wall_s']} s "
          f"(synth {s['seconds']} s, place and route {pnr['seconds']} s); report {out / 'board_report.json'}")
    return 0


def _run(args) -> int:
    import numpy as np

    from hwsim.datasets import load_dataset, quantize_inputs
    from hwsim.run_dir import load_run

    from .host import BoardLink, LinkError, run_on_board
    run = load_run(args.run, option="--run")
    data = load_dataset(args.dataset or run.dataset, args.data_dir)
    x = data.x_test if args.split == "test" else data.x_train
    y = data.y_test if args.split == "test" else data.y_train
    x, y = quantize_inputs(x, run.cfg.input)[:args.limit], np.asarray(y)[:args.limit]
    if x.shape[1] != run.cfg.layers[0].n_in:
        raise ConfigError(f"--dataset {data.name} has {x.shape[1]} inputs, the run's engine takes "
                          f"{run.cfg.layers[0].n_in}")
    try:
        import serial
        port = serial.Serial(args.port, args.baud, timeout=args.timeout)
    except (ImportError, OSError, ValueError) as exc:
        raise ConfigError(f"--port {args.port!r} cannot be opened ({exc})") from None
    try:
        report = run_on_board(BoardLink(port, run.cfg), run.weights, x, y, args.train)
    except LinkError as exc:
        raise ConfigError(f"{args.port}: {exc}") from None
    finally:
        port.close()
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


def main(argv=None) -> int:
    return run_cli(_parser(), argv, lambda a: _build(a) if a.command == "build" else _run(a))


if __name__ == "__main__":
    sys.exit(main())
