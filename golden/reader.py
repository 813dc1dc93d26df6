"""Reading a golden set: every file checked against meta.json, arrays handed out as raw int64.

>>> gs = open_golden("golden/small", expect=load_config("small"))
>>> for s, weights in gs.iter_weights():   # the expected weights after every training sample
...     ...

Everything wrong with a set (missing, truncated, edited, generated for another config, written
by a newer generator) is one :class:`~golden.format.GoldenError` sentence, raised by
:func:`open_golden` before a bench starts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hwsim.config import EngineConfig
from hwsim.cycles import COUNT_FIELDS, SampleCounts

from .format import GoldenError, GoldenMeta, read_hex, read_meta

__all__ = ["GoldenSet", "open_golden"]


class GoldenSet:
    """A checked golden set.

    Attributes
    ----------
    meta : GoldenMeta
        meta.json, parsed; ``meta.cfg`` is the engine config the set was generated for.
    init_weights : list of ndarray, each (n_out, n_cols)
        Raw initial weights per layer.
    train_x : ndarray (N, n_in); train_label, train_pred : ndarray (N,)
        Training inputs in the order they are fed, labels, and the prediction made for each.
    train_z, train_y, train_delta : list of ndarray, each (N, n_out_k)
        Per layer: pre-activations, activations, modulatory signals of every training sample.
    infer_x : ndarray (M, n_in); infer_label, infer_pred : ndarray (M,); infer_z : ndarray (M, n_classes)
    train_counts, infer_counts : hwsim.cycles.SampleCounts
        Per sample: the work done and (``.cycles``) the clock cycles the RTL must take.
        The inference slice (run with the weights after the last training sample).
    checkpoints : dict[int, list of ndarray]
        Full weights after the listed samples.
    """

    def __init__(self, meta: GoldenMeta):
        self.meta = meta
        cfg = self.cfg = meta.cfg
        n_layers = len(cfg.layers)
        listed = set(meta.files)
        expected = {"init_w%d.hex" % k for k in range(n_layers)} | {
            "train_x.hex", "train_label.hex", "train_pred.hex",
            "infer_x.hex", "infer_label.hex", "infer_pred.hex", "infer_z.hex",
            "train_counts.hex", "infer_counts.hex"} | {
            f"train_{q}{k}.hex" for q in ("z", "y", "delta", "wdiff", "wcount") for k in range(n_layers)} | {
            f"ckpt_w{k}_s{s}.hex" for s in meta.checkpoints for k in range(n_layers)}
        missing = sorted(expected - listed)
        if missing:
            raise GoldenError(f"golden set {meta.root} lists no {missing[0]} in its meta.json; regenerate it")
        read = lambda name: read_hex(meta, name)  # noqa: E731
        self.init_weights = [read(f"init_w{k}.hex") for k in range(n_layers)]
        self.train_x, self.train_label, self.train_pred = (read(f"train_{q}.hex") for q in ("x", "label", "pred"))
        self.train_z = [read(f"train_z{k}.hex") for k in range(n_layers)]
        self.train_y = [read(f"train_y{k}.hex") for k in range(n_layers)]
        self.train_delta = [read(f"train_delta{k}.hex") for k in range(n_layers)]
        self._wdiff = [read(f"train_wdiff{k}.hex") for k in range(n_layers)]
        self._wcount = [read(f"train_wcount{k}.hex") for k in range(n_layers)]
        self.infer_x, self.infer_label, self.infer_pred, self.infer_z = (
            read(f"infer_{q}.hex") for q in ("x", "label", "pred", "z"))
        self.train_counts, self.infer_counts = (self._counts(read(f"{q}_counts.hex"), q == "train")
                                                for q in ("train", "infer"))
        self.checkpoints = {s: [read(f"ckpt_w{k}_s{s}.hex") for k in range(n_layers)] for s in meta.checkpoints}
        self._check_consistent()

    def _counts(self, rows: np.ndarray, train: bool) -> SampleCounts:
        """The records back as :class:`hwsim.cycles.SampleCounts`, checked against the cycle formula."""
        cfg, K = self.cfg, len(self.cfg.layers)
        fields = COUNT_FIELDS[1:]
        name = f"{'train' if train else 'infer'}_counts.hex"
        if rows.ndim != 2 or rows.shape[1] != 2 + len(fields) * K:
            raise GoldenError(f"golden set {self.meta.root}: {name} has {rows.shape[-1]} columns, not the "
                              f"{2 + len(fields) * K} this reader knows (cycles, load, then {', '.join(fields)} per layer); "
                              f"regenerate it")
        c = SampleCounts.empty(cfg, rows.shape[0])
        c.train[:] = train
        c.load[:] = rows[:, 1]
        for f, field in enumerate(fields):
            getattr(c, field)[:] = rows[:, 2 + f * K: 2 + (f + 1) * K]
        if not np.array_equal(c.cycles, rows[:, 0]):
            raise GoldenError(f"golden set {self.meta.root}: the cycles in its {name} do not follow from its "
                              f"event counts (hwsim.cycles); regenerate it")
        return c

    @property
    def n_train(self) -> int:
        return self.meta.n_train

    @property
    def n_infer(self) -> int:
        return self.meta.n_infer

    def _check_consistent(self) -> None:
        """The diffs, applied to the initial weights, must land on every checkpoint."""
        if self.train_x.shape[0] != self.n_train or self.infer_x.shape[0] != self.n_infer:
            raise GoldenError(f"golden set {self.meta.root} has sample counts that disagree with its meta.json")
        for k, (d, c) in enumerate(zip(self._wdiff, self._wcount)):
            if c.shape != (self.n_train,) or int(c.sum()) != d.shape[0]:
                raise GoldenError(f"golden set {self.meta.root}: train_wcount{k}.hex does not count the "
                                  f"{d.shape[0]} records of train_wdiff{k}.hex; regenerate the set")
        for s, weights in self.iter_weights():
            if s in self.checkpoints:
                for k, (w, c) in enumerate(zip(weights, self.checkpoints[s])):
                    if not np.array_equal(w, c):
                        raise GoldenError(f"golden set {self.meta.root}: the weight changes of layer {k} do "
                                          f"not reach checkpoint ckpt_w{k}_s{s}.hex; regenerate the set")

    def iter_weights(self):
        """Yield ``(s, weights)``: the expected raw weights after training sample s, for every s.

        The same arrays are updated in place between yields: copy them to keep them.
        """
        weights = [w.copy() for w in self.init_weights]
        flat = [w.reshape(-1) for w in weights]
        bounds = [np.concatenate([[0], np.cumsum(c)]) for c in self._wcount]
        for s in range(self.n_train):
            for k, d in enumerate(self._wdiff):
                rows = d[bounds[k][s]:bounds[k][s + 1]]
                flat[k][rows[:, 0]] = rows[:, 1]
            yield s, weights

    def weights_after(self, s: int) -> list[np.ndarray]:
        """The expected weights after training sample s (a copy)."""
        for t, weights in self.iter_weights():
            if t == s:
                return [w.copy() for w in weights]
        raise IndexError(f"sample {s} is not in 0..{self.n_train - 1}")

    def changed(self, k: int, s: int) -> int:
        """How many weights of layer k training sample s changed."""
        return int(self._wcount[k][s])


def open_golden(root: str | Path, expect: EngineConfig | None = None) -> GoldenSet:
    """Open and check a golden set; with ``expect``, also that it was generated for that config."""
    meta = read_meta(root)
    if expect is not None and expect.digest() != meta.cfg.digest():
        raise GoldenError(f"golden set {meta.root} was generated for config {meta.cfg.name!r} (digest "
                          f"{meta.cfg.digest()}), not for {expect.name!r} (digest {expect.digest()}); "
                          f"regenerate it with `python -m golden.generate --config <that config> -o {meta.root}`")
    return GoldenSet(meta)
