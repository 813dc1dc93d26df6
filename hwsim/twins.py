"""Reference twins of the RTL blocks: one plain-integer function per ``rtl/`` component.

Each function takes the same configuration objects as its hardware block (``cfg``/``k``, or a
:class:`~hwsim.formats.FixedFormat`) and is written only in terms of the primitives the slow
reference (:mod:`hwsim.reference`) itself uses, so a block test that compares ``rtl_x`` with the
twin ``x`` here checks the block against docs/engine.md, one named edge case at a time.
"""

from __future__ import annotations

from . import lfsr
from .config import Activation, EngineConfig, ErrorSignal, LayerConfig, UpdateRule
from .formats import FixedFormat, Rounding, apply_overflow, requantize, shift_round
from .params import random_vectors
from .reference import activate, sign, stochastic_word_bits

__all__ = [
    "TERNARY", "delta_format", "bias_input", "mac_step", "activation_unit", "neuron_output",
    "hidden_delta", "output_delta", "update_weight", "lane_word", "lane_words", "lane_reset_words",
    "random_bits", "random_start_state", "argmax_first",
]

TERNARY = FixedFormat(2, 0, True)
"""The format of a ternary modulatory signal {-1, 0, +1} (hidden layers, or output ``signal: sign``)."""


def delta_format(cfg: EngineConfig, k: int) -> FixedFormat:
    """Format of layer k's stored modulatory signal: the error format, or ternary."""
    layer = cfg.layers[k]
    if k == len(cfg.layers) - 1 and layer.error_signal is ErrorSignal.ERROR:
        return layer.error
    return TERNARY


def bias_input(cfg: EngineConfig, k: int) -> int:
    """The constant input of layer k's bias column: 1.0 in the input format's scale."""
    return cfg.in_format(k).one_raw()


def mac_step(acc: int, w: int, a: int, bias: bool, first: bool, cfg: EngineConfig, k: int) -> int:
    """One accumulation of one lane: ``acc' = overflow((0 if first else acc) + w * a_ext)``."""
    a_ext = bias_input(cfg, k) if bias else a
    return apply_overflow((0 if first else acc) + w * a_ext, cfg.acc_format(k))


def activation_unit(kind: Activation, preact: FixedFormat, act: FixedFormat, z: int) -> tuple[int, int]:
    """Pre-activation ``z`` -> (activation ``y`` in ``act``, derivative 0/1)."""
    clipped, deriv = activate(kind, z, preact.frac_bits)
    return requantize(clipped, preact.frac_bits, act), deriv


def neuron_output(acc: int, cfg: EngineConfig, k: int) -> tuple[int, int, int]:
    """A finished sum -> (pre-activation z, activation y, derivative d), as the forward pass does."""
    layer = cfg.layers[k]
    z = requantize(acc, cfg.acc_format(k).frac_bits, layer.preact)
    y, d = activation_unit(layer.activation, layer.preact, layer.act, z)
    return z, y, d


def hidden_delta(bit: int, deriv: int) -> int:
    """DRTP modulatory signal of a hidden neuron: ``B[label, j] * f'(z_j)`` with B = +1 for bit 1."""
    return (1 if bit else -1) * deriv


def output_delta(y: int, is_label: bool, layer: LayerConfig) -> int:
    """Output neuron: ``e = requantize(y - target)``; delta is ``e`` or ``sign(e)``."""
    one = min(layer.act.one_raw(), layer.act.max_raw)
    e = requantize(y - (one if is_label else 0), layer.act.frac_bits, layer.error)
    return e if layer.error_signal is ErrorSignal.ERROR else sign(e)


def update_weight(w: int, delta: int, a: int, bias: bool, word: int, cfg: EngineConfig, k: int) -> int:
    """One lane of the read-modify-write update: ``w' = overflow(w + dW)``."""
    layer = cfg.layers[k]
    a_ext = bias_input(cfg, k) if bias else a
    if layer.update_rule is UpdateRule.SIGN:
        dw = -sign(delta) * sign(a_ext)
    else:
        drop = cfg.update_drop_bits(k)
        rand = stochastic_word_bits(word, drop, cfg.rng_lfsr_bits) if layer.update_rounding is Rounding.STOCH else 0
        dw = shift_round(-delta * a_ext, drop, layer.update_rounding, rand)
    return apply_overflow(w + dw, layer.weight)


def lane_word(cfg: EngineConfig, index: int) -> int:
    """Stochastic-rounding word number ``index`` (the state after ``index * L`` steps)."""
    width = cfg.rng_lfsr_bits
    return lfsr.steps(cfg.rng_seed, width, (index * width) % lfsr.period(width))


def lane_reset_words(cfg: EngineConfig) -> list[int]:
    """Lane p's register after reset: word p."""
    return [lane_word(cfg, p) for p in range(cfg.lanes)]


def lane_words(cfg: EngineConfig, cycle: int) -> list[int]:
    """The P words the lanes use in global update cycle ``cycle``: words ``cycle * P + p``."""
    return [lane_word(cfg, cycle * cfg.lanes + p) for p in range(cfg.lanes)]


def random_start_state(cfg: EngineConfig, k: int, label: int) -> int:
    """LFSR source: the generator state that starts label ``label``'s row (``label * n_out`` steps)."""
    width = cfg.random_lfsr_bits
    return lfsr.steps(cfg.random_seeds[k], width, (label * cfg.layers[k].n_out) % lfsr.period(width))


def random_bits(cfg: EngineConfig, k: int, label: int, g: int) -> list[int | None]:
    """B_k bits (1 = +1) of group g's lanes for ``label``; ``None`` for padding lanes (no neuron)."""
    row = random_vectors(cfg, k)[label]
    out: list[int | None] = []
    for p in range(cfg.lanes):
        j = g * cfg.lanes + p
        out.append(int(row[j] > 0) if j < len(row) else None)
    return out


def argmax_first(values) -> int:
    """Index of the first maximum (ties go to the lowest index)."""
    values = [int(v) for v in values]
    return max(range(len(values)), key=lambda j: (values[j], -j))

