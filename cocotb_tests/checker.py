"""The bench's checker: what the engine did against the golden set, keeping the first mismatch as one sentence.

Runs inside the simulator (imported by ``bench`` and the cocotb test modules). Every message names
the sample (and the phase) it is about; the JSON report it writes is what the pytest side reads.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Mismatch", "Checker"]


@dataclass
class Mismatch:
    """The first difference found, as one sentence (what the pytest side shows)."""

    text: str
    details: dict = field(default_factory=dict)


class Checker:
    """Compares what the engine did with the golden set and keeps the first mismatch."""

    def __init__(self, golden, report_path: str | None, log):
        self.g, self.cfg = golden, golden.cfg
        self.report_path = report_path
        self.log = log
        self.first: Mismatch | None = None
        self.samples = 0
        self.predictions = 0
        self.weights = 0
        self.cycles_checked = 0
        self.protocol_checked = 0
        self.internal_values = 0
        self.padding_checked = 0

    def _fail(self, text: str, **details) -> None:
        if self.first is None:
            self.first = Mismatch(text, details)
            self.log.error("MISMATCH: %s", text)

    def prediction(self, phase: str, s: int, got: int, expected: int, z_expected) -> None:
        self.predictions += 1
        if got != expected:
            z = ", ".join(str(int(v)) for v in z_expected)
            self._fail(f"{phase} sample {s}: prediction expected {expected}, got {got} "
                       f"(golden output pre-activations [{z}])", phase=phase, sample=s, what="prediction",
                       expected=int(expected), actual=int(got))

    def protocol(self, phase: str, s: int, rec: "SampleRecord", beats: int) -> None:
        """The stream monitor's counts since the previous sample's done: exactly this sample's beats
        taken, ``ready`` never high while busy, one done, one pred_valid, one rvalid per host read."""
        c = rec.counts
        if c is None:
            return
        self.protocol_checked += 1
        want = {"handshakes": beats, "ready_busy": 0, "dones": 1, "pred_valids": 1, "rvalids": rec.reads}
        what = {"handshakes": "valid & ready handshakes (beats taken)", "ready_busy": "cycles with ready high while busy",
                "dones": "done strobes", "pred_valids": "pred_valid strobes",
                "rvalids": "weight-port rvalid cycles (one per host read)"}
        for name, expected in want.items():
            got = getattr(c, name)
            if got != expected:
                self._fail(f"{phase} sample {s}: the stream monitor counted {got} {what[name]} since the previous "
                           f"sample's done, expected {expected}", phase=phase, sample=s, what=name,
                           expected=expected, actual=got)
                return

    def internals(self, phase: str, s: int, got, train: bool) -> None:
        """Pre-activations, activations and modulatory signals from the layer probes vs the golden set.

        Training samples: every layer's z, y (hidden layers: the output layer keeps no copy) and
        delta; inference: the output layer's z (what ``infer_z.hex`` holds). Layer by layer in
        dataflow order, so the first difference reported is the earliest one.
        """
        if got is None:
            return
        g, K = self.g, len(self.cfg.layers)
        for k in range(K):
            if got.z_missing[k]:
                return self._fail(f"{phase} sample {s}: layer {k}'s post-processor never handed out neuron "
                                  f"{got.z_missing[k][0]} ({len(got.z_missing[k])} of {len(got.z[k])} missing)",
                                  phase=phase, sample=s, what="post missing", layer=k)
            lanes = self.cfg.groups(k) * self.cfg.lanes
            if got.post_count[k] != lanes:
                return self._fail(f"{phase} sample {s}: layer {k}'s post-processor ran {got.post_count[k]} "
                                  f"cycles, expected {lanes} (one per lane of every group)",
                                  phase=phase, sample=s, what="post count", layer=k)
            checks = []
            if train:
                checks.append(("pre-activation", got.z[k], g.train_z[k][s]))
                if got.y[k] is not None:
                    checks.append(("activation", got.y[k], g.train_y[k][s]))
                if got.delta_missing[k]:
                    return self._fail(f"{phase} sample {s}: layer {k} wrote no modulatory-signal word for lane "
                                      f"group {got.delta_missing[k][0]}", phase=phase, sample=s, what="delta missing",
                                      layer=k)
                checks.append(("modulatory signal" if self.cfg.delta_is_ternary(k) else "output error",
                               got.delta[k], g.train_delta[k][s]))
            elif k == K - 1:
                checks.append(("pre-activation", got.z[k], g.infer_z[s]))
            for name, a, b in checks:
                self.internal_values += len(b)
                diff = np.flatnonzero(np.asarray(a) != np.asarray(b))
                if diff.size:
                    j = int(diff[0])
                    return self._fail(f"{phase} sample {s}: layer {k} {name} of neuron {j} expected {int(b[j])}, "
                                      f"got {int(a[j])} ({diff.size} of {len(b)} differ; layer probe)",
                                      phase=phase, sample=s, what=name, layer=k, neuron=j,
                                      expected=int(b[j]), actual=int(a[j]))

    def padding_equal(self, phase: str, s: int, k: int, got: np.ndarray, loaded: np.ndarray) -> bool:
        """Padding lanes (neurons past n_out in the last group) do nothing: they keep what was loaded."""
        self.padding_checked += got.size
        diff = np.argwhere(got != loaded)
        if not diff.size:
            return True
        r, i = (int(v) for v in diff[0])
        where = f"{phase} sample {s}" if s >= 0 else phase
        self._fail(f"{where}: layer {k} padding lane (neuron {self.cfg.layers[k].n_out + r}, past n_out "
                   f"{self.cfg.layers[k].n_out}) input {i} holds {int(got[r, i])}, but {int(loaded[r, i])} was "
                   f"loaded and padding lanes must keep it; {len(diff)} padding weights differ",
                   phase=phase, sample=s, what="padding", layer=k, expected=int(loaded[r, i]), actual=int(got[r, i]))
        return False

    def cycles(self, phase: str, s: int, got: int, expected: int) -> None:
        self.cycles_checked += 1
        if got != expected:
            self._fail(f"{phase} sample {s}: took {got} clock cycles from first beat to done, the golden "
                       f"counts say {expected}", phase=phase, sample=s, what="cycles", expected=expected, actual=got)

    def weights_equal(self, phase: str, s: int, k: int, got: np.ndarray, expected: np.ndarray,
                      lanes: int) -> bool:
        """Compare layer k's read-back weights; on a difference, name the first (j, i)."""
        self.weights += expected.size
        diff = np.argwhere(got != expected)
        if not diff.size:
            return True
        j, i = (int(v) for v in diff[0])
        n_cols = expected.shape[1]
        g, lane = divmod(j, lanes)
        extra = ""
        if self.g.n_train and "training" in phase:
            gd = self.g.train_delta[k][s, j]
            gz = self.g.train_z[k][s, j]
            extra = f"; golden z={gz}, delta={gd} for neuron {j} in that sample"
        where = f"{phase} sample {s}" if s >= 0 else phase
        self._fail(f"{where}: layer {k} weight [neuron {j}, input {i}] (RAM address "
                   f"{g * n_cols + i}, lane {lane}) expected {int(expected[j, i])}, got {int(got[j, i])}; "
                   f"{len(diff)} of {expected.size} weights of layer {k} differ{extra}",
                   phase=phase, sample=s, what="weight", layer=k, neuron=j, input=i,
                   expected=int(expected[j, i]), actual=int(got[j, i]), differing=int(len(diff)))
        return False

    def write(self, extra: dict) -> None:
        report = {"ok": self.first is None, "mismatch": None if self.first is None else self.first.text,
                  "details": None if self.first is None else self.first.details,
                  "samples": self.samples, "predictions": self.predictions, "weights": self.weights,
                  "cycle_counts": self.cycles_checked, "protocol_checks": self.protocol_checked,
                  "internal_values": self.internal_values, "padding_weights": self.padding_checked, **extra}
        if self.report_path:
            tmp = self.report_path + ".tmp"
            with open(tmp, "w") as f:
                json.dump(report, f, indent=1)
            os.replace(tmp, self.report_path)
