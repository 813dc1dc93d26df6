"""Engine parameters fixed before training: initial weights, the DRTP random vectors, the random-stream starts.

All are pure functions of the config (and a seed), so the model, the reference, the golden
writer and the RTL generator (ROM contents, LFSR start states, lane reset words) all derive the
very same integers. docs/engine.md sections 5.1, 5.2 and 7 define them.
"""

from __future__ import annotations

import numpy as np

from . import lfsr
from .config import EngineConfig, InitKind, RandomSource

__all__ = ["initial_weights", "random_vectors", "random_start_state", "rng_word", "lane_reset_words"]


def initial_weights(cfg: EngineConfig, seed: int) -> list[np.ndarray]:
    """Raw initial weights, one ``(n_out, n_cols)`` int64 array per layer (bias = last column).

    Uniform init draws ``U(-scale/sqrt(n_in), +scale/sqrt(n_in))`` from numpy's PCG64 seeded with
    ``seed`` (layers in order, row-major), rounds half to even and saturates to the weight format.
    """
    rng = np.random.default_rng(seed)
    weights = []
    for k, layer in enumerate(cfg.layers):
        shape = (layer.n_out, cfg.n_cols(k))
        if cfg.init is InitKind.ZERO:
            weights.append(np.zeros(shape, dtype=np.int64))
            continue
        limit = cfg.init_scale / np.sqrt(layer.n_in)
        weights.append(layer.weight.from_float(rng.uniform(-limit, limit, shape)))
    return weights


def random_vectors(cfg: EngineConfig, k: int) -> np.ndarray:
    """B_k as an int8 ``(n_classes, n_out)`` matrix of +-1: row c is the vector label c selects.

    LFSR source: entry (c, j) is +1 when bit ``c * n_out + j`` of the layer's LFSR bit stream
    (seeded with ``random_seeds[k]``) is 1. ROM source: PCG64 bits seeded with the same seed, drawn
    as ``integers(0, 2, (n_classes, n_out), dtype=np.uint8)`` (the dtype changes the stream).
    """
    if k not in cfg.hidden_layers:
        raise ValueError("only hidden layers have DRTP random vectors")
    n_out, n_classes = cfg.layers[k].n_out, cfg.n_classes
    seed = cfg.random_seeds[k]
    if cfg.random_source is RandomSource.LFSR:
        bits = lfsr.bit_stream(cfg.random_lfsr_bits, seed, 0, n_classes * n_out).reshape(n_classes, n_out)
    else:
        bits = np.random.default_rng(seed).integers(0, 2, (n_classes, n_out), dtype=np.uint8)
    return np.where(bits == 1, 1, -1).astype(np.int8)


def random_start_state(cfg: EngineConfig, k: int, label: int) -> int:
    """LFSR source: the state of layer k's generator that starts label ``label``'s row of B_k.

    Row c begins at stream bit ``c * n_out``; the RTL holds one such state per class.
    """
    return lfsr.bit_start_state(cfg.random_lfsr_bits, cfg.random_seeds[k], label * cfg.layers[k].n_out)


def rng_word(cfg: EngineConfig, index: int) -> int:
    """Stochastic-rounding word number ``index`` (the state ``index * L`` steps after ``rng_seed``)."""
    return lfsr.word(cfg.rng_lfsr_bits, cfg.rng_seed, index)


def lane_reset_words(cfg: EngineConfig, start: int = 0) -> list[int]:
    """The P lane registers after reset: lane p holds word ``start + p``.

    ``start`` is the word counter of the state the engine starts from (0 for a fresh engine, a
    saved run's ``rng_word`` to continue it): update cycle c then gives lane p word
    ``start + c * P + p``, the reference's word order from that counter on.
    """
    return [rng_word(cfg, start + p) for p in range(cfg.lanes)]
