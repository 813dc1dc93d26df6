"""Reference twins of the RTL blocks: one plain-integer function per ``rtl/`` component.

Each function takes the same configuration objects as its hardware block (``cfg``/``k``, or a
:class:`~hwsim.formats.FixedFormat`) and is written only in terms of the primitives the slow
reference (:mod:`hwsim.reference`) itself uses, so a block test that compares ``rtl_x`` with the
twin ``x`` here checks the block against docs/engine.md, one named edge case at a time.
"""

from __future__ import annotations

from .config import Activation, EngineConfig, LayerConfig, UpdateRule
from .formats import FixedFormat, apply_overflow, requantize, shift_round
from .params import random_vectors, rng_word
from .reference import activate, sign, stochastic_word_bits

__all__ = [
    "mac_step", "activation_unit", "neuron_output", "hidden_delta", "output_delta", "weight_change", "update_weight",
    "lane_words", "random_bits", "argmax_first",
]


def mac_step(acc: int, w: int, a: int, bias: bool, first: bool, cfg: EngineConfig, k: int) -> int:
    """One accumulation of one lane: ``acc' = overflow((0 if first else acc) + w * a_ext)``."""
    a_ext = cfg.bias_input(k) if bias else a
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
    e = requantize(y - (layer.target_one() if is_label else 0), layer.act.frac_bits, layer.error)
    return e if layer.sends_error else sign(e)


def weight_change(delta: int, a: int, bias: bool, word: int, cfg: EngineConfig, k: int) -> int:
    """One lane's weight change ``dW`` (it does not depend on the old weight)."""
    layer = cfg.layers[k]
    a_ext = cfg.bias_input(k) if bias else a
    if layer.update_rule is UpdateRule.SIGN:
        return -sign(delta) * sign(a_ext)
    drop = cfg.update_drop_bits(k)
    rand = stochastic_word_bits(word, drop, cfg.rng_lfsr_bits) if layer.rounds_stochastically else 0
    return shift_round(-delta * a_ext, drop, layer.update_rounding, rand)


def update_weight(w: int, delta: int, a: int, bias: bool, word: int, cfg: EngineConfig, k: int) -> int:
    """One lane of the read-modify-write update: ``w' = overflow(w + dW)``."""
    return apply_overflow(w + weight_change(delta, a, bias, word, cfg, k), cfg.layers[k].weight)


def lane_words(cfg: EngineConfig, cycle: int) -> list[int]:
    """The P words the lanes use in global update cycle ``cycle``: words ``cycle * P + p``."""
    return [rng_word(cfg, cycle * cfg.lanes + p) for p in range(cfg.lanes)]


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

