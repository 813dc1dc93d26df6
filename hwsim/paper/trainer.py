"""One training run: a network, a rule, a task, epochs of mini-batches, metrics and angles per epoch."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, fields

import numpy as np

from ..formats import ConfigError
from .algorithms import ALGORITHMS, SCALINGS, backward, check_algorithm, make_feedback
from .angles import batch_angles
from .data import TaskData
from .losses import check_loss, loss_sum
from .nets import build_net, forward, predict
from .optim import make_optimizer
from .topology import parse_topology

__all__ = ["RunSpec", "run", "evaluate", "check_fit"]


@dataclass(frozen=True)
class RunSpec:
    """Everything that decides a run's numbers (``key()`` names its result file)."""

    task: str
    topology: str
    algorithm: str
    trial: int = 0
    epochs: int = 10
    batch: int = 100
    lr: float = 1e-4
    optimizer: str = "nag"
    loss: str = "bce"
    hidden_act: str = "tanh"
    output_act: str = "sigmoid"
    conv_act: str = "tanh"
    init: str = "default"
    dropout: float = 0.0
    scaling: str = "paper"
    freeze_conv: bool = False
    angle_every: int = 0  # compute BP-alignment angles on every n-th batch (0: never)
    seed: int = 0
    eval_train: int = 0  # training-set metrics on the first N examples only (0: all of them)

    def check(self) -> "RunSpec":
        check_algorithm(self.algorithm)
        check_loss(self.loss, self.output_act)
        parse_topology(self.topology)
        if self.scaling not in SCALINGS:
            raise ConfigError(f"scaling must be one of {', '.join(SCALINGS)}, not {self.scaling!r}")
        for name, lo in (("epochs", 1), ("batch", 1), ("trial", 0), ("angle_every", 0), ("eval_train", 0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ConfigError(f"{name} must be an integer >= {lo}, not {v!r}")
        return self

    def key(self) -> str:
        """``task_topology_algorithm_t<trial>_<hash of the rest>``: stable across runs and machines."""
        d = asdict(self)
        if d["eval_train"] == 0:  # added later: hashed only when set, so earlier results keep their keys
            del d["eval_train"]
        text = json.dumps(d, sort_keys=True)
        digest = hashlib.sha256(text.encode()).hexdigest()[:10]
        return f"{self.task}_{self.topology}_{self.algorithm}_t{self.trial}_{digest}"

    @classmethod
    def from_dict(cls, d: dict) -> "RunSpec":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def evaluate(net, x: np.ndarray, y: np.ndarray, targets: np.ndarray, loss: str, regression: bool):
    """(mean loss per example, error rate in % or NaN for regression) -- the authors' test_epoch."""
    out = predict(net, x)
    mean_loss = loss_sum(loss, out, targets) / len(x)
    err = float("nan") if regression else 100.0 * float(np.mean(out.argmax(axis=1) != y))
    return mean_loss, err


def check_fit(spec: RunSpec, data: TaskData):
    """Check ``spec`` and that its topology and loss suit ``data``; returns the parsed topology."""
    spec.check()
    topo = parse_topology(spec.topology)
    if topo.n_inputs != int(np.prod(data.input_shape)) or (topo.is_conv and topo.input_shape != data.input_shape):
        raise ConfigError(f"topology {spec.topology!r} takes inputs of shape {topo.input_shape}, but data set "
                          f"{data.name!r} has inputs of shape {data.input_shape}")
    if topo.n_outputs != data.n_outputs:
        raise ConfigError(f"topology {spec.topology!r} has {topo.n_outputs} outputs, but data set {data.name!r} "
                          f"has {data.n_outputs} {'targets' if data.regression else 'classes'}")
    if data.regression and spec.loss != "mse":
        raise ConfigError(f"the regression task needs loss mse, not {spec.loss!r}")
    return topo


def run(spec: RunSpec, data: TaskData, bar=None, on_epoch=None) -> dict:
    """Train ``spec`` on ``data``; returns a JSON-able record with one entry per epoch."""
    topo = check_fit(spec, data)
    rng_init = np.random.default_rng([spec.seed, spec.trial, 0])
    rng_order = np.random.default_rng([spec.seed, spec.trial, 1])
    rng_drop = np.random.default_rng([spec.seed, spec.trial, 2])
    net = build_net(topo, rng_init, spec.hidden_act, spec.output_act, spec.conv_act, spec.init,
                    spec.dropout, spec.freeze_conv)
    fb = make_feedback(net, spec.algorithm, rng_init)
    params = net.params()
    opt = make_optimizer(params, spec.optimizer, spec.lr)
    x_tr, x_te = data.shaped(data.x_train, topo.is_conv), data.shaped(data.x_test, topo.is_conv)
    t_tr, t_te = data.targets(data.y_train), data.targets(data.y_test)
    n = len(x_tr)
    want_angles = spec.angle_every > 0 and spec.algorithm != "bp"
    record = {"spec": asdict(spec), "key": spec.key(), "epochs": []}
    start = time.perf_counter()
    for epoch in range(1, spec.epochs + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        order = rng_order.permutation(n)
        sums: dict[int, list] = {}
        for b, lo in enumerate(range(0, n, spec.batch)):
            idx = order[lo:lo + spec.batch]
            cache = forward(net, x_tr[idx], rng_drop if spec.dropout else None)
            ang = want_angles and b % spec.angle_every == 0
            res = backward(net, fb, cache, t_tr[idx], spec.algorithm, spec.loss, spec.scaling, reference=ang)
            if ang:
                for k, (s, u) in batch_angles(net, cache, res).items():
                    sums.setdefault(k, []).append((s, u))
            grads = []
            for g in res.grads:
                grads += [None, None] if g is None else list(g)
            opt.step(grads)
            if bar is not None:
                bar.update(len(idx))
        seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
        if not all(np.all(np.isfinite(p)) for p in params):
            record["diverged"] = epoch
        m = spec.eval_train or n
        tr_loss, tr_err = evaluate(net, x_tr[:m], data.y_train[:m], t_tr[:m], spec.loss, data.regression)
        te_loss, te_err = evaluate(net, x_te, data.y_test, t_te, spec.loss, data.regression)
        entry = {"epoch": epoch, "train_loss": tr_loss, "train_err": tr_err, "test_loss": te_loss,
                 "test_err": te_err, "seconds": seconds,
                 "cpu_seconds": cpu_seconds}
        if want_angles:
            entry["angles"] = {str(k): [_nanmean([v[0] for v in vals]), _nanmean([v[1] for v in vals])]
                               for k, vals in sums.items()}
        record["epochs"].append(entry)
        if on_epoch is not None:
            on_epoch(entry)
        if "diverged" in record:
            break
    record["wall_seconds"] = time.perf_counter() - start
    return record


def _nanmean(values) -> float | None:
    a = np.asarray(values, dtype=np.float64)
    a = a[~np.isnan(a)]
    return float(a.mean()) if len(a) else None
