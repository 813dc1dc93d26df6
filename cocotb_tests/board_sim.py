"""The pytest side of the board bench: the board core's Verilog, its simulator builds, and its runs.

The core (:class:`rtl.board.core.BoardCore`) is exported with Amaranth into
``build/cocotb/board-<config>-cpb<N>/rtl/board_core.v`` (regenerated when rtl/ or hwsim/ change), with a
``manifest.json`` that tells the bench the config and the UART bit time. Each simulator builds it
with ``hdl/board_tb.v`` into its own folder, with the flags, paths and locks of :mod:`simsetup`,
and :func:`simsetup.run_bench` runs the cocotb tests of ``test_board``.
"""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest

import simsetup
from simsetup import BUILD, ROOT, Design, file_lock

__all__ = ["BOARD_TB", "board_design", "build_board"]

BOARD_TB = ROOT / "cocotb_tests" / "hdl" / "board_tb.v"
BOARD_PORTS = ("clk", "rst", "rx", "tx", "led_busy", "led_error", "led_rx", "led_tx")


def board_design(config: str, clocks_per_bit: int, fifo_depth: int | None = None) -> Design:
    """The board core of ``config`` at ``clocks_per_bit``, exported to Verilog (cached on the sources)."""
    from hwsim.config import load_config
    from rtl.board.core import DEFAULT_FIFO_DEPTH
    cfg = load_config(config)
    fifo_depth = fifo_depth or DEFAULT_FIFO_DEPTH
    name = f"board-{cfg.name}-cpb{clocks_per_bit}"
    out = BUILD / name / "rtl"
    stamp = simsetup._tree_digest([ROOT / "rtl", ROOT / "hwsim"], f"{cfg.digest()}/{clocks_per_bit}/{fifo_depth}")
    with file_lock(out.parent / f".{out.name}.lock"):
        if not ((out / ".stamp").is_file() and (out / ".stamp").read_text() == stamp):
            from amaranth.back import verilog

            from rtl.board.core import BoardCore
            if out.exists():
                shutil.rmtree(out)
            out.mkdir(parents=True)
            # stretch_bits=4: the activity LEDs' counters are the only part that would differ on a board
            core = BoardCore(cfg, clocks_per_bit, fifo_depth, stretch_bits=4)
            (out / "board_core.v").write_text(verilog.convert(core, name="board_core"))
            manifest = {"top": "board_core", "verilog": "board_core.v", "config": {"digest": cfg.digest(),
                        "name": cfg.name}, "config_yaml": cfg.dump_yaml(), "clocks_per_bit": clocks_per_bit,
                        "fifo_depth": fifo_depth, "period_ns": 2 * simsetup.HALF_PERIOD_STEPS // 1000}
            (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
            (out / ".stamp").write_text(stamp)
        return simsetup.load_design(out, name)


def build_board(design: Design, sim: str):
    """Compile the board core with ``hdl/board_tb.v`` for ``sim`` (under a lock, incremental); the runner."""
    simsetup._use_sim_path(sim)
    build_dir = design.root.parent / sim
    runner = simsetup._runner(sim)
    args = list(simsetup.VERILATOR_ARGS) if sim == "verilator" else list(simsetup.ICARUS_ARGS)
    with file_lock(build_dir.parent / f".{build_dir.name}.lock"):
        t0 = time.perf_counter()
        stamp, log = build_dir / ".drtp_build", build_dir / "build.log"
        key = json.dumps([args, simsetup.VERILATOR_MAKEFLAGS, BOARD_TB.read_text(),
                          simsetup.VERILATOR_MAIN.read_text(), *(p.read_text() for p in design.sources)])
        fresh = not stamp.is_file() or stamp.read_text() != key
        if fresh and build_dir.exists():
            shutil.rmtree(build_dir)
        build_dir.mkdir(parents=True, exist_ok=True)
        sources = [BOARD_TB, *design.sources]
        if sim == "verilator":
            vlt = build_dir / "tb_public.vlt"
            vlt.write_text("`verilator_config\n" + "".join(
                f'public_flat_rw -module "{simsetup.TB_TOP}" -var "{n}"\n' for n in BOARD_PORTS))
            sources.append(vlt)
        saved = os.environ.get("MAKEFLAGS")
        if sim == "verilator":
            os.environ["MAKEFLAGS"] = f"{saved or ''} {simsetup.VERILATOR_MAKEFLAGS}".strip()
        try:
            runner.build(sources=sources, hdl_toplevel=simsetup.TB_TOP, build_dir=build_dir, build_args=args,
                         timescale=simsetup.TIMESCALE, log_file=log, always=fresh)
            stamp.write_text(key)
        except (SystemExit, RuntimeError) as exc:
            tail = log.read_text().strip().splitlines()[-5:] if log.exists() else []
            pytest.fail(f"{sim} could not build {design.name} ({exc}); see {log}: " + " | ".join(tail), pytrace=False)
        finally:
            if saved is None:
                os.environ.pop("MAKEFLAGS", None)
            else:
                os.environ["MAKEFLAGS"] = saved
        runner._drtp_build_seconds = time.perf_counter() - t0
    return runner
