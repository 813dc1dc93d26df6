"""The bench's read-outs of the observers in ``hdl/drtp_monitor.v``: protocol counters and per-layer probes.

Runs inside the simulator. The observers count and capture in the HDL every cycle; Python reads
them only at transaction boundaries (a sample's ``done`` cycle), so checking every handshake and
every internal value costs a few VPI reads per sample, not a Python call per clock edge. The
handles are the bench top's instances ``mon``, ``post<k>``, ``delta<k>`` and ``act<k>``, which
``simsetup.probes_include`` wires to the engine's own signals by hierarchical name (both Icarus
and Verilator; the engine is neither changed nor made public).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

__all__ = ["Counts", "StreamMonitor", "Internals", "LayerProbes", "lanes_of"]


@dataclass(frozen=True)
class Counts:
    """The stream monitor's counters (from reset on; differences are what the bench checks)."""

    handshakes: int = 0    # rising edges with sample valid & ready
    ready_busy: int = 0    # cycles with ready high while busy
    dones: int = 0
    pred_valids: int = 0
    rvalids: int = 0       # weight-port words returned

    def __sub__(self, other: "Counts") -> "Counts":
        return Counts(*(getattr(self, f.name) - getattr(other, f.name) for f in fields(self)))


class StreamMonitor:
    """``drtp_stream_monitor mon`` of the bench top."""

    def __init__(self, dut):
        self.h = dut.mon

    def read(self) -> Counts:
        return Counts(*(int(getattr(self.h, f.name).value) for f in fields(Counts)))


def lanes_of(word: int, n: int, width: int, signed: bool) -> np.ndarray:
    """``n`` fields of ``width`` bits out of an integer, field 0 lowest, as raw (sign-extended) ints."""
    mask = (1 << width) - 1
    if width > 63:   # a lane group's whole word (P lanes, e.g. 16 x 8 bits): Python ints, which callers split
        vals = [(word >> (i * width)) & mask for i in range(n)]
        return np.array([v - (1 << width) if signed and v >> (width - 1) else v for v in vals], dtype=object)
    out = np.array([(word >> (i * width)) & mask for i in range(n)], dtype=np.int64)
    if signed:
        out = np.where(out >= (1 << (width - 1)), out - (1 << width), out)
    return out


@dataclass
class Internals:
    """One sample's internal values as the RTL produced them, per layer (``n_out`` entries each).

    ``y[k]`` is None where the RTL keeps no copy of the activations (the output layer: its
    activations only exist inside the post-processor; its error is ``delta``).
    """

    z: list[np.ndarray]
    z_missing: list[list[int]]        # real neurons the post-processor never handed out this sample
    post_count: list[int]             # post-processed cycles this sample (padding lanes included)
    y: list[np.ndarray | None]
    delta: list[np.ndarray]
    delta_missing: list[list[int]]    # lane groups whose delta word was not written this sample


class LayerProbes:
    """The per-layer probes: pre-activations, modulatory signals and hidden activations."""

    def __init__(self, dut, cfg):
        self.cfg = cfg
        K = len(cfg.layers)
        self.post = [getattr(dut, f"post{k}") for k in range(K)]
        self.delta = [getattr(dut, f"delta{k}") for k in range(K)]
        self.act = [getattr(dut, f"act{k}") if k < K - 1 else None for k in range(K)]

    def read(self) -> Internals:
        """Read in the ``done`` cycle (the probes' ``seen`` flags clear on the edge that ends it)."""
        cfg, P = self.cfg, self.cfg.lanes
        out = Internals([], [], [], [], [], [])
        for k, layer in enumerate(cfg.layers):
            G, n_out = cfg.groups(k), layer.n_out
            zf = layer.preact
            z = lanes_of(int(self.post[k].zs.value), G * P, zf.width, zf.signed)
            seen = int(self.post[k].seen.value)
            out.z.append(z[:n_out])
            out.z_missing.append([j for j in range(n_out) if not (seen >> j) & 1])
            out.post_count.append(int(self.post[k].count.value))
            df = cfg.delta_format(k)
            words = lanes_of(int(self.delta[k].words.value), G, P * df.width, False)
            d = np.concatenate([lanes_of(int(w), P, df.width, df.signed) for w in words])
            dseen = int(self.delta[k].seen.value)
            out.delta.append(d[:n_out])
            out.delta_missing.append([g for g in range(G) if not (dseen >> g) & 1])
            out.y.append(self._activations(k))
        return out

    def _activations(self, k: int) -> np.ndarray | None:
        cfg, P = self.cfg, self.cfg.lanes
        h = self.act[k]
        if h is None:
            return None
        layer, yf = cfg.layers[k], cfg.layers[k].act
        if cfg.is_event:
            # the next layer's event list: (neuron, value) of every non-zero activation; the rest are 0
            vals = lanes_of(int(h.words.value), layer.n_out, yf.width, yf.signed)
            seen = int(h.seen.value)
            return np.array([vals[j] if (seen >> j) & 1 else 0 for j in range(layer.n_out)], dtype=np.int64)
        words = lanes_of(int(h.words.value), cfg.groups(k), P * yf.width, False)
        return np.concatenate([lanes_of(int(w), P, yf.width, yf.signed) for w in words])[: layer.n_out]
