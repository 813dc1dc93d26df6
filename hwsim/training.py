"""One training run of the engine (or its float twin) on a data set: the loop the CLI and sweeps share."""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .config import EngineConfig
from .datasets import Dataset, check_topology, quantize_inputs
from .params import initial_weights

__all__ = ["epoch_order", "RunResult", "train_run", "write_atomic", "write_json_atomic"]


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
              progress: bool = False, on_epoch=None):
    """Train for ``epochs`` and evaluate after each; returns (RunResult, engine)."""
    check_topology(data, cfg.topology[0], cfg.n_classes)
    if use_float:
        from .float_baseline import FloatEngine
        engine = FloatEngine(cfg, seed)
        x_train, x_test = data.x_train, data.x_test
    else:
        from .engine import Engine
        engine = Engine(cfg, initial_weights(cfg, seed))
        x_train, x_test = quantize_inputs(data.x_train, cfg.input), quantize_inputs(data.x_test, cfg.input)
    result = RunResult(cfg.name, data.name, seed, "float" if use_float else "fixed")
    n = len(x_train)
    chunk = max(1, min(n, 2000))
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=epochs * n, unit="sample", dynamic_ncols=True, leave=False)
    start = time.perf_counter()
    for epoch in range(epochs):
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
    # the median epoch keeps the first epoch's JIT compilation out of the speed figure
    med = float(np.median(result.epoch_seconds)) if result.epoch_seconds else 0.0
    result.samples_per_s = n / med if med else 0.0
    return result, engine


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file so that a reader never sees half of it: temp file in the same folder, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json_atomic(path: Path, obj, indent: int = 2) -> None:
    write_atomic(path, (json.dumps(obj, indent=indent, sort_keys=False) + "\n").encode())
