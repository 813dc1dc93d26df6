"""8N1 UART receiver and transmitter at a fixed number of clock cycles per bit.

Twin: the bench's UART model (``cocotb_tests/board_uart.py``) drives and samples the same line format.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["UartRx", "UartTx", "MIN_CLOCKS_PER_BIT"]

MIN_CLOCKS_PER_BIT = 4
"""The receiver samples mid-bit after a 2-flip-flop synchroniser: fewer than 4 clocks per bit leave no margin."""


def _check(clocks_per_bit: int) -> None:
    if not isinstance(clocks_per_bit, int) or not MIN_CLOCKS_PER_BIT <= clocks_per_bit <= 0xFFFF:
        raise ValueError(f"UART clocks per bit must be an integer in {MIN_CLOCKS_PER_BIT}..65535, "
                         f"not {clocks_per_bit!r}")


class UartRx(wiring.Component):
    """Receives 8N1 bytes on ``i`` (idle high).

    Ports
    -----
    i : In(1)          the line (asynchronous: synchronised here)
    data : Out(8)      the byte, valid in the cycle ``valid`` strobes
    valid : Out(1)     one-cycle strobe: a byte with a good stop bit
    ferr : Out(1)      one-cycle strobe: a byte whose stop bit was low (framing error; the byte is dropped)
    """

    def __init__(self, clocks_per_bit: int):
        _check(clocks_per_bit)
        self.clocks_per_bit = clocks_per_bit
        super().__init__({"i": In(1, init=1), "data": Out(8), "valid": Out(1), "ferr": Out(1)})

    def elaborate(self, platform):
        m = Module()
        n = self.clocks_per_bit
        line = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.i, line, init=1)
        timer = Signal(range(n))
        bit = Signal(range(8))
        shift = Signal(8)
        m.d.comb += self.data.eq(shift)
        with m.If(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        with m.FSM(name="rx"):
            with m.State("IDLE"):
                with m.If(~line):
                    m.d.sync += timer.eq(n // 2 - 1)
                    m.next = "START"
            with m.State("START"):            # the middle of the start bit: still low, else a glitch
                with m.If(timer == 0):
                    with m.If(line):
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += [timer.eq(n - 1), bit.eq(0)]
                        m.next = "DATA"
            with m.State("DATA"):
                with m.If(timer == 0):
                    m.d.sync += [shift.eq(Cat(shift[1:], line)), timer.eq(n - 1), bit.eq(bit + 1)]
                    with m.If(bit == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(timer == 0):
                    with m.If(line):
                        m.d.comb += self.valid.eq(1)
                        m.next = "IDLE"
                    with m.Else():
                        m.d.comb += self.ferr.eq(1)
                        m.next = "BREAK"
            with m.State("BREAK"):            # wait for the line to go idle before the next start bit
                with m.If(line):
                    m.next = "IDLE"
        return m


class UartTx(wiring.Component):
    """Sends 8N1 bytes on ``o``: ``data`` is taken when ``valid`` and ``ready`` are both high.

    Ports
    -----
    data : In(8); valid : In(1); ready : Out(1)   the byte stream
    o : Out(1)                                    the line (idle high)
    """

    def __init__(self, clocks_per_bit: int):
        _check(clocks_per_bit)
        self.clocks_per_bit = clocks_per_bit
        super().__init__({"data": In(8), "valid": In(1), "ready": Out(1), "o": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        n = self.clocks_per_bit
        shift = Signal(10, init=0x3FF)            # stop, data[7:0], start; shifted out LSB first
        bits = Signal(range(11))
        timer = Signal(range(n))
        m.d.comb += [self.o.eq(shift[0]), self.ready.eq(bits == 0)]
        with m.If(self.valid & self.ready):
            m.d.sync += [shift.eq(Cat(Const(0, 1), self.data, Const(1, 1))), bits.eq(10), timer.eq(n - 1)]
        with m.Elif(bits != 0):
            with m.If(timer == 0):
                m.d.sync += [shift.eq(Cat(shift[1:], Const(1, 1))), bits.eq(bits - 1), timer.eq(n - 1)]
            with m.Else():
                m.d.sync += timer.eq(timer - 1)
        return m
