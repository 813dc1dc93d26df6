"""Seconds per epoch of the paper's float training: 784-500-10, batch 100, 60,000 samples, BP and DRTP.

Reference on this machine (issue 5): the authors' PyTorch code takes ~3.9 s per epoch. Run::

    python benchmarks/bench_paper.py                 # Fashion-MNIST if installed, else random pixels
    python benchmarks/bench_paper.py --epochs 3 --threads 2 --algorithms bp,fa,dfa,sdfa,drtp,shallow

Timing covers the training pass only (forward, rule, NAG step), as the authors' epoch does; the
evaluation pass over the training and test sets is given apart. Wall and CPU seconds are both
printed: with one BLAS thread, CPU seconds are what an otherwise idle machine would take.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _data(n: int):
    from hwsim.paper.data.arrays import TaskData
    try:
        from hwsim.paper.data import load_task
        data = load_task("fashion-mnist")
        if len(data.x_train) >= n:
            return data, "fashion-mnist"
    except Exception:  # noqa: BLE001 -- fall back to random pixels of the same shape
        pass
    rng = np.random.default_rng(0)
    x = (rng.integers(0, 256, size=(n, 784)) * (rng.random((n, 784)) < 0.2)).astype(np.float32) / 255
    y = rng.integers(0, 10, size=n)
    return TaskData("random", x, y, x[:10000], y[:10000], (784,), 10), "random pixels"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    p.add_argument("--algorithms", default="bp,drtp")
    p.add_argument("--topology", default="784-500-10")
    args = p.parse_args()
    from threadpoolctl import threadpool_info, threadpool_limits
    from hwsim.paper.trainer import RunSpec, run
    data, source = _data(60000)
    blas = threadpool_info()
    print(f"data: {source}, {len(data.x_train)} training samples; BLAS: "
          f"{blas[0]['internal_api'] if blas else '?'} ({blas[0].get('architecture', '?') if blas else ''}), "
          f"{args.threads} thread(s)")
    with threadpool_limits(args.threads):
        for alg in args.algorithms.split(","):
            spec = RunSpec(data.name, args.topology, alg, epochs=args.epochs, batch=args.batch,
                           lr=0.3 if alg in ("bp", "fa", "shallow") else 0.03)  # the Fashion-MNIST table lrs
            t0 = time.perf_counter()
            rec = run(spec, data)
            wall = time.perf_counter() - t0
            train_s = [e["seconds"] for e in rec["epochs"]]
            cpu_s = [e["cpu_seconds"] for e in rec["epochs"]]
            eval_s = (wall - sum(train_s)) / len(train_s)
            print(f"{alg:8} {args.topology} batch {args.batch}: {min(train_s):.2f} s/epoch training wall "
                  f"(best of {len(train_s)}; {len(data.x_train) / min(train_s):,.0f} samples/s), "
                  f"{min(cpu_s):.2f} s CPU; +{eval_s:.2f} s evaluation; "
                  f"test error {rec['epochs'][-1]['test_err']:.2f}%")


if __name__ == "__main__":
    main()
