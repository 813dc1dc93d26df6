"""rtl.board without a simulator or a board: framing, CRC (Python vs the gateware's XOR form), word packing,
the UART blocks in Amaranth's simulator, the host's error sentences, and the CLI's exit codes.

The gateware itself is tested by cocotb_tests/test_board.py (the host's code over a UART model).
"""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from hwsim.config import load_config
from hwsim.formats import ConfigError
from rtl.board import protocol as pr
from rtl.board.__main__ import main
from rtl.board.core import crc8_next
from rtl.board.host import BoardLink, LinkError
from rtl.board.top import clocks_per_bit
from rtl.board.uart import UartRx, UartTx


def test_crc8_check_value():
    assert pr.crc8(b"123456789") == 0xF4          # CRC-8/SMBUS catalogue check value


def test_crc8_matrix_equals_function_exhaustively():
    rows = pr.crc8_matrix()
    for crc in range(256):
        for byte in range(256):
            want = pr.crc8_byte(crc, byte)
            got = sum((bin(crc & cm).count("1") + bin(byte & bm).count("1")) % 2 << i
                      for i, (cm, bm) in enumerate(rows))
            assert got == want, (crc, byte)


def test_crc8_gateware_expression():
    """The XOR network rtl.board.core builds, evaluated by Amaranth's simulator, on a sweep of inputs."""
    m = Module()
    crc, byte = Signal(8), Signal(8)
    out = Signal(8)
    m.d.comb += out.eq(crc8_next(crc, byte))
    sim = Simulator(m)
    cases = [(c, b) for c in range(0, 256, 7) for b in range(0, 256, 5)]

    async def bench(ctx):
        for c, b in cases:
            ctx.set(crc, c)
            ctx.set(byte, b)
            assert ctx.get(out) == pr.crc8_byte(c, b), (c, b)
    sim.add_testbench(bench)
    sim.run()


def test_frame_layout():
    f = pr.frame(pr.T_READ, b"\x01\x02\x00\x03\x00")
    assert f[0] == pr.SYNC and f[1] == pr.T_READ and f[2:4] == b"\x05\x00"
    assert f[-1] == pr.crc8(f[1:-1])


@pytest.mark.parametrize("config", ["small", "paper-784-500-10"])
def test_word_packing_round_trip(config):
    cfg = load_config(config)
    fmt = pr.LinkFormat(cfg)
    rng = np.random.default_rng(1)
    for k, layer in enumerate(cfg.layers):
        w = rng.integers(layer.weight.min_raw, layer.weight.max_raw + 1, size=(layer.n_out, cfg.n_cols(k)))
        words = fmt.layer_to_words(k, w)
        assert len(words) == fmt.layer_words(k)
        assert max(words) < 1 << fmt.word_width
        assert np.array_equal(fmt.words_to_layer(k, words), w)


def test_sample_frame_sizes():
    cfg = load_config("small")
    fmt = pr.LinkFormat(cfg)
    f = fmt.sample_frame(np.arange(64), 3, True)
    assert len(f) == 5 + fmt.sample_len and f[4:6] == b"\x01\x03" and f[6:70] == bytes(range(64))


def _uart_loop(data: bytes, cpb: int, stop_low: bool = False):
    """UartTx -> UartRx in Amaranth's simulator (the line optionally forced low at the stop bit)."""
    m = Module()
    m.submodules.tx = tx = UartTx(cpb)
    m.submodules.rx = rx = UartRx(cpb)
    force = Signal()
    m.d.comb += rx.i.eq(tx.o & ~force)
    got, ferr = [], []
    sim = Simulator(m)
    sim.add_clock(1e-6)

    async def bench(ctx):
        for b in data:
            ctx.set(tx.data, b)
            ctx.set(tx.valid, 1)
            await ctx.tick().until(tx.ready)
            ctx.set(tx.valid, 0)
            for cycle in range(12 * cpb):
                await ctx.tick()
                if stop_low:
                    ctx.set(force, 9 * cpb <= cycle < 11 * cpb)
                if ctx.get(rx.valid):
                    got.append(ctx.get(rx.data))
                if ctx.get(rx.ferr):
                    ferr.append(b)
            ctx.set(force, 0)
            for _ in range(2 * cpb):
                await ctx.tick()
    sim.add_testbench(bench)
    sim.run()
    return got, ferr


@pytest.mark.parametrize("cpb", [4, 5, 13])
def test_uart_loopback(cpb):
    data = bytes([0x00, 0xFF, 0xA5, 0x5A, 0x01, 0x80])
    got, ferr = _uart_loop(data, cpb)
    assert bytes(got) == data and not ferr


def test_uart_framing_error():
    got, ferr = _uart_loop(b"\x55\x33", 4, stop_low=True)
    assert got == [] and ferr == [0x55, 0x33]


@pytest.mark.parametrize("clock,baud,words", [
    (12e6, 115200, None),
    (12e6, 4_000_000, "too fast for the 12 MHz board clock: at most 3000000"),
    (25e6, 1_000_000, None),
    (12e6, 900_000, "% off at the 12 MHz board clock"),
])
def test_clocks_per_bit(clock, baud, words):
    if words is None:
        n = clocks_per_bit(clock, baud)
        assert abs(clock / n - baud) / baud <= 0.02
    else:
        with pytest.raises(ConfigError, match=words.replace("(", r"\(")):
            clocks_per_bit(clock, baud)


class CannedPort:
    def __init__(self, data: bytes):
        self.data, self.written = bytearray(data), bytearray()

    def write(self, b):
        self.written += b

    def read(self, n):
        out = bytes(self.data[:n])
        del self.data[:n]
        return out


@pytest.mark.parametrize("answer,words", [
    (pr.frame(pr.R_ERROR, bytes([pr.ERR_CRC, 3, 0])), "error 6: a frame's CRC did not match"),
    (pr.frame(pr.R_PRED, b"\x01\x01\x00")[:-1] + b"\x00", "failed its CRC"),
    (b"\x00", "byte 0x00 where a frame's start byte 0xA5 belongs"),
    (b"", "sent no frame within the port's timeout"),
    (pr.frame(pr.R_DATA, b"\x00\x00\x00"), "answered with a 'D' frame where 'P' was expected"),
])
def test_host_errors(answer, words):
    cfg = load_config("small")
    link = BoardLink(CannedPort(answer), cfg)
    with pytest.raises(LinkError, match=words):
        link.sample(np.zeros(64, dtype=np.int64), 0, False)


@pytest.mark.parametrize("argv,words", [
    (["build", "--board", "nope", "--config", "small"], "--board must be one of ulx3s-85f, icebreaker"),
    (["build", "--board", "icebreaker", "--config", "small", "--baud", "5000000"], "--baud 5000000 is too fast"),
    (["run", "--port", "/dev/nonexistent-tty", "--run", "/nonexistent-run"], "--run '/nonexistent-run' is not a run folder"),
])
def test_cli_errors(argv, words, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err and err.count("\n") == 1
