"""Long runs (``make sim-long``): the RTL trains thousands of samples in lockstep with the golden model.

Cocotb test (runs inside the simulator; the pytest function at the bottom launches it):

``long_run``  loads the initial weights (padding lanes random), trains every sample of the golden
              set one at a time: each prediction, cycle count, handshake count and probe value
              (pre-activations, activations, modulatory signals) compared; every weight (padding
              lanes too) read back through the host port after the golden checkpoints (every
              250th sample and the last). Then, without reloading, the trained engine infers the
              golden inference slice back to back (each prediction compared), and a last read-back
              proves inference left the weights alone. A training mismatch is bisected by
              replaying from reset with a read-back after every sample since the last good one
              (``DRTP_BISECT=0`` turns it off), so the message names the sample that went wrong.

The lengths per simulator and config are :mod:`long_plan`'s (docs/verification.md, Long runs).
The golden sets are generated on demand into ``build/cocotb/golden/long/`` (never committed) and
reused while the model's sources, the config and the lengths are unchanged. Each run writes
``build/cocotb/long/<sim>-<label>.json`` atomically. Skipped unless ``DRTP_LONG=1``, so
``make test`` does not run them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

import cocotb

if cocotb.is_simulation:
    from test_engine import _Guard, _bisect_stream, _compare_all, _finish, _load, _observe, _setup

    def _phase(tb, t0: float, c0: int, w0: float, samples: int, readback_s: float) -> dict:
        """Figures of one phase: wall time (read-backs and checks included), the read-backs' share
        (Python wakes on every cycle of a read-back) and cycles/s inside samples."""
        cycles, wall = tb.sim_cycles - c0, tb.sim_wall - w0
        return {"samples": samples, "wall_s": round(time.perf_counter() - t0, 2),
                "readback_wall_s": round(readback_s, 2), "cycles": cycles, "sim_wall_s": round(wall, 2),
                "cycles_per_s": round(cycles / wall) if wall else 0}

    def _log_progress(dut, tb, phase: str, s: int, n: int, c0: int, w0: float) -> None:
        if (s + 1) % 250 == 0 or s == n - 1:
            wall = tb.sim_wall - w0
            dut._log.info("%s: sample %d/%d, %d cycles, %.0f cycles/s, load %.1f", phase, s + 1, n,
                          tb.sim_cycles - c0, (tb.sim_cycles - c0) / wall if wall else 0.0, os.getloadavg()[0])

    @cocotb.test()
    async def long_run(dut) -> None:
        golden, ports, tb, chk, t0 = _setup(dut, "long_run")
        load_start = round(os.getloadavg()[0], 2)
        points = set(golden.checkpoints)
        n, m = golden.n_train, golden.n_infer
        train, infer, readbacks, verified, failed_at, rb_wall = {}, {}, 0, -1, None, 0.0
        got = np.full(m, -1, dtype=np.int64)
        # SampleCounts.cycles is computed for every sample on each access: once here, not once a sample
        train_cycles, infer_cycles = golden.train_counts.cycles, golden.infer_counts.cycles
        await tb.start()
        await _load(tb, golden.init_weights)
        p0, c0, w0 = time.perf_counter(), tb.sim_cycles, tb.sim_wall
        with _Guard(chk):
            await _compare_all(tb, chk, "initial load", -1, golden.init_weights)
            rb_wall = time.perf_counter() - p0
            for s, expected in golden.iter_weights():
                if chk.first is not None:
                    break
                failed_at = s
                want = int(train_cycles[s])
                rec = await tb.run_sample(s, golden.train_x[s], int(golden.train_label[s]), True, 0.0, expected=want)
                chk.samples += 1
                _observe(chk, tb, "training", s, rec, True)
                chk.prediction("training", s, rec.prediction, int(golden.train_pred[s]), golden.train_z[-1][s])
                chk.cycles("training", s, rec.cycles, want)
                if s in points and chk.first is None:   # every weight, padding lanes too
                    readbacks += 1
                    r0 = time.perf_counter()
                    if await _compare_all(tb, chk, "training", s, expected):
                        verified = s
                    rb_wall += time.perf_counter() - r0
                _log_progress(dut, tb, "training", s, n, c0, w0)
        train = _phase(tb, p0, c0, w0, chk.samples, rb_wall)
        train_failed = chk.first is not None
        if not train_failed and m:
            final = golden.checkpoints[n - 1]
            p0, c0, w0, rb_wall = time.perf_counter(), tb.sim_cycles, tb.sim_wall, 0.0
            with _Guard(chk):
                for s in range(m):
                    if chk.first is not None:
                        break
                    nxt = (golden.infer_x[s + 1], 0, False) if s + 1 < m else None   # back to back
                    want = int(infer_cycles[s])
                    rec = await tb.run_sample(s, golden.infer_x[s], 0, False, 0.0, nxt, expected=want)
                    got[s] = rec.prediction
                    chk.samples += 1
                    _observe(chk, tb, "inference", s, rec, False)
                    chk.prediction("inference", s, rec.prediction, int(golden.infer_pred[s]), golden.infer_z[s])
                    chk.cycles("inference", s, rec.cycles, want)
                    _log_progress(dut, tb, "inference", s, m, c0, w0)
                if chk.first is None:
                    r0 = time.perf_counter()
                    await _compare_all(tb, chk, "after inference (weights must not change)", m - 1, final)
                    rb_wall = time.perf_counter() - r0
            done = got >= 0
            infer = _phase(tb, p0, c0, w0, int(done.sum()), rb_wall)
            infer["rtl_accuracy"] = float(np.mean(got[done] == golden.infer_label[done])) if done.any() else None
            infer["golden_accuracy"] = (float(np.mean(golden.infer_pred[done] == golden.infer_label[done]))
                                        if done.any() else None)
        if train_failed and failed_at is not None and os.environ.get("DRTP_BISECT", "1") != "0":
            with _Guard(chk):   # lockstep: every sample is a "point", so the replay has no backpressure
                bisect = await _bisect_stream(dut, tb, golden, failed_at, verified, set(range(n)), 0.0)
                chk.first.text += f"; {bisect}"
                chk.first.details["bisect"] = bisect
        _finish(chk, tb, cocotb.SIM_NAME, t0, {"test": "long_run", "train": train, "infer": infer,
                                           "readbacks": readbacks, "checkpoints": len(points),
                                           "load_start": load_start, "load_end": round(os.getloadavg()[0], 2)})


# ---------------------------------------------------------------------------------------------
# pytest: golden set on demand, RTL, build, the bench, the record
# ---------------------------------------------------------------------------------------------

else:  # collected by pytest
    from long_plan import LABELS, LONG_SWITCH, LongPlan, LongPlanError, failures, long_enabled, plan_for, \
        results, summary_line
    from simsetup import BUILD, SUMMARY, bench_config, build, ensure_golden, generate_rtl, run_bench, sim_params

    RESULTS = BUILD / "long"

    def _model_accuracy(plan: LongPlan) -> tuple[float | None, str]:
        """The test accuracy ``hwsim.train_loop.train_run`` reports for the same seed and epochs, when
        the run is whole epochs of real data and infers the whole test set (else None and why)."""
        from hwsim.datasets import load_dataset
        from hwsim.train_loop import train_run
        cfg = bench_config(plan.config)
        data = load_dataset(cfg.dataset)
        if plan.stimulus != "data":
            return None, f"the {plan.stimulus} stimulus replaces data samples"
        if plan.samples % data.n_train or plan.infer < data.n_test:
            return None, "not whole epochs and the whole test set"
        result, _ = train_run(cfg, data, plan.samples // data.n_train, seed=0)
        return result.final_test, f"train_run({cfg.name}, {plan.samples // data.n_train} epoch(s), seed 0)"

    def run_long(sim: str, plan: LongPlan, rtl_src: Path | None = None, tag: str = "") -> dict:
        """Golden set, RTL, build and bench for one plan; returns the record (also written to
        ``build/cocotb/long/<sim>-<label><tag>.json``). ``rtl_src``: another copy of ``rtl`` (mutants)."""
        from hwsim.fileio import write_json_atomic
        from test_engine import _check_inputs
        t0, load_start = time.perf_counter(), round(os.getloadavg()[0], 2)
        cfg = bench_config(plan.config)
        golden = ensure_golden(plan.config, plan.samples, plan.infer, stimulus=plan.stimulus,
                               checkpoints=plan.checkpoints, out=BUILD / "golden" / "long" / plan.golden_name(cfg.name))
        t_golden = time.perf_counter()
        model_acc, model_note = _model_accuracy(plan)
        t_model = time.perf_counter()
        # its own design folders: a rebuild by a concurrent `make test` never removes this run's folder
        design = generate_rtl(plan.config, name=f"long-{plan.label}{tag}", rtl_src=rtl_src)
        _check_inputs(plan.config, golden, design)
        runner = build(design, sim)
        t_build = time.perf_counter()
        reports, run_dir = run_bench(runner, design, sim, "test_long", plan.label, {"DRTP_GOLDEN": str(golden)},
                                     test_filter=r".*long_run$")
        rec = results(sim, plan, reports[0], {
            "model_accuracy": model_acc, "model_note": model_note, "golden": str(golden),
            "golden_s": round(t_golden - t0, 1), "model_s": round(t_model - t_golden, 1),
            "build_s": round(t_build - t_model, 1), "total_s": round(time.perf_counter() - t0, 1),
            "load_start": load_start, "load_end": round(os.getloadavg()[0], 2),
            "bench_load": [reports[0].get("load_start"), reports[0].get("load_end")], "cpus": os.cpu_count(),
            "sim_log": str(run_dir / "sim.log")})
        write_json_atomic(RESULTS / f"{sim}-{plan.label}{tag}.json", rec)
        line = summary_line(rec)
        print(line)
        SUMMARY.mkdir(parents=True, exist_ok=True)
        (SUMMARY / f"{sim}-long-{plan.label}{tag}.txt").write_text(line + "\n")
        return rec

    @pytest.mark.skipif(not long_enabled(), reason=f"long run: `make sim-long` ({LONG_SWITCH}=1)")
    @pytest.mark.parametrize("label", LABELS)
    @pytest.mark.parametrize("sim", sim_params())
    def test_long(sim, label):
        """The long run of one config (long_plan.plan_for: lengths per simulator)."""
        try:
            plan = plan_for(sim, label)
        except LongPlanError as exc:
            pytest.fail(str(exc), pytrace=False)
        bad = failures(run_long(sim, plan))
        if bad:
            pytest.fail(bad[0], pytrace=False)
