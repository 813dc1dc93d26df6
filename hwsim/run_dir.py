"""A training run's folder: what ``hwsim.train`` writes, and reading it back to resume or evaluate.

A run folder holds ``config.yaml`` (the engine), ``results.json`` (seed, data set, accuracy per
epoch, the config's digest) and, for the fixed-point engine, ``weights.npz`` (raw integer weights
``W0``, ``W1``, ... and ``rng_word``, the stochastic-rounding word counter). Weights plus word
counter are the engine's whole state, so a run resumed from its folder continues bit-exactly.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import EngineConfig, load_config
from .fileio import write_atomic, write_json_atomic
from .formats import ConfigError

__all__ = ["SavedRun", "save_run", "load_run"]


@dataclass
class SavedRun:
    path: Path
    cfg: EngineConfig
    record: dict
    weights: list[np.ndarray]
    rng_word: int

    @property
    def epochs_done(self) -> int:
        return int(self.record["epochs"])

    @property
    def seed(self) -> int:
        return int(self.record["seed"])

    @property
    def dataset(self) -> str:
        return str(self.record["dataset"])


def save_run(out: Path, cfg: EngineConfig, record: dict, weights=None, rng_word: int = 0) -> None:
    """Write a run folder atomically, file by file (``weights`` None: a float run, no weights.npz)."""
    out = Path(out)
    write_json_atomic(out / "results.json", {**record, "config_digest": cfg.digest(),
                                             "config_yaml": cfg.dump_yaml()}, indent=2)
    write_atomic(out / "config.yaml", cfg.dump_yaml())
    if weights is not None:
        buf = io.BytesIO()
        np.savez(buf, rng_word=np.int64(rng_word), **{f"W{k}": w for k, w in enumerate(weights)})
        write_atomic(out / "weights.npz", buf.getvalue())


def load_run(path: str | Path, option: str = "--resume") -> SavedRun:
    """Read a fixed-point run folder back; any missing or inconsistent part is one ConfigError sentence."""
    path = Path(path)
    if not path.is_dir():
        raise ConfigError(f"{option} {str(path)!r} is not a run folder (python -m hwsim.train --out writes one)")
    for name in ("config.yaml", "results.json", "weights.npz"):
        if not (path / name).is_file():
            hint = " (a float run cannot be resumed or evaluated)" if name == "weights.npz" else ""
            raise ConfigError(f"{option} {str(path)!r} has no {name}{hint}")
    cfg = load_config(path / "config.yaml")
    try:
        record = json.loads((path / "results.json").read_text())
        digest, epochs, seed = record["config_digest"], int(record["epochs"]), int(record["seed"])
        str(record["dataset"])
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError):
        raise ConfigError(f"{option} {str(path)!r}: results.json is not a run record of hwsim.train") from None
    if record.get("mode") != "fixed":
        raise ConfigError(f"{option} {str(path)!r} holds a {record.get('mode')} run; only fixed-point runs have "
                          f"engine weights to load")
    if digest != cfg.digest():
        raise ConfigError(f"{option} {str(path)!r}: config.yaml does not match results.json (digest {cfg.digest()}, "
                          f"not {digest}); it was edited after the run")
    try:
        with np.load(path / "weights.npz") as npz:
            weights = [np.array(npz[f"W{k}"]) for k in range(len(cfg.layers))]
            rng_word = int(npz["rng_word"])
    except (KeyError, ValueError, OSError, zipfile.BadZipFile):
        raise ConfigError(f"{option} {str(path)!r}: weights.npz is unreadable or lacks W0..W{len(cfg.layers) - 1} "
                          f"and rng_word") from None
    try:
        cfg.check_weights(weights)
    except ConfigError as exc:
        raise ConfigError(f"{option} {str(path)!r}: weights.npz does not fit config.yaml: {exc}") from None
    if epochs < 0 or seed < 0 or rng_word < 0:
        raise ConfigError(f"{option} {str(path)!r}: results.json or weights.npz holds a negative count")
    return SavedRun(path, cfg, record, weights, rng_word)
