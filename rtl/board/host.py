"""The host side of the board link: frames over a serial port, and the run that checks a board against the model.

A *port* is anything with pyserial's ``write(bytes)`` and ``read(n) -> bytes`` (fewer bytes on a
timeout): ``serial.Serial`` for a real board, the cocotb bench's fake port for the simulated one
(``cocotb_tests/board_uart.py``), so the code below is the same in both.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from hwsim.config import EngineConfig

from . import protocol as pr

__all__ = ["SerialPort", "LinkError", "BoardLink", "BoardStatus", "RunReport", "run_on_board"]


class SerialPort(Protocol):
    def write(self, data: bytes) -> int | None: ...

    def read(self, n: int) -> bytes: ...


class LinkError(RuntimeError):
    """The board did not answer, answered garbage, or reported an error: one sentence."""


@dataclass(frozen=True)
class BoardStatus:
    version: int
    digest: str          # first 8 hex digits of the config digest the bitstream was built for
    rng_word: int
    samples: int
    errors: int
    busy: bool
    error_seen: bool
    clocks_per_bit: int
    fifo_depth: int


class BoardLink:
    """Frames to and from one board whose engine is ``cfg``."""

    def __init__(self, port: SerialPort, cfg: EngineConfig):
        self.port, self.cfg, self.fmt = port, cfg, pr.LinkFormat(cfg)
        self.bytes_out = self.bytes_in = 0

    # -- frames -------------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        self.port.write(data)
        self.bytes_out += len(data)

    def _read(self, n: int, what: str) -> bytes:
        data = self.port.read(n)
        self.bytes_in += len(data)
        if len(data) != n:
            raise LinkError(f"the board sent no {what} within the port's timeout (got {len(data)} of {n} bytes)")
        return data

    def receive(self, expect: int) -> bytes:
        """The payload of the next frame, which must be of type ``expect``; an ``E`` frame raises."""
        start = self._read(1, "frame")[0]
        if start != pr.SYNC:
            raise LinkError(f"the board sent byte 0x{start:02X} where a frame's start byte 0x{pr.SYNC:02X} belongs")
        head = self._read(3, "frame header")
        n = head[1] | head[2] << 8
        body = self._read(n + 1, f"{n}-byte frame payload")
        if pr.crc8(head + body[:-1]) != body[-1]:
            raise LinkError(f"a frame from the board failed its CRC (type 0x{head[0]:02X}, {n} bytes)")
        kind, payload = head[0], body[:-1]
        if kind == pr.R_ERROR and expect != pr.R_ERROR:
            code, count = payload[0], payload[1] | payload[2] << 8
            raise LinkError(f"the board reported error {code}: {pr.ERRORS.get(code, 'unknown code')} "
                            f"({count} errors since reset)")
        if kind != expect:
            raise LinkError(f"the board answered with a {chr(kind)!r} frame where {chr(expect)!r} was expected")
        return payload

    # -- commands -----------------------------------------------------------------------------
    def status(self) -> BoardStatus:
        self.send(pr.frame(pr.T_STATUS))
        return self._status(self.receive(pr.R_STATUS))

    def reset(self) -> BoardStatus:
        """Reset the engine (random stream back to its reset word, counters cleared; weights kept)."""
        self.send(pr.frame(pr.T_RESET))
        return self._status(self.receive(pr.R_STATUS))

    @staticmethod
    def _status(p: bytes) -> BoardStatus:
        if len(p) != pr.LinkFormat.STATUS_LEN:
            raise LinkError(f"the board's status frame has {len(p)} bytes, this host reads {pr.LinkFormat.STATUS_LEN}")
        v, pos = {}, 0
        for name, n in pr.STATUS_FIELDS:
            v[name] = int.from_bytes(p[pos:pos + n], "little")
            pos += n
        return BoardStatus(v["version"], f"{v['digest']:08x}", v["rng_word"], v["samples"], v["errors"],
                           bool(v["flags"] & 1), bool(v["flags"] & 2), v["clocks_per_bit"], v["fifo_depth"])

    def write_layer(self, k: int, w: np.ndarray) -> None:
        """Load layer k's canonical raw weights (one ``W`` frame per word; errors come back as ``E``
        frames, which the next command's answer raises)."""
        for addr, word in enumerate(self.fmt.layer_to_words(k, w)):
            self.send(self.fmt.write_frame(k, addr, word))

    def read_words(self, k: int, addr: int, count: int) -> list[int]:
        """``count`` raw words of layer k from ``addr`` (one ``R`` frame per :attr:`LinkFormat.max_read`)."""
        words: list[int] = []
        wb = self.fmt.word_bytes
        while len(words) < count:
            at, n = addr + len(words), min(self.fmt.max_read, count - len(words))
            self.send(self.fmt.read_frame(k, at, n))
            p = self.receive(pr.R_DATA)
            if p[0] != k or int.from_bytes(p[1:3], "little") != at or len(p) != 3 + n * wb:
                raise LinkError(f"the board answered a read of layer {k} at {at} with another range")
            words += [int.from_bytes(p[3 + i * wb:3 + (i + 1) * wb], "little") for i in range(n)]
        return words

    def read_layer(self, k: int) -> np.ndarray:
        """Layer k's canonical raw weights, read back."""
        return self.fmt.words_to_layer(k, self.read_words(k, 0, self.fmt.layer_words(k)))

    def sample(self, x, label: int, train: bool) -> tuple[int, int]:
        """One sample; returns (prediction, the board's count of samples done)."""
        self.send(self.fmt.sample_frame(x, label, train))
        p = self.receive(pr.R_PRED)
        return p[0], p[1] | p[2] << 8


