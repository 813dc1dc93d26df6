"""The work an engine does on a data set: per-sample counts of its test samples, inferring and training.

:func:`run_workload` brings the engine to a realistic state (weights of a trained run, or the config's
initial weights trained for one epoch over the training split), then runs the test samples through the
fast engine twice from that state: as inferences (no state change), then as training samples in a seeded
shuffled order. Each pass returns :class:`hwsim.cycles.SampleCounts` (events, active groups, visits,
weight writes per sample and layer), which :mod:`.ops` turns into operations and cycles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwsim.config import EngineConfig
from hwsim.cycles import COUNT_FIELDS, SampleCounts
from hwsim.datasets import Dataset, check_topology, load_dataset, quantize_inputs
from hwsim.formats import ConfigError
from hwsim.params import initial_weights
from hwsim.run_dir import SavedRun
from hwsim.train_loop import epoch_order

__all__ = ["Workload", "run_workload", "check_run_fits", "load_data", "TEST_EPOCH"]

TEST_EPOCH = 1
"""The test samples train in the order :func:`hwsim.train_loop.epoch_order` (seed, 1, n_test) gives; the
first ``--samples`` of that order are the ones counted (a seeded subset of every class)."""

_WEIGHT_INDEPENDENT = ("name", "dataset", "epochs", "lanes", "schedule")
"""Config fields a run's weights do not depend on: a run trained dense can be estimated as event, at other
lane counts, under another name."""


@dataclass
class Workload:
    """The counts of one config's test samples, and where its weights came from."""

    dataset: str
    samples: int
    start: str
    """One sentence: the state the counts start from."""
    seed: int
    inference: SampleCounts
    train: SampleCounts
    accuracy: float
    """Inference accuracy over the counted samples (from the start state)."""
    online_accuracy: float
    """Accuracy of the predictions made while training them."""

    def activity(self) -> dict:
        """Mean events (and, training, active groups, visits, writes) per layer."""
        out = {"inference": {"events": _means(self.inference.events)}}
        out["train"] = {f: _means(getattr(self.train, f)) for f in COUNT_FIELDS[1:]}
        return out


def _means(a: np.ndarray) -> list[float]:
    return [round(float(v), 2) for v in a.mean(axis=0)] if len(a) else []


def check_run_fits(cfg: EngineConfig, run: SavedRun, option: str = "--weights") -> None:
    """One sentence unless ``run``'s weights mean the same to ``cfg`` (same topology, formats, rules and
    random sources; name, data set, epochs, lanes and schedule may differ)."""
    def core(c: EngineConfig) -> dict:
        return {k: v for k, v in c.to_dict().items() if k not in _WEIGHT_INDEPENDENT}
    if core(run.cfg) != core(cfg):
        raise ConfigError(f"{option} {str(run.path)!r} holds weights of config {run.cfg.name}, which differs from "
                          f"{cfg.name} in more than name, data set, epochs, lanes and schedule; estimate "
                          f"{run.cfg.name} (or name its config.yaml) instead")


def run_workload(cfg: EngineConfig, data: Dataset, samples: int | None = None, run: SavedRun | None = None,
                 seed: int = 0, engine_cls=None) -> Workload:
    """Count the work of ``data``'s test samples (the first ``samples`` of a seeded shuffle, default all).

    ``run``: start from its weights and word counter; else from ``initial_weights(cfg, seed)`` trained
    one epoch over the training split in :func:`hwsim.train_loop.epoch_order` (seed, 0) order, as
    ``hwsim.train`` would. ``engine_cls`` (default :class:`hwsim.fast.Engine`) takes
    ``(cfg, weights, rng_word)`` and offers ``infer(x, counts=True)`` and
    ``train(x, labels, order, counts=True)``.
    """
    check_topology(data, cfg.topology[0], cfg.n_classes)
    if engine_cls is None:
        from hwsim.fast import Engine as engine_cls
    if run is not None:
        check_run_fits(cfg, run)
        engine = engine_cls(cfg, run.weights, run.rng_word)
        n = run.epochs_done
        start = (f"the weights of run {run.path} (trained {n} epoch{'' if n == 1 else 's'} on {run.dataset}, "
                 f"seed {run.seed}, word counter {run.rng_word})")
    else:
        engine = engine_cls(cfg, initial_weights(cfg, seed))
        x_train = quantize_inputs(data.x_train, cfg.input)
        engine.train(x_train, data.y_train, epoch_order(seed, 0, data.n_train))
        start = (f"the config's initial weights (seed {seed}) trained one epoch over the {data.n_train:,} "
                 f"training samples of {data.name}")
    order = epoch_order(seed, TEST_EPOCH, data.n_test)
    if samples is not None:
        order = order[:samples]
    x_test = quantize_inputs(data.x_test, cfg.input)
    labels = data.y_test
    preds, inf = engine.infer(x_test[order], counts=True)
    online, trn = engine.train(x_test, labels, order, counts=True)
    return Workload(data.name, int(order.shape[0]), start, seed, inf, trn,
                    float(np.mean(preds == labels[order])) if order.size else float("nan"),
                    float(np.mean(online == labels[order])) if order.size else float("nan"))


def load_data(name: str, data_dir=None, cache: dict | None = None) -> Dataset:
    """``load_dataset`` once per (name, folder) when ``cache`` is given (several configs, one data set)."""
    key = (name, str(data_dir))
    if cache is not None and key in cache:
        return cache[key]
    data = load_dataset(name, data_dir)
    if cache is not None:
        cache[key] = data
    return data
