"""Full-engine benches: the generated Verilog trains and infers exactly like the golden vectors.

Cocotb tests (run inside the simulator; the pytest functions at the bottom launch them):

``train_lockstep``  trains on every golden training sample, one at a time, reading all weights back
                    through the host port after each (or at the golden checkpoints, ``DRTP_READBACK``),
                    with and without random idle cycles between input beats (``stall``).
``train_stream``    the same samples back to back: random stalls *and* backpressure (the next
                    sample's first beat waits, valid, while the engine is busy); weights at checkpoints.
``infer``           the inference slice with the trained weights loaded; predictions, then a
                    read-back proving inference left the weights alone.

Each writes a JSON report (counts compared, cycles, simulated cycles per second, first mismatch).

The pytest functions at the bottom build the generated Verilog (``simsetup``) and run them:
``test_engine_small`` (committed golden/small: 200 samples, weights after every one),
``test_engine_paper`` (784-500-10, set regenerated into build/cocotb/golden: 3 samples, weights
after every one, then inference) and ``test_engine_stress`` (saturation stress set, regenerated).
Environment: ``SIM=icarus|verilator|all``, ``WAVES=1``; ``DRTP_FULL=1`` adds the stalled lockstep
run and the whole paper inference slice under Icarus; ``DRTP_CHECK_EVERY`` / ``DRTP_INFER_LIMIT``
tune ``train_stream`` and ``infer`` (``make mutate`` uses them).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

import cocotb

if cocotb.is_simulation:
    from bench import Checker, EnginePorts, EngineTB

STALL = 0.25
STREAM_CHECK_EVERY = 50   # train_stream reads weights back after every 50th sample (DRTP_CHECK_EVERY)


def _setup(dut, name: str):
    import json
    t0 = (time.perf_counter(), time.process_time())

    from golden.reader import open_golden
    golden = open_golden(os.environ["DRTP_GOLDEN"])
    manifest = json.loads(Path(os.environ["DRTP_MANIFEST"]).read_text())
    ports = EnginePorts.from_manifest(golden.cfg, manifest)
    report = str(Path(os.environ["DRTP_REPORT_DIR"]) / f"{name}.json")
    tb = EngineTB(dut, ports, seed=int(os.environ.get("DRTP_SEED", "1")))
    return golden, ports, tb, Checker(golden, report, dut._log), t0


async def _load(tb, weights) -> None:
    for k, w in enumerate(weights):
        await tb.write_weights(k, w)


async def _compare_all(tb, chk, phase, s, expected) -> bool:
    ok = True
    for k, w in enumerate(expected):
        got = await tb.read_weights(k)
        ok &= chk.weights_equal(phase, s, k, got, w, tb.p.lanes)
    return ok


def _finish(chk, tb, sim_name: str, t0: tuple, extra: dict) -> None:
    rate = tb.sim_cycles / tb.sim_wall if tb.sim_wall else 0.0
    cpu_rate = tb.sim_cycles / tb.sim_cpu if tb.sim_cpu else 0.0
    chk.write({"simulator": sim_name, "sim_cycles": tb.sim_cycles, "sim_wall_s": round(tb.sim_wall, 3),
               "sim_cpu_s": round(tb.sim_cpu, 3), "cycles_per_s": round(rate), "cycles_per_cpu_s": round(cpu_rate),
               "test_wall_s": round(time.perf_counter() - t0[0], 2),
               "test_cpu_s": round(time.process_time() - t0[1], 2), **extra})
    assert chk.first is None, chk.first.text


class _Guard:
    """Turns a bench-side failure (a hang, a protocol error) into the report's first mismatch."""

    def __init__(self, chk):
        self.chk = chk

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if kind is not None and issubclass(kind, AssertionError):
            self.chk._fail(str(exc))
            return True
        return False


def _progress(dut, tb, phase: str, s: int, n: int) -> None:
    if s and (s % 25 == 0 or s == n - 1):
        rate = tb.sim_cycles / tb.sim_wall if tb.sim_wall else 0.0
        dut._log.info("%s sample %d/%d, %d cycles so far, %.0f cycles/s", phase, s + 1, n, tb.sim_cycles, rate)


def _readback_points(golden) -> set[int]:
    mode = os.environ.get("DRTP_READBACK", "every")
    if mode == "every":
        return set(range(golden.n_train))
    return set(golden.checkpoints)


