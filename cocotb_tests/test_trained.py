"""Trained-weights benches: RTL generated with ``--weights RUN`` starts where the training run stopped.

Cocotb test (runs inside the simulator; the pytest functions at the bottom launch it):

``trained``  after reset, reads every weight back through the host port (the ``$readmemh`` files
             hold the run's weights), infers the whole test set (backpressure between samples) and
             compares each prediction with the fast model's ``Engine.infer``; then trains a few
             samples and compares the weights with the model continuing the run
             (``Engine(cfg, weights, rng_word).train``), which proves that the stochastic-rounding
             lanes reset to the run's word counter.

The expected values come from the pytest side in one ``expect.npz`` (``DRTP_EXPECT``); the bench
reads the prediction port only (the output pre-activations are not ports: they are named in a
mismatch message). The report carries the accuracies of RTL and model.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

import cocotb

if cocotb.is_simulation:
    from bench import Checker, EnginePorts, EngineTB

    @cocotb.test()
    async def trained(dut) -> None:
        import json

        from hwsim.config import load_config
        t0 = (time.perf_counter(), time.process_time())
        e = np.load(os.environ["DRTP_EXPECT"])
        cfg = load_config(os.environ["DRTP_CONFIG"])
        manifest = json.loads(Path(os.environ["DRTP_MANIFEST"]).read_text())
        ports = EnginePorts.from_manifest(cfg, manifest)
        tb = EngineTB(dut, ports)
        chk = Checker(SimpleNamespace(cfg=cfg, n_train=0), str(Path(os.environ["DRTP_REPORT_DIR"]) / "trained.json"),
                      dut._log)
        n_layers = len(cfg.layers)
        x, labels, preds, z = e["x_test"], e["y_test"], e["pred"], e["z"]
        n = len(x)
        got = np.full(n, -1, dtype=np.int64)
        await tb.start()
        try:
            for k in range(n_layers):     # the $readmemh files: the run's weights
                chk.weights_equal("after reset (readmemh)", -1, k, await tb.read_weights(k), e[f"W{k}"], ports.lanes)
            for s in range(n if chk.first is None else 0):
                nxt = (x[s + 1], 0, False) if s + 1 < n else None
                rec = await tb.run_sample(s, x[s], 0, False, 0.0, nxt)
                got[s] = rec.prediction
                chk.samples += 1
                chk.prediction("inference", s, rec.prediction, int(preds[s]), z[s])
                if chk.first is not None:
                    break
                if s and (s % 250 == 0 or s == n - 1):
                    dut._log.info("inference %d/%d, %.0f cycles/s", s + 1, n, tb.sim_cycles / tb.sim_wall)
            tx, ty = e["x_train"], e["y_train"]
            for s in range(len(tx) if chk.first is None else 0):
                rec = await tb.run_sample(s, tx[s], int(ty[s]), True)
                chk.samples += 1
                chk.prediction("continued training", s, rec.prediction, int(e["train_pred"][s]), [])
            if chk.first is None:
                for k in range(n_layers):
                    chk.weights_equal("continued training", len(tx) - 1, k, await tb.read_weights(k),
                                      e[f"after{k}"], ports.lanes)
        except AssertionError as exc:     # a hang or protocol error becomes the report's mismatch
            chk._fail(str(exc))
        done = got >= 0
        chk.write({"test": "trained", "simulator": cocotb.SIM_NAME, "compared": int(done.sum()),
                   "rtl_accuracy": float(np.mean(got[done] == labels[done])) if done.any() else 0.0,
                   "model_accuracy": float(np.mean(preds == labels)), "rng_word": int(e["rng_word"]),
                   "trained_samples": int(len(e["x_train"])), "sim_cycles": tb.sim_cycles,
                   "cycles_per_s": round(tb.sim_cycles / tb.sim_wall) if tb.sim_wall else 0,
                   "test_wall_s": round(time.perf_counter() - t0[0], 2)})
        assert chk.first is None, chk.first.text


# ---------------------------------------------------------------------------------------------
# pytest: train with the fast model, generate RTL from the run, run the bench under Verilator
# ---------------------------------------------------------------------------------------------

else:  # collected by pytest
    import pytest

    from simsetup import SUMMARY, build, ensure_run, generate_rtl, run_bench, simulators

    def _expect(run: Path, out: Path, limit: int | None, n_train: int) -> Path:
        """The model's side: test-set predictions and pre-activations, and the run continued n_train samples."""
        from hwsim.datasets import load_dataset, quantize_inputs
        from hwsim.fast import Engine
        from hwsim.run_dir import load_run
        saved = load_run(run)
        cfg = saved.cfg
        data = load_dataset(cfg.dataset)
        x = quantize_inputs(data.x_test, cfg.input)[:limit]
        y = data.y_test[:limit]
        engine = Engine(cfg, saved.weights, saved.rng_word)
        pred, z = engine.infer(x, return_z=True)
        tx = quantize_inputs(data.x_train[:n_train], cfg.input)
        ty = data.y_train[:n_train]
        train_pred = engine.train(tx, ty)
        path = out / "expect.npz"
        out.mkdir(parents=True, exist_ok=True)
        np.savez(path, x_test=x, y_test=y, pred=pred, z=z, x_train=tx, y_train=ty, train_pred=train_pred,
                 rng_word=saved.rng_word, **{f"W{k}": w for k, w in enumerate(saved.weights)},
                 **{f"after{k}": w for k, w in enumerate(engine.weights())})
        return path

    def _run(config: str, epochs: int, limit: int | None, n_train: int, min_samples: int) -> dict:
        if "verilator" not in simulators():
            pytest.skip("the trained-weights benches run under Verilator (SIM excludes it)")
        t0 = time.perf_counter()
        run = ensure_run(config, epochs)
        name = f"{Path(config).stem}-trained"
        design = generate_rtl(config, name, weights=run / "weights.npz")
        expect = _expect(run, design.root.parent / "expect", limit, n_train)
        runner = build(design, "verilator")
        reports, _ = run_bench(runner, design, "verilator", "test_trained", "trained",
                               {"DRTP_EXPECT": str(expect), "DRTP_CONFIG": str(run / "config.yaml")})
        r = reports[0]
        line = (f"[verilator {name}] {epochs} epoch(s), rng_word {r['rng_word']}: {r['compared']} test samples "
                f"compared, accuracy RTL {r['rtl_accuracy']:.4f} / model {r['model_accuracy']:.4f}, "
                f"{r['weights']} weights read back, then {r['trained_samples']} training samples continued; "
                f"{r['sim_cycles']} cycles, {r['cycles_per_s']} cycles/s; bench {r['test_wall_s']} s, "
                f"all {time.perf_counter() - t0:.1f} s; " + ("ok" if r["ok"] else f"MISMATCH: {r['mismatch']}"))
        print(line)
        SUMMARY.mkdir(parents=True, exist_ok=True)
        (SUMMARY / f"verilator-{name}.txt").write_text(line + "\n")
        if not r["ok"]:
            pytest.fail(f"verilator, {name}: {r['mismatch']}", pytrace=False)
        assert r["compared"] >= min_samples and r["rtl_accuracy"] == r["model_accuracy"]
        return r

    def test_trained_small():
        """configs/small.yaml trained 3 epochs on digits8x8: the whole test set (364), then 3 training samples."""
        _run("small", epochs=3, limit=None, n_train=3, min_samples=364)

    def test_trained_paper():   # ~95 s with a fresh Verilator build (< 2 minutes: not marked slow)
        """configs/paper-784-500-10.yaml trained 1 epoch on mnist5k: its 1,000 test samples, then 1 training sample."""
        _run("paper-784-500-10", epochs=1, limit=None, n_train=1, min_samples=1000)
