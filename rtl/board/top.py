"""The board top: the core on the board's oscillator clock, its UART pins, a reset button and LEDs.

The ``sync`` domain is the platform's default one (amaranth-boards: the board oscillator, with the
platform's power-on reset, which on iCE40 also waits for the block RAMs to be usable). No PLL: the
engines run at the oscillator's rate (ULX3S 25 MHz, iCE40 boards 12 MHz), below their Fmax; the build
reports Fmax against that clock. LEDs, in order: heartbeat (~1 Hz), engine busy, an error since
reset, byte received, byte sent.
"""

from __future__ import annotations

from amaranth.hdl import Elaboratable, Module, ResetInserter, Signal

from hwsim.config import EngineConfig
from hwsim.formats import ConfigError

from .boards import Board
from .core import DEFAULT_FIFO_DEPTH, BoardCore
from .uart import MIN_CLOCKS_PER_BIT

__all__ = ["BoardTop", "clocks_per_bit", "BAUD_TOLERANCE"]

BAUD_TOLERANCE = 0.02
"""Largest relative difference between the asked baud rate and clock / round(clock / baud): an 8N1
byte's last sample is 9.5 bits after its start edge, so 2 % still leaves a fifth of a bit of margin."""


def clocks_per_bit(clock_hz: float, baud: int) -> int:
    """The UART divisor for ``baud`` at ``clock_hz``; ConfigError (one sentence) when it cannot be met."""
    if baud <= 0:
        raise ConfigError(f"--baud must be a positive integer, not {baud}")
    n = round(clock_hz / baud)
    if n < MIN_CLOCKS_PER_BIT:
        raise ConfigError(f"--baud {baud} is too fast for the {clock_hz / 1e6:g} MHz board clock: at most "
                          f"{int(clock_hz // MIN_CLOCKS_PER_BIT)} ({MIN_CLOCKS_PER_BIT} clock cycles per bit)")
    if n > 0xFFFF:
        raise ConfigError(f"--baud {baud} is too slow for the {clock_hz / 1e6:g} MHz board clock: at least "
                          f"{int(clock_hz // 0xFFFF) + 1}")
    err = abs(clock_hz / n - baud) / baud
    if err > BAUD_TOLERANCE:
        raise ConfigError(f"--baud {baud} is {100 * err:.1f} % off at the {clock_hz / 1e6:g} MHz board clock "
                          f"({n} cycles per bit give {clock_hz / n:.0f}); allowed is {100 * BAUD_TOLERANCE:g} %")
    return n


class BoardTop(Elaboratable):
    """:class:`BoardCore` placed on ``board``'s pins (elaborated by the board's amaranth-boards platform)."""

    def __init__(self, board: Board, cfg: EngineConfig, baud: int, fifo_depth: int = DEFAULT_FIFO_DEPTH,
                 rng_word: int = 0):
        self.board, self.cfg = board, cfg
        self.clock_hz = board.clock_hz
        self.clocks_per_bit = clocks_per_bit(self.clock_hz, baud)
        self.core = BoardCore(cfg, self.clocks_per_bit, fifo_depth, rng_word)

    def elaborate(self, platform):
        m = Module()
        core = self.core
        if self.board.reset_button:
            button = platform.request(self.board.reset_button, 0)
            m.submodules.core = ResetInserter(button.i)(core)
        else:
            m.submodules.core = core
        uart = platform.request("uart", 0)
        m.d.comb += [core.rx.eq(uart.rx.i), uart.tx.o.eq(core.tx)]
        half = max(1, int(self.clock_hz // 2))
        count, beat = Signal(range(half)), Signal()
        with m.If(count == half - 1):
            m.d.sync += [count.eq(0), beat.eq(~beat)]
        with m.Else():
            m.d.sync += count.eq(count + 1)
        status = [beat, core.led_busy, core.led_error, core.led_rx, core.led_tx]
        for i, value in enumerate(status[:self.board.leds]):
            m.d.comb += platform.request("led", i).o.eq(value)
        return m
