"""hwsim: the bit-accurate golden model of the on-chip DRTP learning engine, as a library.

The path a script takes (docs/api.md has a worked example)::

    import hwsim
    cfg = hwsim.config_for_bits(8, (64, 32, 10), dataset="digits8x8")   # or hwsim.load_config("small")
    data = hwsim.load_dataset(cfg.dataset)
    x = hwsim.quantize_inputs(data.x_train, cfg.input)                  # uint8 pixels -> raw integers
    engine = hwsim.Engine(cfg, hwsim.initial_weights(cfg, seed=0))
    engine.train(x, data.y_train)                                        # one epoch, sample by sample
    engine.predict(data.x_test / 255.0)                                  # float in, quantized inside
    engine.trace(x[0], int(data.y_train[0]))                             # every layer's raw values
    hwsim.save_run("results/my-run", cfg, {...}, engine.weights(), engine.rng_word)

Names are imported on first use, so ``import hwsim`` stays fast (the fast engine pulls in numba).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    # configs and formats
    "EngineConfig", "FixedFormat", "ConfigError", "load_config", "config_for_bits", "config_from_dict",
    # data
    "Dataset", "DataError", "load_dataset", "quantize_inputs", "quantize_float_inputs",
    # the engine and its state
    "Engine", "ReferenceEngine", "SampleTrace", "initial_weights",
    # training runs
    "train_run", "epoch_order", "RunResult", "save_run", "load_run", "SavedRun",
]

_WHERE = {
    "EngineConfig": "config", "load_config": "config", "config_for_bits": "config", "config_from_dict": "config",
    "FixedFormat": "formats", "ConfigError": "formats",
    "Dataset": "datasets", "DataError": "datasets", "load_dataset": "datasets", "quantize_inputs": "datasets",
    "quantize_float_inputs": "datasets",
    "Engine": "fast", "ReferenceEngine": "reference", "SampleTrace": "reference", "initial_weights": "params",
    "train_run": "train_loop", "epoch_order": "train_loop", "RunResult": "train_loop",
    "save_run": "run_dir", "load_run": "run_dir", "SavedRun": "run_dir",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hwsim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names load lazily above
    from .config import EngineConfig, config_for_bits, config_from_dict, load_config
    from .datasets import DataError, Dataset, load_dataset, quantize_float_inputs, quantize_inputs
    from .fast import Engine
    from .formats import ConfigError, FixedFormat
    from .params import initial_weights
    from .reference import ReferenceEngine, SampleTrace
    from .run_dir import SavedRun, load_run, save_run
    from .train_loop import RunResult, epoch_order, train_run
