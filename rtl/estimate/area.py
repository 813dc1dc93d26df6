"""ASIC area: documented per-gate and per-SRAM-bit figures, and a no-synthesis gate model for sweeps.

Figures (45 nm, to match the energy table):

* one NAND2 equivalent (GE) = 0.798 um^2 (NanGate 45 nm NAND2_X1 footprint) / 0.7 placement
  utilisation = **1.14 um^2**;
* one SRAM bit = 0.346 um^2 (45 nm 6T high-density bit cell, Intel IEDM 2007) / 0.6 array efficiency
  (decoders, sense amplifiers, write drivers) = **0.58 um^2**;
* node scaling (optional): ``(node / 45) ** 2``.

:func:`logic_ge_model` counts gates from the widths alone (no synthesis), per lane and per layer:
array multiplier ``8.5 * a * b`` GE (a*b AND gates and about a*b full adders of 7 GE), n-bit adder
``7 * n``, n-bit register ``6 * n`` (master-slave D flip-flop), requantize + clip ``12 * n`` of the
pre-activation width (one post-processor per layer, a lane per cycle), stochastic-rounding LFSR
``8.5 * n`` per lane. The small buffers are counted as registers (6 GE a bit, as the synthesis flow maps
every memory but the weight RAMs to flip-flops): the inputs (``dense``: ceil(C/P) words of P activations;
``event``: the event memory, n_in entries of address + value bits) in the inference part, the deltas and
(``event``) the active-group list in the learning part; the weight RAMs are SRAM bits.
:data:`LOGIC_CALIBRATION` scales the two parts to the yosys gate count of ``configs/small.yaml``
(``python -m rtl.estimate --config small --synth``): synthesis gave 26,824.5 GE for the inference part
(the model, without the sequencers, address counters and pipeline registers, 13,709) and 6,227.5 GE for
the learning-only blocks (model 6,232).
"""

from __future__ import annotations

from hwsim.config import EngineConfig, UpdateRule

from .ops import memory_bits

__all__ = ["GE_UM2", "SRAM_BIT_UM2", "LOGIC_CALIBRATION", "area_mm2", "logic_ge_model", "sram_bits",
           "area_scale"]

GE_UM2 = 0.798 / 0.7
SRAM_BIT_UM2 = 0.346 / 0.6
LOGIC_CALIBRATION = {"inference": 26824.5 / 13709, "learning": 6227.5 / 6232}
"""Factors on the two parts of :func:`logic_ge_model`, fitted to the synthesis of configs/small.yaml."""


def area_scale(node_nm: float = 45.0) -> float:
    if node_nm <= 0:
        raise ValueError(f"node must be positive, not {node_nm!r} nm")
    return (node_nm / 45.0) ** 2


def sram_bits(cfg: EngineConfig) -> int:
    """Bits in the weight RAMs (the SRAM macros)."""
    return sum(bits for name, bits in memory_bits(cfg).items() if name.endswith(".weights"))


def logic_ge_model(cfg: EngineConfig, learning: bool = True) -> dict[str, float]:
    """NAND2 equivalents of the datapath from widths alone: ``{"inference": ..., "learning": ...}``.

    ``learning`` False leaves out the update lanes, stochastic-rounding LFSRs, DRTP random-vector LFSRs,
    error units, delta buffers and active-group lists (what an inference-only engine would not have).
    """
    P = cfg.lanes
    inf = 0.0
    lrn = 0.0
    mems = memory_bits(cfg)
    for k, layer in enumerate(cfg.layers):
        a = cfg.in_format(k).width
        w = layer.weight.width
        z = layer.preact.width
        # per lane: multiplier, accumulator adder and register, the group's held sum and its
        # activation in the word being assembled; one post-processor (requantize + clip) per layer
        inf += P * (8.5 * w * a + 7 * layer.acc_bits + 2 * 6 * layer.acc_bits + 6 * layer.act.width) + 12 * z
        inf += 6 * mems[f"layer{k}.events" if cfg.is_event else f"layer{k}.inputs"]
        lrn += 6 * mems.get(f"layer{k}.active", 0)
        d = cfg.delta_format(k).width
        if cfg.is_output(k):
            inf += 13 * z  # argmax compare + registers
            lrn += 7 * layer.error.width
        else:
            lrn += 8.5 * cfg.random_lfsr_bits
        lrn += 6 * mems[f"layer{k}.deltas"] + P * 6 * d
        if layer.update_rule is UpdateRule.SHIFT:
            drop = max(cfg.update_drop_bits(k), 0)
            prod = 8.5 * d * a if d > 2 else 7 * a
            lrn += P * (prod + 7 * (w + drop) + 7 * w + 6 * w)
        else:
            lrn += P * (7 * w + 6 * w)
    if cfg.uses_stochastic():
        lrn += P * 8.5 * cfg.rng_lfsr_bits
    inf *= LOGIC_CALIBRATION["inference"]
    lrn *= LOGIC_CALIBRATION["learning"]
    return {"inference": round(inf, 1), "learning": round(lrn if learning else 0.0, 1)}


def area_mm2(logic_ge: float, n_sram_bits: int, node_nm: float = 45.0) -> dict[str, float]:
    """Logic, SRAM and total area (mm^2) from a gate count and a number of SRAM bits."""
    s = area_scale(node_nm)
    logic = logic_ge * GE_UM2 * s / 1e6
    sram = n_sram_bits * SRAM_BIT_UM2 * s / 1e6
    return {"logic_mm2": round(logic, 5), "sram_mm2": round(sram, 5), "total_mm2": round(logic + sram, 5)}
