"""The board's UART framing: frame types, error codes, sizes and CRC, one source for host and gateware.

Every frame, both ways::

    0xA5 | type | len_lo | len_hi | payload[len] | crc8

``crc8`` is CRC-8/SMBUS (polynomial 0x07, initial 0, MSB first) over ``type``, the two length
bytes and the payload. Multi-byte fields are little-endian. The sizes depend on the engine config
(:class:`LinkFormat`); the gateware (:mod:`rtl.board.core`) and the host (:mod:`rtl.board.host`)
both take them from here, and the CRC's hardware form is derived from :func:`crc8_byte`.

Host -> board: ``S`` sample (``flags`` bit 0 = train, ``label``, ``n_in`` pixels of ``pixel_bytes``
raw two's-complement bytes each), ``W`` write one weight word (``layer``, ``addr`` 2 B, the word in
``word_bytes``), ``R`` read words (``layer``, ``addr`` 2 B, ``count`` 2 B), ``Q`` status, ``Z`` reset
the engine (weights kept). Board -> host: ``P`` prediction (``pred``, samples done 2 B) after each
good sample's ``done``, ``D`` read data (``layer``, ``addr`` 2 B, ``count`` words), ``T`` status
(:data:`STATUS_FIELDS`), ``E`` error (``code``, errors so far 2 B). Docs: docs/board.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwsim.config import EngineConfig

__all__ = ["SYNC", "T_SAMPLE", "T_WRITE", "T_READ", "T_STATUS", "T_RESET", "R_PRED", "R_DATA", "R_STATUS",
           "R_ERROR", "ERRORS", "ERR_FRAMING", "ERR_OVERRUN", "ERR_SYNC", "ERR_TYPE", "ERR_LENGTH", "ERR_CRC",
           "ERR_ARG", "ERR_RESPONSE", "STATUS_FIELDS", "STATUS_VERSION", "crc8", "crc8_byte", "crc8_matrix",
           "frame", "LinkFormat", "PRED_FRAME_BYTES", "link_rates"]

SYNC = 0xA5

T_SAMPLE, T_WRITE, T_READ, T_STATUS, T_RESET = (ord(c) for c in "SWRQZ")
R_PRED, R_DATA, R_STATUS, R_ERROR = (ord(c) for c in "PDTE")

ERR_FRAMING, ERR_OVERRUN, ERR_SYNC, ERR_TYPE, ERR_LENGTH, ERR_CRC, ERR_ARG, ERR_RESPONSE = range(1, 9)
ERRORS = {
    ERR_FRAMING: "a UART byte had no stop bit (framing error: wrong baud rate or noise)",
    ERR_OVERRUN: "the board's receive buffer overflowed and a byte was lost (overrun)",
    ERR_SYNC: "a byte outside a frame was not the start byte 0xA5",
    ERR_TYPE: "a frame had an unknown type",
    ERR_LENGTH: "a frame's length does not match its type",
    ERR_CRC: "a frame's CRC did not match (the frame was not acted on)",
    ERR_ARG: "a frame's argument was out of range (label, layer or address)",
    ERR_RESPONSE: "a prediction was ready while the previous one was still unsent (more than one sample in flight)",
}
"""What each error code of an ``E`` frame means (the host prints this sentence)."""

STATUS_VERSION = 1
STATUS_FIELDS = (("version", 1), ("digest", 4), ("rng_word", 4), ("samples", 2), ("errors", 2), ("flags", 1),
                 ("clocks_per_bit", 2), ("fifo_depth", 2))
"""The ``T`` payload: field name and bytes. ``digest`` is the first 8 hex digits of the config digest;
``rng_word`` the stochastic-rounding word the engine's reset stands for; ``samples`` good samples done
since reset; ``errors`` errors since reset; ``flags`` bit 0 busy, bit 1 an error since reset."""


def crc8_byte(crc: int, byte: int) -> int:
    """CRC-8/SMBUS of one more byte (polynomial 0x07, MSB first): linear in (crc, byte) over GF(2)."""
    crc ^= byte
    for _ in range(8):
        crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def crc8(data: bytes, crc: int = 0) -> int:
    for b in data:
        crc = crc8_byte(crc, b)
    return crc


def crc8_matrix() -> list[tuple[int, int]]:
    """Per output bit i: (mask of crc bits, mask of byte bits) whose XOR is bit i of :func:`crc8_byte`
    (the gateware's CRC, derived from the function above so the two cannot differ)."""
    rows = [[0, 0] for _ in range(8)]
    for j in range(8):
        for which, value in ((0, crc8_byte(1 << j, 0)), (1, crc8_byte(0, 1 << j))):
            for i in range(8):
                if value >> i & 1:
                    rows[i][which] |= 1 << j
    return [tuple(r) for r in rows]


def frame(kind: int, payload: bytes = b"") -> bytes:
    """One complete frame of type ``kind``."""
    body = bytes([kind, len(payload) & 0xFF, len(payload) >> 8]) + bytes(payload)
    return bytes([SYNC]) + body + bytes([crc8(body)])


@dataclass(frozen=True)
class LinkFormat:
    """Sizes of the frames for one engine config, and the weight-word packing of the host port."""

    cfg: EngineConfig

    @property
    def n_in(self) -> int:
        return self.cfg.layers[0].n_in

    @property
    def n_layers(self) -> int:
        return len(self.cfg.layers)

    @property
    def pixel_bytes(self) -> int:
        return -(-self.cfg.input.width // 8)

    @property
    def word_width(self) -> int:
        """Bits of the weight port's word (the widest layer word; narrower layers use the low bits)."""
        return max(self.cfg.lanes * layer.weight.width for layer in self.cfg.layers)

    @property
    def word_bytes(self) -> int:
        return -(-self.word_width // 8)

    def layer_words(self, k: int) -> int:
        """Weight RAM words of layer k: ``groups * n_cols``, address ``g * n_cols + i``."""
        return self.cfg.groups(k) * self.cfg.n_cols(k)

    @property
    def sample_len(self) -> int:
        return 2 + self.n_in * self.pixel_bytes

    @property
    def write_len(self) -> int:
        return 3 + self.word_bytes

    READ_LEN = 5
    STATUS_LEN = sum(n for _, n in STATUS_FIELDS)

    @property
    def max_read(self) -> int:
        """Most words one ``R`` frame may ask for (the ``D`` payload's length must fit 16 bits)."""
        return min(0xFFFF, (0xFFFF - 3) // self.word_bytes)

    def request_len(self, kind: int) -> int | None:
        """The payload length of a host frame of type ``kind`` (None: not a host frame type)."""
        return {T_SAMPLE: self.sample_len, T_WRITE: self.write_len, T_READ: self.READ_LEN,
                T_STATUS: 0, T_RESET: 0}.get(kind)

    # -- host-side encoders / decoders ------------------------------------------------------
    def sample_frame(self, x, label: int, train: bool) -> bytes:
        raw = [int(v) & ((1 << (8 * self.pixel_bytes)) - 1) for v in np.asarray(x).reshape(-1)]
        body = bytearray([int(bool(train)), int(label)])
        for v in raw:
            body += v.to_bytes(self.pixel_bytes, "little")
        return frame(T_SAMPLE, bytes(body))

    def write_frame(self, k: int, addr: int, word: int) -> bytes:
        return frame(T_WRITE, bytes([k]) + addr.to_bytes(2, "little") + word.to_bytes(self.word_bytes, "little"))

    def read_frame(self, k: int, addr: int, count: int) -> bytes:
        return frame(T_READ, bytes([k]) + addr.to_bytes(2, "little") + count.to_bytes(2, "little"))

    def layer_to_words(self, k: int, w: np.ndarray) -> list[int]:
        """Canonical ``(n_out, n_cols)`` raw weights of layer k as RAM words (lane p = neuron g*P+p, lane 0 low)."""
        cfg, P = self.cfg, self.cfg.lanes
        width, G, n_cols = cfg.layers[k].weight.width, cfg.groups(k), cfg.n_cols(k)
        full = np.zeros((G * P, n_cols), dtype=np.int64)
        full[: cfg.layers[k].n_out] = w
        u = (full & ((1 << width) - 1)).reshape(G, P, n_cols)
        words = []
        for g in range(G):
            for i in range(n_cols):
                words.append(sum(int(u[g, p, i]) << (p * width) for p in range(P)))
        return words

    def words_to_layer(self, k: int, words: list[int]) -> np.ndarray:
        """RAM words of layer k back to canonical raw weights (sign-extended)."""
        cfg, P = self.cfg, self.cfg.lanes
        width, n_cols = cfg.layers[k].weight.width, cfg.n_cols(k)
        out = np.zeros((cfg.groups(k) * P, n_cols), dtype=np.int64)
        for a, word in enumerate(words):
            g, i = divmod(a, n_cols)
            for p in range(P):
                out[g * P + p, i] = (word >> (p * width)) & ((1 << width) - 1)
        out = np.where(out >= 1 << (width - 1), out - (1 << width), out)
        return out[: cfg.layers[k].n_out]


PRED_FRAME_BYTES = 5 + 3
"""Bytes of a ``P`` frame (start, type, length, payload, CRC)."""


def link_rates(cfg: EngineConfig, baud: float, clock_hz: float) -> dict:
    """Samples per second the link allows vs the engine's own rate, training and inference.

    One sample at a time (what :func:`rtl.board.host.run_on_board` does): its frame in (10 bits per
    byte), the engine's cycles (``hwsim.cycles``, dense schedule; an ``event`` engine's depend on the
    sample), the ``P`` frame out. ``link_bound`` is the most any host could get: frames back to back.
    """
    from hwsim.cycles import dense_counts
    fmt = LinkFormat(cfg)
    frame_bytes = 5 + fmt.sample_len
    out: dict = {"frame_bytes": frame_bytes, "pred_frame_bytes": PRED_FRAME_BYTES, "baud": baud,
                 "clock_hz": clock_hz}
    for mode, train in (("train", True), ("infer", False)):
        cycles = int(dense_counts(cfg, 1, train).cycles[0])
        per_sample = (frame_bytes + PRED_FRAME_BYTES) * 10 / baud + cycles / clock_hz
        out[mode] = {"engine_cycles": cycles, "engine_samples_per_s": round(clock_hz / cycles, 1),
                     "link_samples_per_s": round(1 / per_sample, 1),
                     "link_bound_samples_per_s": round(baud / (10 * frame_bytes), 1)}
    return out
