"""The transaction-level testbench of the whole engine: driver -> golden model -> checker.

Runs inside the simulator process (imported by the cocotb test modules). Python wakes at
transaction boundaries only: an input beat handed over, a sample's ``done``, a weight word moved
through the host port. The clock never runs in Python: the bench top (``hdl/drtp_tb.v``) makes it
(``DRTP_HDL_CLOCK=1``, what ``simsetup`` builds), or, for a bare engine top, cocotb's GPI clock.
Everything is driven and sampled on *falling* edges, where every registered value of the
preceding rising edge has settled, so the same code is race-free under Icarus and Verilator.

The port map (names, payload fields, word layout, cycle counts) comes from the RTL generator's
manifest (:class:`EnginePorts`), so one bench serves every config.

Observation (``monitor``): at every sample's ``done`` the bench reads the HDL observers of the
bench top: the stream monitor (valid & ready handshakes = the sample's beats, ``ready`` never high
while ``busy``, one ``done`` and one ``pred_valid`` per sample, one ``rvalid`` per host read) and,
given the config, the layer probes (pre-activations, activations, modulatory signals).
Stimulus is strict where the contract allows: pixel lanes past ``n_in`` and the label/train
fields of every beat but the last carry random junk (the engine must ignore them), padding lanes
of the weight RAM are loaded with random weights (they must keep them), and ``host_noise`` drives
random weight-port writes and reads in every cycle the engine is busy (it must ignore them).
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass

import numpy as np

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, First, RisingEdge, Timer

from checker import Checker, Mismatch
from monitor import Counts, Internals, LayerProbes, StreamMonitor

__all__ = ["EnginePorts", "EngineTB", "Mismatch", "SampleRecord", "Checker", "ManifestError", "PORT_NAMES"]


@dataclass(frozen=True)
class EnginePorts:
    """What the bench needs to know about the top level, read from the manifest."""

    lanes: int
    n_in: int
    n_layers: int
    n_out: tuple[int, ...]
    n_cols: tuple[int, ...]
    groups: tuple[int, ...]
    in_width: int
    w_width: tuple[int, ...]
    pixel_lsb: int            # payload bit of lane 0's pixel; lane p at pixel_lsb + p * in_width
    label_lsb: int
    label_width: int
    train_lsb: int
    signals: dict             # role -> top-level port name
    cycles_train: int         # dense: clock cycles per sample, first beat to done, stream never stalling
    cycles_infer: int         # (event: the most a sample takes; each sample's own come from the golden counts)
    event: bool               # schedule: event (the load serializes non-zero pixels, one per cycle)
    host_read_latency: int    # cycles from wport re to rdata / rvalid

    @property
    def beats(self) -> int:
        return -(-self.n_in // self.lanes)

    @classmethod
    def from_manifest(cls, cfg, manifest: dict) -> "EnginePorts":
        """Shapes from the config (the one source of widths), names/offsets/cycles from the manifest."""
        digest = manifest.get("config", {}).get("digest")
        if digest != cfg.digest():
            raise ManifestError(f"the RTL was generated for config digest {digest}, but the golden set is for "
                                f"{cfg.name!r} (digest {cfg.digest()}); regenerate one of them")
        return cls(
            lanes=cfg.lanes, n_in=cfg.layers[0].n_in, n_layers=len(cfg.layers),
            n_out=tuple(l.n_out for l in cfg.layers), n_cols=tuple(cfg.n_cols(k) for k in range(len(cfg.layers))),
            groups=tuple(cfg.groups(k) for k in range(len(cfg.layers))), in_width=cfg.input.width,
            w_width=tuple(l.weight.width for l in cfg.layers), **manifest_ports(manifest))


# role -> the port ``rtl.generate`` names (Amaranth flattens the component signature with "__")
PORT_NAMES = {
    "clk": "clk", "rst": "rst", "sample_valid": "sample__valid", "sample_ready": "sample__ready",
    "sample_payload": "sample__payload", "pred": "pred", "pred_valid": "pred_valid", "busy": "busy",
    "done": "done", "w_layer": "wport__layer", "w_addr": "wport__addr", "w_wdata": "wport__wdata",
    "w_we": "wport__we", "w_re": "wport__re", "w_rdata": "wport__rdata", "w_rvalid": "wport__rvalid",
}


class ManifestError(ValueError):
    """The manifest does not describe the ports the bench drives."""


def manifest_ports(m: dict) -> dict:
    """Port names, payload field offsets and cycle counts from ``rtl.generate``'s manifest.json."""
    ports = {p["name"]: p for p in m.get("ports", [])}
    missing = [name for name in PORT_NAMES.values() if name not in ports]
    if missing:
        raise ManifestError(f"the RTL manifest lists no port {missing[0]!r}; the bench drives "
                            f"{', '.join(PORT_NAMES.values())}")
    fields = ports[PORT_NAMES["sample_payload"]].get("fields", {})
    for f in ("pixels", "label", "train"):
        if f not in fields:
            raise ManifestError(f"the RTL manifest gives no field {f!r} of port sample__payload")
    cycles = m.get("cycles", {})
    return dict(pixel_lsb=int(fields["pixels"]["offset"]), label_lsb=int(fields["label"]["offset"]),
                label_width=int(fields["label"]["width"]), train_lsb=int(fields["train"]["offset"]),
                signals=dict(PORT_NAMES), cycles_train=int(cycles["train"]),
                cycles_infer=int(cycles["inference"]), event=cycles.get("schedule", "dense") == "event",
                host_read_latency=int(m.get("parameters", {}).get("host_read_latency", 1)))


