"""Board bench: the board core (engine + UART link) driven over its UART by the host's own code.

Cocotb tests (run inside the simulator; the pytest functions at the bottom launch them). In each, the
host side is :mod:`rtl.board.host`, unchanged, in a thread (``cocotb.task.bridge``) talking to a fake
serial port whose bytes go through the bench's UART model (``board_uart.py``) to the RTL's pins:

``train_readback``  resets the engine, loads the golden set's initial weights over the link, reads them
                    back, trains ``DRTP_BOARD_SAMPLES`` golden samples (predictions compared), reads
                    every weight back and compares it with the golden weights after the last one.
``errors``          every protocol error the board reports (bad CRC on a write and on a training
                    sample, bad label, unknown type, bad length, stray byte, framing error, bad read
                    address, receive overrun) comes back as its ``E`` frame; bad frames change no
                    weight and make no prediction; the link works again afterwards.
``host_run``        :func:`rtl.board.host.run_on_board` (what ``python -m rtl.board run`` calls) on a
                    trained run: weights loaded and verified, ``DRTP_BOARD_LIMIT`` test samples
                    inferred, every prediction compared with the model; then the link's cycles per sample.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

import cocotb

CLOCKS_PER_BIT = 4          # a fast link for the bench: the rate is a parameter of the core
SAMPLES = 20                # training samples of train_readback (DRTP_BOARD_SAMPLES)
HOST_LIMIT = 32             # test samples of host_run (DRTP_BOARD_LIMIT; 0 = the whole test split)

if cocotb.is_simulation:
    from board_uart import FakeSerial, UartSink, UartSource
    from cocotb.task import bridge, resume
    from cocotb.triggers import ClockCycles
    from cocotb.utils import get_sim_time

    from bench import Checker
    from rtl.board import protocol as pr
    from rtl.board.host import BoardLink, LinkError, run_on_board

    async def _setup(dut, name: str):
        from golden.reader import open_golden
        manifest = json.loads(Path(os.environ["DRTP_MANIFEST"]).read_text())
        golden = open_golden(os.environ["DRTP_GOLDEN"])
        if golden.cfg.digest() != manifest["config"]["digest"]:
            raise AssertionError("the board core was built for another config than the golden set's")
        period = manifest["period_ns"]
        bit_ns = manifest["clocks_per_bit"] * period
        dut.rx.value = 1
        dut.rst.value = 1
        await ClockCycles(dut.clk, 3)
        dut.rst.value = 0
        await ClockCycles(dut.clk, 3)
        source, sink = UartSource(dut.rx, bit_ns), UartSink(dut.tx, bit_ns)
        cocotb.start_soon(sink.run())
        # the longest wait: a whole layer read back, 10 bits per byte, plus a sample's compute
        fmt = pr.LinkFormat(golden.cfg)
        longest = max(fmt.layer_words(k) for k in range(fmt.n_layers)) * fmt.word_bytes * 10 * bit_ns
        port = FakeSerial(source, sink, timeout_ns=2 * longest + 1_000_000)
        link = BoardLink(port, golden.cfg)
        report = str(Path(os.environ["DRTP_REPORT_DIR"]) / f"{name}.json")
        chk = Checker(golden, report, dut._log)
        chk.start_ns = get_sim_time("ns")     # the tests of a module share one simulation: cycles from here
        return golden, link, source, sink, chk, period

    def _finish(chk, t0: float, period: int, extra: dict) -> None:
        ns = get_sim_time("ns") - chk.start_ns
        chk.write({"simulator": cocotb.SIM_NAME, "sim_cycles": int(ns // period), "test_wall_s":
                   round(time.perf_counter() - t0, 2), **extra})
        assert chk.first is None, chk.first.text

    @cocotb.test()
    async def train_readback(dut) -> None:
        t0 = time.perf_counter()
        golden, link, _, _, chk, period = await _setup(dut, "train_readback")
        n = min(int(os.environ.get("DRTP_BOARD_SAMPLES", SAMPLES)), golden.n_train)
        L = len(golden.init_weights)

        def host():   # the host's code, in a thread; every call below moves the simulation on
            status = link.reset()
            for k, w in enumerate(golden.init_weights):
                link.write_layer(k, w)
            loaded = [link.read_layer(k) for k in range(L)]
            preds = [link.sample(golden.train_x[s], int(golden.train_label[s]), True) for s in range(n)]
            return status, loaded, preds, [link.read_layer(k) for k in range(L)], link.status()

        status, loaded, preds, back, end = await bridge(host)()
        if status.rng_word != 0 or status.samples != 0:
            chk._fail(f"after a reset the board reports rng word {status.rng_word} and {status.samples} samples")
        for k, w in enumerate(golden.init_weights):
            chk.weights_equal("initial load", -1, k, loaded[k], w, golden.cfg.lanes)
        for s, (pred, count) in enumerate(preds):
            chk.samples += 1
            chk.prediction("training over the link", s, pred, int(golden.train_pred[s]), golden.train_z[-1][s])
            if count != s + 1:
                chk._fail(f"sample {s}: the P frame counts {count} samples done, not {s + 1}")
        for s, expected in golden.iter_weights():
            if s == n - 1:
                for k, w in enumerate(expected):
                    chk.weights_equal("training over the link", s, k, back[k], w, golden.cfg.lanes)
                break
        if end.errors:
            chk._fail(f"the board counted {end.errors} link errors in a clean run")
        _finish(chk, t0, period, {"test": "train_readback", "bytes_out": link.bytes_out, "bytes_in": link.bytes_in})

    @cocotb.test()
    async def errors(dut) -> None:
        t0 = time.perf_counter()
        golden, link, source, sink, chk, period = await _setup(dut, "errors")
        cfg, fmt = golden.cfg, link.fmt
        x, label = golden.train_x[0], int(golden.train_label[0])

        def corrupt(frame_bytes: bytes) -> bytes:
            return frame_bytes[:-1] + bytes([frame_bytes[-1] ^ 0x5A])

        def expect(send, code: int) -> list[int]:
            """Send ``send`` (bytes, or a callable) then a status request: the answers must be E frames,
            the first with ``code``, then the T frame."""
            if callable(send):
                send()
            else:
                link.send(send)
            link.send(pr.frame(pr.T_STATUS))
            codes = []
            while True:
                head = link.port.read(4)
                body = link.port.read((head[2] | head[3] << 8) + 1)
                if head[1] != pr.R_ERROR:
                    break
                codes.append(body[0])
            if not codes or codes[0] != code:
                raise AssertionError(f"expected error {code} ({pr.ERRORS[code]}), the board answered "
                                     f"errors {codes} and then a {chr(head[1])!r} frame")
            return codes

        def host():
            seen = {}
            link.reset()
            last = fmt.n_layers - 1
            before = (link.read_words(0, 0, 1)[0], link.read_layer(last))
            seen["write bad CRC"] = expect(corrupt(fmt.write_frame(0, 0, before[0] ^ 0xFF)), pr.ERR_CRC)
            seen["train sample bad CRC"] = expect(corrupt(fmt.sample_frame(x, label, True)), pr.ERR_CRC)
            seen["label out of range"] = expect(fmt.sample_frame(x, 200, True), pr.ERR_ARG)
            seen["unknown type"] = expect(pr.frame(ord("X"), b"\x00"), pr.ERR_TYPE)
            seen["bad length"] = expect(pr.frame(pr.T_STATUS, b"\x00"), pr.ERR_LENGTH)
            seen["stray byte"] = expect(b"\x00", pr.ERR_SYNC)
            seen["read past the layer"] = expect(fmt.read_frame(0, fmt.layer_words(0) - 1, 2), pr.ERR_ARG)
            seen["write to a missing layer"] = expect(fmt.write_frame(fmt.n_layers, 0, 0), pr.ERR_ARG)
            seen["framing error"] = expect(lambda: raw_write(b"\x55", stop_bit=0), pr.ERR_FRAMING)
            # overrun: the parser waits while words are read out (twice as many bytes as the FIFO
            # holds and the bytes sent meanwhile), and the bytes sent meanwhile overflow the FIFO
            flood = fifo_depth + 16
            n = min(fmt.layer_words(0), -(-2 * flood // fmt.word_bytes) + 8)
            link.send(fmt.read_frame(0, 0, n) + bytes(flood))
            link.receive(pr.R_DATA)
            seen["receive overrun"] = expect(b"", pr.ERR_OVERRUN)
            after = (link.read_words(0, 0, 1)[0], link.read_layer(last))
            st = link.status()
            pred, count = link.sample(x, label, False)
            return seen, before, after, st, count

        raw_write = resume(source.write)     # bytes with a low stop bit: not something the host sends
        fifo_depth = json.loads(Path(os.environ["DRTP_MANIFEST"]).read_text())["fifo_depth"]
        try:
            seen, before, after, st, count = await bridge(host)()
        except (AssertionError, LinkError) as exc:
            chk._fail(str(exc))
            seen, before, after, st, count = {}, (0, None), (0, None), None, 0
        if before[0] != after[0]:
            chk._fail(f"a write frame with a bad CRC changed the word it named ({before[0]:#x} -> {after[0]:#x})")
        if before[1] is not None:
            chk.weights_equal("after the bad sample frames", -1, fmt.n_layers - 1, after[1], before[1], cfg.lanes)
        if st is not None:
            if st.samples != 0:
                chk._fail(f"bad sample frames were counted as samples done ({st.samples})")
            if not st.error_seen or st.errors < len(seen):
                chk._fail(f"the status reports {st.errors} errors after {len(seen)} bad inputs")
            if count != 1:
                chk._fail(f"the first good sample after the errors is counted as sample {count}, not 1")
        _finish(chk, t0, period, {"test": "errors", "errors": seen})

    @cocotb.test()
    async def host_run(dut) -> None:
        from hwsim.datasets import load_dataset, quantize_inputs
        from hwsim.run_dir import load_run
        t0 = time.perf_counter()
        golden, link, _, _, chk, period = await _setup(dut, "host_run")
        run = load_run(os.environ["DRTP_BOARD_RUN"], option="DRTP_BOARD_RUN")
        data = load_dataset(run.dataset)
        x, y = quantize_inputs(data.x_test, run.cfg.input), data.y_test
        limit = int(os.environ.get("DRTP_BOARD_LIMIT", HOST_LIMIT)) or len(x)
        x, y = x[:limit], y[:limit]
        link.cfg = run.cfg
        try:
            report = await bridge(run_on_board)(link, run.weights, x, y, False)
        except LinkError as exc:
            chk._fail(f"host run: {exc}")
            _finish(chk, t0, period, {"test": "host_run"})
            return
        chk.samples = chk.predictions = report.samples
        if report.mismatches:
            chk._fail(f"host run: {report.mismatches} of {report.samples} predictions differ from the model; "
                      f"{report.first_mismatch}")
        # the link's pace: sim cycles per inference sample, frame out and P frame back, one at a time
        c0 = get_sim_time("ns")
        k = 8

        def stream():
            for s in range(k):
                link.sample(x[s], int(y[s]), False)
        await bridge(stream)()
        per_sample = (get_sim_time("ns") - c0) / period / k
        _finish(chk, t0, period, {"test": "host_run", "board_accuracy": report.board_accuracy,
                                  "model_accuracy": report.model_accuracy, "mismatches": report.mismatches,
                                  "link_cycles_per_sample": round(per_sample, 1),
                                  "frame_bytes": len(link.fmt.sample_frame(x[0], 0, False)),
                                  "bytes_out": report.bytes_out, "bytes_in": report.bytes_in})


# ---------------------------------------------------------------------------------------------
# pytest: export the board core, build it per simulator and run the benches above
# ---------------------------------------------------------------------------------------------

else:  # collected by pytest
    from board_sim import board_design, build_board
    from simsetup import SUMMARY, ensure_run, golden_dir, run_bench, sim_params

    RUN_EPOCHS = 1

    @pytest.mark.parametrize("sim", sim_params())
    def test_board_small(sim):
        """configs/small.yaml behind the UART link at 4 clocks per bit: train + read back, errors, host run."""
        design = board_design("small", CLOCKS_PER_BIT)
        runner = build_board(design, sim)
        run = ensure_run("small", epochs=RUN_EPOCHS)
        # Icarus wakes Python for every UART bit at ~5-10k cycles/s: the host run (weights loaded and
        # read back over the link, ~1M cycles) only under Verilator, or with DRTP_FULL=1
        full = sim == "verilator" or bool(os.environ.get("DRTP_FULL"))
        tests = r".*(train_readback|errors|host_run)$" if full else r".*(train_readback|errors)$"
        reports, _ = run_bench(runner, design, sim, "test_board", "small",
                               {"DRTP_GOLDEN": str(golden_dir("small")), "DRTP_BOARD_RUN": str(run)},
                               test_filter=tests)
        lines = []
        for r in reports:
            extra = ""
            if r["test"] == "host_run":
                extra = (f", accuracy board {r.get('board_accuracy')} = model {r.get('model_accuracy')}, "
                         f"{r.get('link_cycles_per_sample')} cycles per sample over the link")
            lines.append(f"[{sim} board-small] {r['test']}: {r['samples']} samples, {r['predictions']} predictions, "
                         f"{r['weights']} weights compared{extra}, {r['sim_cycles']} cycles, test "
                         f"{r['test_wall_s']} s; " + ("ok" if r["ok"] else f"MISMATCH: {r['mismatch']}"))
        print("\n".join(lines))
        SUMMARY.mkdir(parents=True, exist_ok=True)
        (SUMMARY / f"{sim}-board-small.txt").write_text("\n".join(lines) + "\n")
        want = {"train_readback", "errors"} | ({"host_run"} if full else set())
        assert {r["test"] for r in reports} == want, lines
        bad = [r for r in reports if not r["ok"]]
        if bad:
            pytest.fail(f"{sim}, board, {bad[0]['test']}: {bad[0]['mismatch']}", pytrace=False)