@dataclass
class RunReport:
    samples: int
    mode: str
    board_accuracy: float
    model_accuracy: float
    mismatches: int
    first_mismatch: str | None
    weights_compared: int = 0
    weights_differing: int = 0
    seconds: float = 0.0
    bytes_out: int = 0
    bytes_in: int = 0
    status: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.mismatches == 0 and self.weights_differing == 0

    def lines(self) -> list[str]:
        out = [f"{self.samples} samples ({self.mode}) in {self.seconds:.1f} s: board accuracy "
               f"{self.board_accuracy:.4f}, model {self.model_accuracy:.4f}; {self.mismatches} predictions differ"]
        if self.weights_compared:
            out.append(f"weights read back: {self.weights_compared} compared, {self.weights_differing} differ")
        if self.first_mismatch:
            out.append(f"first difference: {self.first_mismatch}")
        out.append(f"link: {self.bytes_out} bytes out, {self.bytes_in} bytes in")
        return out


def run_on_board(link: BoardLink, weights: list[np.ndarray], x: np.ndarray, labels: np.ndarray, train: bool,
                 verify_load: bool = True, progress=None) -> RunReport:
    """Load ``weights``, stream the raw inputs ``x`` (train or infer), compare with the model.

    The board's engine is reset first, so its random stream starts at the word its status reports, and
    the model (:class:`hwsim.fast.Engine`) runs from the same weights and word. Every prediction is
    compared; after training every weight is read back and compared too.
    """
    from hwsim.fast import Engine
    cfg = link.cfg
    t0 = time.perf_counter()
    st = link.status()
    if st.version != pr.STATUS_VERSION:
        raise LinkError(f"the board speaks status version {st.version}, this host {pr.STATUS_VERSION}")
    if st.digest != cfg.digest()[:8]:
        raise LinkError(f"the board's bitstream is for config digest {st.digest}..., the run's config "
                        f"{cfg.name!r} has {cfg.digest()[:8]}...; build the bitstream from the run's config")
    st = link.reset()
    for k, w in enumerate(weights):
        link.write_layer(k, w)
    if verify_load:
        for k, w in enumerate(weights):
            got = link.read_layer(k)
            if not np.array_equal(got, w):
                raise LinkError(f"layer {k}'s weights read back after loading differ in "
                                f"{int((got != w).sum())} of {w.size} places")
    model = Engine(cfg, weights, rng_word=st.rng_word)
    expected = model.train(x, labels) if train else model.infer(x)
    got = np.zeros(len(x), dtype=np.int64)
    first = None
    for s in range(len(x)):
        pred, count = link.sample(x[s], int(labels[s]), train)
        if count != (s + 1) & 0xFFFF:
            raise LinkError(f"sample {s}: the board counts {count} samples done, {s + 1} were sent")
        got[s] = pred
        if pred != expected[s] and first is None:
            first = f"sample {s}: board predicted {pred}, model {int(expected[s])}"
        if progress:
            progress(s)
    report = RunReport(len(x), "train" if train else "infer", float(np.mean(got == labels)) if len(x) else 0.0,
                       float(np.mean(expected == labels)) if len(x) else 0.0, int((got != expected).sum()), first)
    if train:
        for k, w in enumerate(model.weights()):
            back = link.read_layer(k)
            report.weights_compared += w.size
            report.weights_differing += int((back != w).sum())
    end = link.status()
    if end.errors:
        raise LinkError(f"the board counted {end.errors} link errors during the run")
    report.seconds = time.perf_counter() - t0
    report.bytes_out, report.bytes_in = link.bytes_out, link.bytes_in
    report.status = {"digest": end.digest, "rng_word": st.rng_word, "clocks_per_bit": end.clocks_per_bit,
                     "samples": end.samples}
    return report