if cocotb.is_simulation:

    @cocotb.test()
    @cocotb.parametrize(stall=[0.0, STALL])
    async def train_lockstep(dut, stall: float) -> None:
        """stall=0 always runs; stall=0.25 with DRTP_FULL=1 (train_stream always stalls)."""
        golden, ports, tb, chk, t0 = _setup(dut, f"train_lockstep_stall{stall}")
        await tb.start()
        await _load(tb, golden.init_weights)
        points = _readback_points(golden)
        with _Guard(chk):
            await _compare_all(tb, chk, "initial load", -1, golden.init_weights)
            for s, expected in golden.iter_weights():
                if chk.first is not None:
                    break
                want = int(golden.train_counts.cycles[s])
                rec = await tb.run_sample(s, golden.train_x[s], int(golden.train_label[s]), True, stall,
                                          expected=want)
                chk.samples += 1
                chk.prediction("training", s, rec.prediction, int(golden.train_pred[s]), golden.train_z[-1][s])
                if not stall:
                    chk.cycles("training", s, rec.cycles, want)
                if s in points:
                    await _compare_all(tb, chk, "training", s, expected)
                _progress(dut, tb, "training", s, golden.n_train)
        _finish(chk, tb, cocotb.SIM_NAME, t0, {"test": "train_lockstep", "stall": stall,
                                           "readback": sorted(points)[:3] + ["..."] if len(points) > 3
                                           else sorted(points)})

    @cocotb.test()
    async def train_stream(dut) -> None:
        golden, ports, tb, chk, t0 = _setup(dut, "train_stream")
        await tb.start()
        await _load(tb, golden.init_weights)
        n = golden.n_train
        every = int(os.environ.get("DRTP_CHECK_EVERY", STREAM_CHECK_EVERY))
        points = {s for s in range(n) if (s + 1) % every == 0} | {n - 1}
        with _Guard(chk):
            for s, expected in golden.iter_weights():
                if chk.first is not None:
                    break
                nxt = None
                if s + 1 < n and s not in points:
                    nxt = (golden.train_x[s + 1], int(golden.train_label[s + 1]), True)
                rec = await tb.run_sample(s, golden.train_x[s], int(golden.train_label[s]), True, STALL, nxt,
                                          expected=int(golden.train_counts.cycles[s]))
                chk.samples += 1
                chk.prediction("streamed training", s, rec.prediction, int(golden.train_pred[s]),
                               golden.train_z[-1][s])
                if s in points:   # weights first read back here: they may have differed since the last point
                    await _compare_all(tb, chk, "streamed training", s, expected)
                _progress(dut, tb, "training", s, n)
        _finish(chk, tb, cocotb.SIM_NAME, t0, {"test": "train_stream", "stall": STALL, "backpressure": True,
                                           "readback": sorted(points)})

    @cocotb.test()
    async def infer(dut) -> None:
        golden, ports, tb, chk, t0 = _setup(dut, "infer")
        await tb.start()
        final = golden.checkpoints[golden.n_train - 1]
        await _load(tb, final)
        m = min(golden.n_infer, int(os.environ.get("DRTP_INFER_LIMIT", golden.n_infer)))
        with _Guard(chk):
            for s in range(m):
                if chk.first is not None:
                    break
                nxt = (golden.infer_x[s + 1], 0, False) if s + 1 < m else None
                want = int(golden.infer_counts.cycles[s])
                rec = await tb.run_sample(s, golden.infer_x[s], 0, False, 0.0, nxt, expected=want)
                chk.samples += 1
                chk.prediction("inference", s, rec.prediction, int(golden.infer_pred[s]), golden.infer_z[s])
                chk.cycles("inference", s, rec.cycles, want)
                _progress(dut, tb, "inference", s, m)
            if chk.first is None:
                await _compare_all(tb, chk, "inference (weights must not change)", m - 1, final)
        acc = float(np.mean(golden.infer_pred[:m] == golden.infer_label[:m])) if m else 0.0
        _finish(chk, tb, cocotb.SIM_NAME, t0, {"test": "infer", "backpressure": True, "golden_accuracy": acc})


# ---------------------------------------------------------------------------------------------
# pytest: build the generated Verilog per simulator and run the benches above
# ---------------------------------------------------------------------------------------------

