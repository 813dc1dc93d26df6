"""Full-engine benches: the generated Verilog trains and infers exactly like the golden vectors.

Cocotb tests (run inside the simulator; the pytest functions at the bottom launch them):

``train_lockstep``  trains on every golden training sample, one at a time, reading all weights back
                    through the host port after each (or at the golden checkpoints, ``DRTP_READBACK``),
                    with and without random idle cycles between input beats (``stall``).
``train_stream``    the same samples back to back: random stalls *and* backpressure (the next
                    sample's first beat waits, valid, while the engine is busy); weights at checkpoints.
``infer``           the inference slice with the trained weights loaded; predictions, then a
                    read-back proving inference left the weights alone.
``host_busy``       the first samples with random weight-port writes and reads in every busy cycle
                    (the port is ignored while busy); weights read back after each.

Every sample is also checked through the bench top's observers (bench.py, monitor.py): the stream
monitor's handshakes and strobes, and the probes' pre-activations, activations and modulatory
signals against the golden records; padding lanes are loaded with random weights and read back.
A ``train_stream`` mismatch is bisected by replaying the stream (``DRTP_BISECT=0`` turns it off).
Each writes a JSON report (counts compared, cycles, simulated cycles per second, first mismatch,
protocol coverage); the pytest side adds the bench's coverage (coverage_bins.py, docs/verification.md).

The pytest functions at the bottom build the generated Verilog (``simsetup``) and run them:
``test_engine_small`` (committed golden/small: 200 samples, weights after every one),
``test_engine_paper`` (784-500-10, set regenerated into build/cocotb/golden: 3 samples, weights
after every one, then inference), ``test_engine_stress`` (saturation stress set, regenerated) and
``test_engine_ragged`` (3 lanes: no count divides; wrapping formats); the last two must close coverage.
Environment: ``SIM=icarus|verilator|all``, ``WAVES=1``; ``DRTP_FULL=1`` adds the stalled lockstep
run and the whole paper inference slice under Icarus; ``DRTP_CHECK_EVERY`` / ``DRTP_INFER_LIMIT``
tune ``train_stream`` and ``infer`` (``make mutate`` uses them).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import random

import numpy as np
import pytest

import cocotb

if cocotb.is_simulation:
    from bench import Checker, EnginePorts, EngineTB

STALL = 0.25
STREAM_CHECK_EVERY = 50   # train_stream reads weights back after every 50th sample (DRTP_CHECK_EVERY)
HOST_SAMPLES = 12         # host_busy drives the weight port through this many samples (DRTP_HOST_SAMPLES)


def _setup(dut, name: str):
    import json
    t0 = (time.perf_counter(), time.process_time())

    from golden.reader import open_golden
    golden = open_golden(os.environ["DRTP_GOLDEN"])
    manifest = json.loads(Path(os.environ["DRTP_MANIFEST"]).read_text())
    ports = EnginePorts.from_manifest(golden.cfg, manifest)
    report = str(Path(os.environ["DRTP_REPORT_DIR"]) / f"{name}.json")
    tb = EngineTB(dut, ports, seed=int(os.environ.get("DRTP_SEED", "1")), cfg=golden.cfg)
    return golden, ports, tb, Checker(golden, report, dut._log), t0


async def _load(tb, weights) -> None:
    """Load ``weights``; the padding lanes get random weights, which they must keep."""
    for k, w in enumerate(weights):
        await tb.write_weights(k, w, tb.padding_junk(k))


async def _compare_all(tb, chk, phase, s, expected) -> bool:
    ok = True
    for k, w in enumerate(expected):
        got, pad = await tb.read_weights(k, padding=True)
        ok = ok and chk.weights_equal(phase, s, k, got, w, tb.p.lanes) and chk.padding_equal(phase, s, k, pad,
                                                                                            tb.padding[k])
    return ok


def _observe(chk, tb, phase: str, s: int, rec, train: bool) -> None:
    """What the monitor and the probes saw in the sample, before its prediction is compared."""
    chk.protocol(phase, s, rec, tb.p.beats)
    chk.internals(phase, s, rec.internals, train)


async def _same_weights(tb, expected) -> tuple[bool, str]:
    """Read every layer back (padding included); (equal, the first difference as text)."""
    for k, w in enumerate(expected):
        got, pad = await tb.read_weights(k, padding=True)
        diff = np.argwhere(got != w)
        if diff.size:
            j, i = (int(v) for v in diff[0])
            return False, f"layer {k} [neuron {j}, input {i}] expected {int(w[j, i])}, got {int(got[j, i])}"
        if not np.array_equal(pad, tb.padding[k]):
            return False, f"layer {k} padding lanes changed"
    return True, ""


async def _bisect_stream(dut, tb, golden, t: int, verified: int, points: set, every_stall: float) -> str:
    """The first streamed sample after which the weights differ, found by replaying the stream.

    Called on the first mismatch of ``train_stream`` at sample ``t`` (weights last read back and
    equal after sample ``verified``). Reset, reload, replay samples 0..t with the same stall and
    junk sequences, reading every weight back after each sample past ``verified`` (those samples
    lose their backpressure; the rest are streamed exactly as before). Returns a sentence.
    """
    await tb.reset()
    tb.rng, tb.junk = random.Random(tb.seed), random.Random(tb.seed + 0x5EED)
    tb.cov["observe"] = False
    await _load(tb, golden.init_weights)
    n = golden.n_train
    for s, expected in golden.iter_weights():
        if s > t:
            break
        check = s > verified
        nxt = None
        if s + 1 < n and s not in points and not check:
            nxt = (golden.train_x[s + 1], int(golden.train_label[s + 1]), True)
        await tb.run_sample(s, golden.train_x[s], int(golden.train_label[s]), True, every_stall, nxt,
                            expected=int(golden.train_counts.cycles[s]))
        if check:
            ok, text = await _same_weights(tb, expected)
            if not ok:
                return (f"bisected by replaying the stream from reset with read-backs after samples "
                        f"{verified + 1}..{t}: the weights first differ after sample {s} ({text})")
    return (f"replaying the stream from reset with read-backs after samples {verified + 1}..{t}, the weights "
            f"never differed: the fault needs the back-to-back timing or lies in sample {t}'s forward pass")


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
                _observe(chk, tb, "training", s, rec, True)
                chk.prediction("training", s, rec.prediction, int(golden.train_pred[s]), golden.train_z[-1][s])
                if not stall:
                    chk.cycles("training", s, rec.cycles, want)
                if s in points:
                    await _compare_all(tb, chk, "training", s, expected)
                _progress(dut, tb, "training", s, golden.n_train)
        _finish(chk, tb, cocotb.SIM_NAME, t0, {"test": "train_lockstep", "stall": stall, "protocol": tb.cov,
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
        verified, failed_at = -1, None
        with _Guard(chk):
            for s, expected in golden.iter_weights():
                if chk.first is not None:
                    break
                failed_at = s
                nxt = None
                if s + 1 < n and s not in points:
                    nxt = (golden.train_x[s + 1], int(golden.train_label[s + 1]), True)
                rec = await tb.run_sample(s, golden.train_x[s], int(golden.train_label[s]), True, STALL, nxt,
                                          expected=int(golden.train_counts.cycles[s]))
                chk.samples += 1
                _observe(chk, tb, "streamed training", s, rec, True)
                chk.prediction("streamed training", s, rec.prediction, int(golden.train_pred[s]),
                               golden.train_z[-1][s])
                if s in points and chk.first is None:   # weights may have differed since the last point
                    if await _compare_all(tb, chk, "streamed training", s, expected):
                        verified = s
                _progress(dut, tb, "training", s, n)
        bisect = None
        if chk.first is not None and failed_at is not None and os.environ.get("DRTP_BISECT", "1") != "0":
            with _Guard(chk):
                bisect = await _bisect_stream(dut, tb, golden, failed_at, verified, points, STALL)
                chk.first.text += f"; {bisect}"
                chk.first.details["bisect"] = bisect
        _finish(chk, tb, cocotb.SIM_NAME, t0, {"test": "train_stream", "stall": STALL, "backpressure": True,
                                           "readback": sorted(points), "protocol": tb.cov})

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
                _observe(chk, tb, "inference", s, rec, False)
                chk.prediction("inference", s, rec.prediction, int(golden.infer_pred[s]), golden.infer_z[s])
                chk.cycles("inference", s, rec.cycles, want)
                _progress(dut, tb, "inference", s, m)
            if chk.first is None:
                await _compare_all(tb, chk, "inference (weights must not change)", m - 1, final)
        acc = float(np.mean(golden.infer_pred[:m] == golden.infer_label[:m])) if m else 0.0
        _finish(chk, tb, cocotb.SIM_NAME, t0, {"test": "infer", "backpressure": True, "golden_accuracy": acc,
                                           "protocol": tb.cov})

    @cocotb.test()
    async def host_busy(dut) -> None:
        """The weight port is ignored while busy (rtl/engine.py, docs/rtl.md): random writes and reads
        in every busy cycle of the first samples (streamed, backpressure) change no weight, no
        result and return no rvalid; weights (and padding lanes) read back after every sample."""
        golden, ports, tb, chk, t0 = _setup(dut, "host_busy")
        await tb.start()
        await _load(tb, golden.init_weights)
        n = min(golden.n_train, int(os.environ.get("DRTP_HOST_SAMPLES", HOST_SAMPLES)))
        with _Guard(chk):
            for s, expected in golden.iter_weights():
                if s >= n or chk.first is not None:
                    break
                want = int(golden.train_counts.cycles[s])
                rec = await tb.run_sample(s, golden.train_x[s], int(golden.train_label[s]), True, 0.0,
                                          expected=want, host_noise=True)
                chk.samples += 1
                _observe(chk, tb, "training (host port driven while busy)", s, rec, True)
                chk.prediction("training (host port driven while busy)", s, rec.prediction,
                               int(golden.train_pred[s]), golden.train_z[-1][s])
                chk.cycles("training (host port driven while busy)", s, rec.cycles, want)
                await _compare_all(tb, chk, "training (host port driven while busy)", s, expected)
        _finish(chk, tb, cocotb.SIM_NAME, t0, {"test": "host_busy", "protocol": tb.cov})


# ---------------------------------------------------------------------------------------------
# pytest: build the generated Verilog per simulator and run the benches above
# ---------------------------------------------------------------------------------------------

else:  # collected by pytest
    from simsetup import (BUILD, ROOT, SUMMARY, bench_config, build, ensure_golden, generate_rtl, golden_dir, run_bench,
                          sim_params, waves_path)

    PAPER = "paper-784-500-10"
    STRESS = ROOT / "golden" / "configs" / "small-stress.yaml"
    RAGGED = ROOT / "golden" / "configs" / "small-ragged.yaml"

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

    def _coverage(sim: str, name: str, golden: Path, reports: list[dict], close: bool) -> list[str]:
        """The bench's coverage (cocotb_tests/coverage.py): JSON and table in build/cocotb/coverage/,
        the table printed; with ``close``, every reachable bin must have been hit."""
        import coverage_bins as coverage
        from golden.reader import open_golden
        from hwsim.fileio import write_atomic, write_json_atomic
        bins = coverage.bench_coverage(open_golden(golden), reports)
        out = BUILD / "coverage"
        out.mkdir(parents=True, exist_ok=True)
        text = coverage.table(bins, f"[{sim} {name}] coverage")
        write_json_atomic(out / f"{sim}-{name}.json", {"bench": name, "simulator": sim, **bins.to_dict()})
        write_atomic(out / f"{sim}-{name}.txt", (text + "\n").encode())
        print(text)
        holes = bins.holes()
        line = text.splitlines()[0] + (f" (holes: {', '.join(holes[:6])}{' ...' if len(holes) > 6 else ''})"
                                       if holes else "") + f"; table in {out / f'{sim}-{name}.txt'}"
        if close and holes:
            pytest.fail(f"{sim}, {name}: the stimulus left {len(holes)} reachable coverage bins unhit: "
                        f"{', '.join(holes)}", pytrace=False)
        return [line]

    def _run(sim: str, config, golden: Path, tests: str, readback: str, tag: str, schedule: str | None = None,
             close_coverage: bool = False, weight_writes: str | None = None, **env):
        design = generate_rtl(config, schedule=schedule, weight_writes=weight_writes)
        _check_inputs(config, golden, design, schedule)
        runner = build(design, sim)
        reports, run_dir = run_bench(runner, design, sim, "test_engine", tag,
                                     {"DRTP_GOLDEN": str(golden), "DRTP_READBACK": readback, **env},
                                     test_filter=tests)
        name = Path(str(config)).stem + (f"-{schedule}" if schedule else "") + (
            f"-{weight_writes}-writes" if weight_writes else "")
        lines = []
        for r in reports:
            lines.append(f"[{sim} {name}] {r['test']}: {r['samples']} samples, {r['predictions']} predictions, "
                  f"{r['weights']} weights + {r['padding_weights']} padding weights compared, "
                  f"{r['internal_values']} internal values, {r['protocol_checks']} samples' handshakes checked, "
                  f"{r['sim_cycles']} cycles in {r['sim_wall_s']} s "
                  f"= {r['cycles_per_s']} cycles/s ({r['cycles_per_cpu_s']} per CPU-s); test "
                  f"{r['test_wall_s']} s; " + ("ok" if r["ok"] else f"MISMATCH: {r['mismatch']}"))
        if os.environ.get("WAVES", "0") not in ("", "0"):
            lines.append(f"[{sim} {name}] waves: {waves_path(runner, sim, run_dir)}")
        print("\n".join(lines))
        bad = [r for r in reports if not r["ok"]]
        try:
            if not bad:
                lines += _coverage(sim, name, golden, reports, close_coverage)
        finally:
            SUMMARY.mkdir(parents=True, exist_ok=True)
            (SUMMARY / f"{sim}-{name}.txt").write_text("\n".join(lines) + "\n")
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
        _run(sim, STRESS, g, r".*(train_stream|infer|host_busy)$", "checkpoints", f"stress-{schedule}", schedule,
             close_coverage=True)

    @pytest.mark.parametrize("sim", sim_params())
    def test_engine_stress_word_writes(sim):
        """The stress bench on the event engine the FPGA flows build (``--weight-writes word``: a changed
        word is written whole, its unchanged lanes with their own value): the same golden file."""
        g = ensure_golden(STRESS, samples=100, infer=20, schedule="event", stimulus="edge")
        _run(sim, STRESS, g, r".*(train_stream|infer|host_busy)$", "checkpoints", "stress-event-word-writes",
             "event", close_coverage=True, weight_writes="word")

    @pytest.mark.parametrize("schedule", SCHEDULES)
    @pytest.mark.parametrize("sim", sim_params())
    def test_engine_ragged(sim, schedule):
        """golden/configs/small-ragged.yaml: 3 lanes, so nothing divides (22 beats, the last with 2 padding
        lanes; 1 and 2 padding neurons), wrapping accumulator, pre-activation, weights and error; 100
        samples of the edge stimulus streamed, the host port driven while busy, coverage closed."""
        g = ensure_golden(RAGGED, samples=100, infer=20, schedule=schedule, stimulus="edge")
        _run(sim, RAGGED, g, r".*(train_stream|infer|host_busy)$", "checkpoints", f"ragged-{schedule}", schedule,
             close_coverage=True)