@dataclass
class SampleRecord:
    index: int
    prediction: int
    cycles: int          # first beat taken .. done, inclusive
    wall: float          # wall seconds the simulator spent on it
    counts: Counts | None = None          # stream monitor: what happened since the previous done
    internals: Internals | None = None    # layer probes, read in the done cycle
    reads: int = 0                        # host-port reads the bench issued since the previous done


class EngineTB:
    """Owns clock, reset, the input-stream driver, the done monitor and the weight-port model."""

    def __init__(self, dut, ports: EnginePorts, seed: int = 1, cfg=None):
        self.dut, self.p = dut, ports
        self.seed = seed
        s = ports.signals
        self.clk, self.rst = getattr(dut, s["clk"]), getattr(dut, s["rst"])
        self.valid, self.ready = getattr(dut, s["sample_valid"]), getattr(dut, s["sample_ready"])
        self.payload = getattr(dut, s["sample_payload"])
        self.pred, self.pred_valid = getattr(dut, s["pred"]), getattr(dut, s["pred_valid"])
        self.busy, self.done = getattr(dut, s["busy"]), getattr(dut, s["done"])
        self.w_layer, self.w_addr = getattr(dut, s["w_layer"]), getattr(dut, s["w_addr"])
        self.w_wdata, self.w_we = getattr(dut, s["w_wdata"]), getattr(dut, s["w_we"])
        self.w_re, self.w_rdata, self.w_rvalid = (getattr(dut, s["w_re"]), getattr(dut, s["w_rdata"]),
                                                  getattr(dut, s["w_rvalid"]))
        self.rng = random.Random(seed)
        self.junk = random.Random(seed + 0x5EED)    # payload junk, padding weights, host-port noise
        self.mon = StreamMonitor(dut)
        self.probes = LayerProbes(dut, cfg) if cfg is not None else None
        self.last_counts = Counts()
        self.reads = 0            # host reads issued since the previous done
        self.padding: dict[int, np.ndarray] = {}   # layer -> the padding rows loaded (G*P - n_out, n_cols)
        self.context = "before the first sample"   # names the sample in port messages
        self._pending: list[int] | None = None      # the next sample's beats, its first one held valid
        # protocol coverage: per beat position, idle cycles inserted before it (stall) and cycles it
        # waited, valid, for ready (backpressure); beat 0 also waits while the engine is busy
        self.cov = {"stall": [0] * ports.beats, "backpressure": [0] * ports.beats, "observe": True}
        # The bench top (hdl/drtp_tb.v) makes the clock; a bare engine gets cocotb's C++ (GPI) clock.
        self.hdl_clock = os.environ.get("DRTP_HDL_CLOCK") == "1"
        self.period_ns = 10
        self.sim_cycles = 0       # cycles spent inside samples (first beat .. done)
        self.sim_wall = 0.0       # wall seconds for those cycles
        self.sim_cpu = 0.0        # CPU seconds of this (simulator + Python) process for them

    # -- clock and reset -----------------------------------------------------------------------
    async def start(self) -> None:
        for h in (self.valid, self.w_we, self.w_re, self.w_layer, self.w_addr, self.w_wdata, self.payload):
            h.value = 0
        if not self.hdl_clock:
            Clock(self.clk, self.period_ns, unit="ns", impl="gpi").start(start_high=False)
        await self.reset()

    async def reset(self) -> None:
        """Two reset cycles; the bench top delays ``rst`` by one flip-flop, so one more cycle follows.

        The stream and the weight port are quiet first (a beat held valid would be taken after it)."""
        self.valid.value = self.w_we.value = self.w_re.value = 0
        self.rst.value = 1
        await ClockCycles(self.clk, 2)
        self.rst.value = 0
        await FallingEdge(self.clk)
        await FallingEdge(self.clk)
        self.last_counts, self.reads, self._pending = self.mon.read(), 0, None

    def now_cycles(self) -> int:
        return int(cocotb.utils.get_sim_time("ns") // self.period_ns)

    # -- weight port (host side; the engine must be idle) -----------------------------------------
    def _words(self, k: int, w: np.ndarray, padding: np.ndarray | None = None) -> list[int]:
        p = self.p
        P, G, n_cols, width = p.lanes, p.groups[k], p.n_cols[k], p.w_width[k]
        full = np.zeros((G * P, n_cols), dtype=np.int64)
        full[: p.n_out[k]] = w
        if padding is not None:
            full[p.n_out[k]:] = padding
        u = (full & ((1 << width) - 1)).tolist()
        words = []
        for g in range(G):
            for i in range(n_cols):
                word = 0
                for lane in range(P):
                    word |= u[g * P + lane][i] << (lane * width)
                words.append(word)
        return words

    def padding_junk(self, k: int) -> np.ndarray:
        """Random weights for layer k's padding lanes (neurons ``n_out .. G*P-1``), kept to compare."""
        p = self.p
        lo, hi = -(1 << (p.w_width[k] - 1)), (1 << (p.w_width[k] - 1)) - 1
        rows = p.groups[k] * p.lanes - p.n_out[k]
        return np.array([[self.junk.randint(lo, hi) for _ in range(p.n_cols[k])] for _ in range(rows)],
                        dtype=np.int64).reshape(rows, p.n_cols[k])

    async def write_weights(self, k: int, w: np.ndarray, padding: np.ndarray | None = None) -> None:
        """Load canonical ``(n_out, n_cols)`` raw weights into layer k (one word per cycle).

        ``padding``: the padding lanes' rows (default 0); remembered for :meth:`read_weights`.
        """
        self.padding[k] = (np.zeros((self.p.groups[k] * self.p.lanes - self.p.n_out[k], self.p.n_cols[k]),
                                    dtype=np.int64) if padding is None else padding)
        self.w_layer.value = k
        for addr, word in enumerate(self._words(k, w, self.padding[k])):
            self.w_addr.value = addr
            self.w_wdata.value = word
            self.w_we.value = 1
            await FallingEdge(self.clk)
        self.w_we.value = 0

    async def read_weights(self, k: int, padding: bool = False):
        """Read layer k back through the host port as canonical ``(n_out, n_cols)`` raw weights.

        With ``padding``, returns ``(weights, padding rows)``: the lanes past ``n_out`` too.
        """
        p = self.p
        P, G, n_cols, width = p.lanes, p.groups[k], p.n_cols[k], p.w_width[k]
        n, lag = G * n_cols, p.host_read_latency
        words = [0] * n
        self.w_layer.value = k
        for cycle in range(n + lag - 1):      # one read per cycle; each word arrives `lag` cycles later
            self.w_re.value = int(cycle < n)
            self.w_addr.value = min(cycle, n - 1)
            await FallingEdge(self.clk)       # the rising edge in between moved the reads on
            addr = cycle + 1 - lag
            if bool(self.w_rvalid.value) != (0 <= addr < n):
                raise AssertionError(f"weight port, reading back {self.context}: rvalid is "
                                     f"{int(self.w_rvalid.value)} {lag} cycles after reading layer {k} "
                                     f"address {addr}")
            if addr >= 0:
                words[addr] = int(self.w_rdata.value)
        self.w_re.value = 0
        self.reads += n
        mask = (1 << width) - 1
        out = np.zeros((G * P, n_cols), dtype=np.int64)
        for a, word in enumerate(words):
            g, i = divmod(a, n_cols)
            for lane in range(P):
                out[g * P + lane, i] = (word >> (lane * width)) & mask
        out = np.where(out >= (1 << (width - 1)), out - (1 << width), out)
        return (out[: p.n_out[k]], out[p.n_out[k]:]) if padding else out[: p.n_out[k]]

    # -- input stream ------------------------------------------------------------------------
    def _beats(self, x, label: int, train: bool) -> list[int]:
        """The sample's beats. Lanes past ``n_in`` and the label/train fields of all beats but the
        last carry random junk: the contract says the engine ignores them."""
        p = self.p
        mask = (1 << p.in_width) - 1
        x = [int(v) & mask for v in x] + [self.junk.randint(0, mask) for _ in range(p.beats * p.lanes - p.n_in)]
        tail = (int(label) << p.label_lsb) | (int(train) << p.train_lsb)
        beats = []
        for b in range(p.beats):
            word = tail if b == p.beats - 1 else ((self.junk.getrandbits(p.label_width) << p.label_lsb)
                                                    | (self.junk.getrandbits(1) << p.train_lsb))
            for lane in range(p.lanes):
                word |= x[b * p.lanes + lane] << (p.pixel_lsb + lane * p.in_width)
            beats.append(word)
        return beats

    async def _offer(self, word: int, beat: int = 0) -> int:
        """Hold ``word`` valid until it is accepted (backpressure); returns the cycle it was taken in.

        Beats are only offered to an idle engine or one in its finishing cycle (or, with ``event``,
        one writing the previous beat's events, at most P - 1 cycles), so ``ready`` is
        polled on falling edges for a few cycles at most (a value-change trigger on ``ready`` or
        ``done`` costs Icarus a Python call on every evaluation of the net: 10x slower).
        """
        self.payload.value = word
        self.valid.value = 1
        waited = 0
        while not self.ready.value:
            await FallingEdge(self.clk)
            waited += 1
            if waited > READY_LIMIT + self.p.lanes:
                raise AssertionError(f"{self.context}: input stream: ready stayed low for "
                                     f"{READY_LIMIT + self.p.lanes} cycles while beat {beat} was offered to an "
                                     f"engine that should be idle")
        if waited and self.cov["observe"]:
            self.cov["backpressure"][beat] += 1
        taken = self.now_cycles()
        await FallingEdge(self.clk)            # the rising edge in between took the beat
        return taken

    async def send(self, beats: list[int], stall: float = 0.0, hold_next=None,
                   held: bool = False) -> tuple[int, int]:
        """Stream one sample's beats; with ``stall`` > 0 idle cycles are inserted at random between them.

        With ``hold_next`` (the next sample's first beat) that beat is left valid after the last
        one, so the engine sees a waiting producer while it is busy (backpressure). Returns the
        cycles the first and the last beat were taken in. ``held``: the first beat is already valid
        (held during the previous sample), so it is not withdrawn by a stall.
        """
        first = None
        for b, word in enumerate(beats):
            while stall and not (held and b == 0) and self.rng.random() < stall:
                self.valid.value = 0
                if self.cov["observe"]:
                    self.cov["stall"][b] += 1
                await FallingEdge(self.clk)
            taken = await self._offer(word, b)
            first = taken if first is None else first
        if hold_next is None:
            self.valid.value = 0
        else:
            self.payload.value = hold_next
            self.valid.value = 1
            if self.cov["observe"]:
                self.cov["backpressure"][0] += 1   # the next sample's first beat waits while busy
        return first, taken

    def after_last_beat(self, x, cycles: int) -> int:
        """Cycles from the sample's last beat taken to ``done`` when the sample takes ``cycles`` unstalled.

        Dense: every beat is one load cycle. Event: a beat takes one cycle per non-zero pixel (at
        least one), so the last beat's other events are still written after it is taken.
        """
        p = self.p
        x = np.asarray([int(v) for v in x] + [0] * (p.beats * p.lanes - p.n_in)).reshape(p.beats, p.lanes)
        if not p.event:
            return cycles - p.beats
        per_beat = np.maximum((x != 0).sum(axis=1), 1)
        return cycles - int(per_beat.sum()) + int(per_beat[-1]) - 1

    async def run_sample(self, index: int, x, label: int, train: bool, stall: float = 0.0,
                         next_first=None, expected: int | None = None, host_noise: bool = False) -> SampleRecord:
        """One sample: stream it, sleep until ``done``, read the prediction, the monitor and the probes.

        ``expected``: the cycles the golden counts give the sample unstalled (default: the manifest's).
        ``host_noise``: drive random weight-port writes and reads in every busy cycle (Python wakes
        on every edge of the sample then).
        """
        t0, c0 = time.perf_counter(), time.process_time()
        phase = "training" if train else "inference"
        self.context = f"{phase} sample {index}"
        held = self._pending is not None
        beats = self._pending if held else self._beats(x, label, train)
        self._pending = None if next_first is None else self._beats(*next_first)
        first, last = await self.send(beats, stall, None if self._pending is None else self._pending[0], held)
        if expected is None:
            expected = self.p.cycles_train if train else self.p.cycles_infer
        if host_noise:
            await self._noise_until_done(index, phase, expected)
        else:
            await self._wait_done(index, train, last, self.after_last_beat(x, expected), expected)
        cycles = self.now_cycles() - first + 1
        pred = int(self.pred.value)
        internals = self.probes.read() if self.probes is not None else None   # in the done cycle
        await FallingEdge(self.clk)           # the engine leaves its finishing cycle
        if host_noise:                        # the done cycle's access was the last busy one
            self.w_we.value = self.w_re.value = 0
        # the counters have counted the done cycle; the next sample's held beat is taken one edge later
        counts = self.mon.read()
        rec = SampleRecord(index, pred, cycles, 0.0, counts - self.last_counts, internals, self.reads)
        self.last_counts, self.reads = counts, 0
        self.context = f"after {phase} sample {index}"
        rec.wall = time.perf_counter() - t0
        self.sim_cycles += cycles
        self.sim_wall += rec.wall
        self.sim_cpu += time.process_time() - c0
        return rec

    async def _noise_until_done(self, index: int, phase: str, per_sample: int) -> None:
        """Random host writes and reads in every cycle ``busy`` is high, until ``done``.

        Driven on falling edges, where ``busy`` already shows the state of the coming rising edge,
        so every access lands in a busy cycle; the port is quiet whenever the engine is not busy.
        """
        p = self.p
        limit = self.now_cycles() + 4 * per_sample + 100
        quiet = True
        while True:
            if self.busy.value:
                k = self.junk.randrange(p.n_layers)
                self.w_layer.value = k
                self.w_addr.value = self.junk.randrange(p.groups[k] * p.n_cols[k])
                self.w_wdata.value = self.junk.getrandbits(p.lanes * p.w_width[k])
                self.w_we.value = self.junk.getrandbits(1)
                self.w_re.value = self.junk.getrandbits(1)
                quiet = False
            elif not quiet:
                self.w_we.value = self.w_re.value = 0
                quiet = True
            if self.done.value:
                break
            await FallingEdge(self.clk)
            if self.now_cycles() > limit:
                raise AssertionError(f"{phase} sample {index}: no done within {4 * per_sample + 100} cycles "
                                     f"of its last input beat while the host port was driven")


    async def _wait_done(self, index: int, train: bool, last: int, after_last: int, per_sample: int) -> None:
        """Sleep until the cycle the golden counts promise ``done`` in, then confirm it on falling edges.

        One timer instead of a value-change trigger (see :meth:`_offer`). The engine is checked to
        be still busy on waking, so a ``done`` that came early is reported, never skipped silently;
        a late one is waited for up to four sample periods.
        """
        due = last + after_last                          # the done cycle when the schedule holds
        phase = "training" if train else "inference"
        sleep = due - self.now_cycles() - 1
        if sleep > 0:                                    # wake a quarter period before a falling edge
            await Timer(sleep * self.period_ns - self.period_ns // 4, unit="ns")
            await FallingEdge(self.clk)
            if not self.busy.value and not self.done.value:
                raise AssertionError(f"{phase} sample {index}: the engine finished more than "
                                     f"{sleep} cycles after its last input beat, earlier than the "
                                     f"{after_last} the golden counts give ({per_sample} cycles per sample)")
        limit = self.now_cycles() + 4 * per_sample + 100
        while not self.done.value:
            await FallingEdge(self.clk)
            if self.now_cycles() > limit:
                raise AssertionError(f"{phase} sample {index}: no done within {4 * per_sample + 100} cycles "
                                     f"of its last input beat (the manifest says {per_sample} per sample)")
            if self.now_cycles() > due + 8 and not self.done.value:   # late: stop polling every edge
                fired = await First(RisingEdge(self.done), Timer((limit - self.now_cycles()) * self.period_ns,
                                                                 unit="ns"))
                if isinstance(fired, RisingEdge):
                    await FallingEdge(self.clk)


READY_LIMIT = 64