else:  # collected by pytest
    from simsetup import (ROOT, SUMMARY, bench_config, build, ensure_golden, generate_rtl, golden_dir, run_bench,
                          sim_params, waves_path)

    PAPER = "paper-784-500-10"
    STRESS = ROOT / "golden" / "configs" / "small-stress.yaml"

    def _check_inputs(config, golden: Path, design, schedule: str | None = None) -> None:
        """Golden set and manifest are checked here, before a simulator starts: one sentence if bad."""
        from bench import EnginePorts, ManifestError
        from golden.format import GoldenError
        from golden.reader import open_golden
        from hwsim.config import load_config
        try:
            gs = open_golden(golden, expect=bench_config(config, schedule))
            EnginePorts.from_manifest(gs.cfg, design.manifest)
        except (GoldenError, ManifestError) as exc:
            pytest.fail(str(exc), pytrace=False)

    def _run(sim: str, config, golden: Path, tests: str, readback: str, tag: str, schedule: str | None = None,
             **env):
        design = generate_rtl(config, schedule=schedule)
        _check_inputs(config, golden, design, schedule)
        runner = build(design, sim)
        reports, run_dir = run_bench(runner, design, sim, "test_engine", tag,
                                     {"DRTP_GOLDEN": str(golden), "DRTP_READBACK": readback, **env},
                                     test_filter=tests)
        name = Path(str(config)).stem + (f"-{schedule}" if schedule else "")
        lines = []
        for r in reports:
            lines.append(f"[{sim} {name}] {r['test']}: {r['samples']} samples, {r['predictions']} predictions, "
                  f"{r['weights']} weights compared, {r['sim_cycles']} cycles in {r['sim_wall_s']} s "
                  f"= {r['cycles_per_s']} cycles/s ({r['cycles_per_cpu_s']} per CPU-s); test "
                  f"{r['test_wall_s']} s; " + ("ok" if r["ok"] else f"MISMATCH: {r['mismatch']}"))
        if os.environ.get("WAVES", "0") not in ("", "0"):
            lines.append(f"[{sim} {name}] waves: {waves_path(runner, sim, run_dir)}")
        print("\n".join(lines))
        SUMMARY.mkdir(parents=True, exist_ok=True)
        (SUMMARY / f"{sim}-{name}.txt").write_text("\n".join(lines) + "\n")
        bad = [r for r in reports if not r["ok"]]
        if bad:
            pytest.fail(f"{sim}, {name}, {bad[0]['test']}: {bad[0]['mismatch']}", pytrace=False)
        return reports

    @pytest.mark.parametrize("sim", sim_params())
    def test_engine_small(sim):
        """configs/small.yaml: 200 training samples (weights after each), stalls, backpressure, inference."""
        g = golden_dir("small")
        lockstep = "train_lockstep/stall=.*" if os.environ.get("DRTP_FULL") else "train_lockstep/stall=0\\.0"
        _run(sim, "small", g, rf".*({lockstep}|train_stream|infer)$", "every", "small")

    @pytest.mark.parametrize("sim", sim_params())
    def test_engine_small_event(sim):
        """configs/small.yaml with ``schedule: event``: the same 200 samples, stalls, backpressure, inference."""
        g = ensure_golden("small", samples=200, infer=100, schedule="event")
        lockstep = "train_lockstep/stall=.*" if os.environ.get("DRTP_FULL") else "train_lockstep/stall=0\\.0"
        _run(sim, "small", g, rf".*({lockstep}|train_stream|infer)$", "every", "small-event", schedule="event")

    SCHEDULES = ["dense", "event"]

    @pytest.mark.slow
    @pytest.mark.parametrize("schedule", SCHEDULES)
    @pytest.mark.parametrize("sim", sim_params())
    def test_engine_paper(sim, schedule):
        """configs/paper-784-500-10.yaml: 3 training samples (weights after each), then 10 inferences.

        Under Icarus (without DRTP_FULL=1): weights after the third sample, then 2 inferences.
        """
        g = ensure_golden(PAPER, samples=3, infer=10, schedule=schedule)
        tag = f"paper-{schedule}"
        if sim == "verilator" or os.environ.get("DRTP_FULL"):
            _run(sim, PAPER, g, r".*(train_lockstep/stall=0\.0|infer)$", "every", tag, schedule)
        else:
            # Icarus simulates this design at ~1-1.5k cycles/s (and a read-back costs 25,621 cycles):
            # weights after the last sample only, and 2 of the 10 inference samples
            _run(sim, PAPER, g, r".*(train_lockstep/stall=0\.0|infer)$", "checkpoints", tag, schedule,
                 DRTP_INFER_LIMIT="2")

    @pytest.mark.parametrize("schedule", SCHEDULES)
    @pytest.mark.parametrize("sim", sim_params())
    def test_engine_stress(sim, schedule):
        """golden/configs/small-stress.yaml: 100 samples that hit every saturation and clip point, with the
        edge stimulus (all-zero, fully dense, one-pixel and repeated samples: golden.generate --stimulus edge)."""
        g = ensure_golden(STRESS, samples=100, infer=20, schedule=schedule, stimulus="edge")
        _run(sim, STRESS, g, r".*(train_stream|infer)$", "checkpoints", f"stress-{schedule}", schedule)
