"""The bench's UART model and the fake serial port that lets the host's own code drive the simulated board.

Runs inside the simulator. :class:`UartSource` drives the board's ``rx`` line bit by bit (8N1, one
``Timer`` per bit), :class:`UartSink` samples ``tx`` at the bit centres and records every byte (and
every missing stop bit). :class:`FakeSerial` has pyserial's ``write`` / ``read`` and is called from a
thread started by ``cocotb.task.bridge``: each call resumes the simulator until its bytes are sent or
received (or a simulated timeout passes), so :mod:`rtl.board.host` runs unchanged against the RTL.
"""

from __future__ import annotations

from cocotb.task import resume
from cocotb.triggers import Event, FallingEdge, First, Timer
from cocotb.utils import get_sim_time

__all__ = ["UartSource", "UartSink", "FakeSerial"]


class UartSource:
    """Host -> board: 8N1 bytes on ``line`` at ``bit_ns`` per bit, back to back."""

    def __init__(self, line, bit_ns: int):
        self.line, self.bit_ns = line, bit_ns
        self.line.value = 1
        self.sent = 0

    async def write(self, data: bytes, stop_bit: int = 1) -> None:
        """Send ``data``; ``stop_bit=0`` makes every byte a framing error (the error test)."""
        for byte in data:
            for bit in [0, *((byte >> i) & 1 for i in range(8)), stop_bit]:
                self.line.value = bit
                await Timer(self.bit_ns, unit="ns")
            self.line.value = 1
            if not stop_bit:
                await Timer(self.bit_ns, unit="ns")   # idle high again before the next start bit
            self.sent += 1


class UartSink:
    """Board -> host: samples ``line`` in the middle of every bit after a start edge."""

    def __init__(self, line, bit_ns: int):
        self.line, self.bit_ns = line, bit_ns
        self.data = bytearray()
        self.framing_errors = 0
        self.arrived = Event()

    async def run(self) -> None:
        while True:
            await FallingEdge(self.line)
            await Timer(self.bit_ns // 2, unit="ns")
            if self.line.value != 0:          # a glitch, not a start bit
                continue
            byte = 0
            for i in range(8):
                await Timer(self.bit_ns, unit="ns")
                byte |= int(self.line.value) << i
            await Timer(self.bit_ns, unit="ns")
            if self.line.value != 1:
                self.framing_errors += 1
            self.data.append(byte)
            self.arrived.set()


class FakeSerial:
    """pyserial's ``write`` / ``read`` on the simulated board; ``timeout_ns`` is simulated time."""

    def __init__(self, source: UartSource, sink: UartSink, timeout_ns: int):
        self.source, self.sink, self.timeout_ns = source, sink, timeout_ns
        self.write = resume(self._write)
        self.read = resume(self._read)

    async def _write(self, data: bytes) -> int:
        await self.source.write(bytes(data))
        return len(data)

    async def _read(self, n: int) -> bytes:
        buf = self.sink.data
        deadline = get_sim_time("ns") + self.timeout_ns
        while len(buf) < n:
            left = deadline - get_sim_time("ns")
            if left <= 0:
                break
            self.sink.arrived.clear()
            await First(self.sink.arrived.wait(), Timer(int(left), unit="ns"))
        out = bytes(buf[:n])
        del buf[:len(out)]
        return out
