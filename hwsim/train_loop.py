"""One training run of the engine (or its float twin) on a data set: the loop the CLI and sweeps share."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from .cli import progress_bar
from .config import EngineConfig
from .datasets import Dataset, check_topology, quantize_inputs
from .params import initial_weights

__all__ = ["epoch_order", "RunResult", "train_run"]


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The sample order of one epoch: PCG64 seeded with (seed, epoch). Golden vectors reuse it."""
    return np.random.default_rng([seed, epoch]).permutation(n).astype(np.int64)


@dataclass
class RunResult:
    config: str
    dataset: str
    seed: int
    mode: str  # "fixed" or "float"
    train_acc: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    online_acc: list[float] = field(default_factory=list)  # predictions made while training
    epoch_seconds: list[float] = field(default_factory=list)
    samples_per_s: float = 0.0
    wall_seconds: float = 0.0

    @property
    def final_test(self) -> float:
        return self.test_acc[-1] if self.test_acc else float("nan")

    def to_dict(self) -> dict:
        out = asdict(self)
        out["final_test_acc"] = self.final_test
        return out


def train_run(cfg: EngineConfig, data: Dataset, epochs: int, seed: int, use_float: bool = False,
              progress: bool = False, on_epoch=None, resume=None):
    """Train for ``epochs`` and evaluate after each; returns (RunResult, engine).

    ``resume`` (a :class:`hwsim.run_dir.SavedRun` of the same config and seed) continues that
    run: its weights and word counter, its epoch count and its accuracy history, so training
    5 epochs and then 5 more is bit-identical to training 10.
    """
    check_topology(data, cfg.topology[0], cfg.n_classes)
    first_epoch = 0
    if use_float:
        from .float_baseline import FloatEngine
        engine = FloatEngine(cfg, seed)
        x_train, x_test = data.x_train, data.x_test
    else:
        from .fast import Engine
        if resume is not None:
            engine = Engine(cfg, resume.weights, resume.rng_word)
            first_epoch = resume.epochs_done
        else:
            engine = Engine(cfg, initial_weights(cfg, seed))
        x_train, x_test = quantize_inputs(data.x_train, cfg.input), quantize_inputs(data.x_test, cfg.input)
    result = RunResult(cfg.name, data.name, seed, "float" if use_float else "fixed")
    if resume is not None:
        for name in ("train_acc", "test_acc", "online_acc", "epoch_seconds"):
            getattr(result, name).extend(float(v) for v in resume.record.get(name, []))
    done_before = len(result.epoch_seconds)
    n = len(x_train)
    chunk = max(1, min(n, 2000))
    bar = progress_bar(progress, total=epochs * n, unit="sample", leave=False)
    start = time.perf_counter()
    engine.train(x_train[:0], data.y_train[:0])  # compile (or load) the pass: epochs time work only
    for epoch in range(first_epoch, first_epoch + epochs):
        order = epoch_order(seed, epoch, n)
        t0 = time.perf_counter()
        correct = 0
        for lo in range(0, n, chunk):
            idx = order[lo:lo + chunk]
            preds = engine.train(x_train, data.y_train, idx)
            correct += int(np.sum(preds == data.y_train[idx]))
            if bar is not None:
                bar.update(len(idx))
        dt = time.perf_counter() - t0
        result.online_acc.append(correct / n)
        result.train_acc.append(float(np.mean(engine.infer(x_train) == data.y_train)))
        result.test_acc.append(float(np.mean(engine.infer(x_test) == data.y_test)))
        result.epoch_seconds.append(dt)
        if on_epoch is not None:
            on_epoch(epoch, result, bar)
    if bar is not None:
        bar.close()
    result.wall_seconds = time.perf_counter() - start
    train_seconds = sum(result.epoch_seconds[done_before:])  # training only: no compilation, no evaluation
    result.samples_per_s = epochs * n / train_seconds if train_seconds else 0.0
    return result, engine
