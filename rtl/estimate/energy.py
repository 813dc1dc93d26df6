"""The energy table (Horowitz, ISSCC 2014, 45 nm, 0.9 V), its width scaling, and energy per sample.

Anchors (pJ): integer add 8 b 0.03, 32 b 0.1; integer multiply 8 b 0.2, 32 b 3.1; 32-bit read of an
8 KB SRAM 5. Scaling used here (stated, not measured):

* add of n bits: linear through the two anchors, ``0.03 + (n - 8) * 0.07 / 24`` for n >= 8 and
  ``0.03 * n / 8`` below 8 bits (a ripple adder's energy grows with its width);
* multiply a x b bits: proportional to the partial-product count, ``0.2 * a * b / 64``
  (8x8 -> 0.2, 32x32 -> 3.2, the anchor 3.1 within 3 %);
* SRAM access of a w-bit word in a memory of m bits: ``5 * (w / 32) * sqrt(max(m, 1 Kbit) / 64 Kbit)``
  (bit-line and word-line energy grow with the side of the array); a write costs as much as a read;
* one LFSR step of n bits: an n-bit add (n flip-flops shift, a few XORs);
* node scaling (optional): ``(node / 45) * (vdd / 0.9) ** 2`` (C V^2 with C proportional to the node).

Synthesis-weighted logic energy (:func:`logic_energy_pj`): **0.42 fJ per gate equivalent per busy cycle**,
the Horowitz anchors divided by the NAND2 equivalents this kit's gate flow gives the same operators
(8-bit add 57 GE -> 0.53 fJ, 32-bit add 262.5 GE -> 0.38 fJ, 8x8 multiply 557.5 GE -> 0.36 fJ; geometric
mean 0.42). Every gate of a busy block is charged once per cycle (flip-flop arrays included, idle blocks
clock-gated): an upper bound on logic energy next to the op count's lower bound.

Not modelled: clock tree and idle register activity, leakage, control, I/O; the figures are dynamic
datapath + memory energy, good for comparing configurations, not a sign-off power.
"""

from __future__ import annotations

import math
from collections import Counter

from .ops import Op, OpKind

__all__ = ["ADD_8B_PJ", "ADD_32B_PJ", "MULT_8B_PJ", "SRAM_32B_8KB_PJ", "add_pj", "mult_pj", "sram_pj",
           "lfsr_pj", "op_pj", "node_scale", "energy_pj", "energy_breakdown_pj", "GE_CYCLE_FJ",
           "FORWARD_DATAPATH", "logic_energy_pj"]

ADD_8B_PJ = 0.03
ADD_32B_PJ = 0.1
MULT_8B_PJ = 0.2
SRAM_32B_8KB_PJ = 5.0
SRAM_REF_BITS = 8 * 1024 * 8
SRAM_MIN_BITS = 1024
GE_CYCLE_FJ = 0.42
"""fJ per NAND2 equivalent per cycle its block is busy (45 nm, 0.9 V; see the module docstring)."""
FORWARD_DATAPATH = ("mac", "requant", "act", "argmax")
"""Blocks (name prefixes) that only the forward pass uses: idle during the update phases."""


def _check(width: int, what: str) -> None:
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"{what} width must be a positive integer, not {width!r}")


def add_pj(bits: int) -> float:
    _check(bits, "add")
    if bits < 8:
        return ADD_8B_PJ * bits / 8
    return ADD_8B_PJ + (bits - 8) * (ADD_32B_PJ - ADD_8B_PJ) / 24


def mult_pj(a_bits: int, b_bits: int) -> float:
    _check(a_bits, "multiply")
    _check(b_bits, "multiply")
    return MULT_8B_PJ * a_bits * b_bits / 64


def sram_pj(word_bits: int, mem_bits: int) -> float:
    _check(word_bits, "memory word")
    _check(mem_bits, "memory")
    return SRAM_32B_8KB_PJ * word_bits / 32 * math.sqrt(max(mem_bits, SRAM_MIN_BITS) / SRAM_REF_BITS)


def lfsr_pj(bits: int) -> float:
    return add_pj(bits)


def op_pj(op: Op) -> float:
    if op.kind is OpKind.MULT:
        return mult_pj(op.width, op.width2)
    if op.kind is OpKind.ADD:
        return add_pj(op.width)
    if op.kind in (OpKind.SRAM_READ, OpKind.SRAM_WRITE):
        return sram_pj(op.width, op.width2)
    if op.kind is OpKind.LFSR:
        return lfsr_pj(op.width)
    raise ValueError(f"no energy figure for operation kind {op.kind!r}")


def node_scale(node_nm: float = 45.0, vdd: float = 0.9) -> float:
    """Energy factor from 45 nm / 0.9 V to another node and supply (C V^2, C ~ node)."""
    if node_nm <= 0 or vdd <= 0:
        raise ValueError(f"node and vdd must be positive, not {node_nm!r} nm and {vdd!r} V")
    return (node_nm / 45.0) * (vdd / 0.9) ** 2


def energy_breakdown_pj(ops: Counter, scale: float = 1.0) -> dict[str, float]:
    """Energy (pJ) by operation kind."""
    out: dict[str, float] = {}
    for op, n in ops.items():
        out[op.kind.value] = out.get(op.kind.value, 0.0) + n * op_pj(op) * scale
    return dict(sorted(out.items()))


def energy_pj(ops: Counter, scale: float = 1.0) -> float:
    return sum(energy_breakdown_pj(ops, scale).values())


def logic_energy_pj(phases, blocks: dict[str, float], total_ge: float, learning,
                    scale: float = 1.0) -> dict[str, float]:
    """Logic energy (pJ) per phase from per-block gate equivalents of the synthesis.

    ``phases``: :func:`rtl.schedule.phases` (name, cycles); ``blocks``: NAND2 equivalents per instance
    path (``layer0.mac``, ``rng``, ...), rolled up; ``learning(path)`` tells the learning-only blocks.
    Busy per cycle: ``load``/``finish`` - the top level's own logic; ``forwardK`` - top level + layer K
    without its learning blocks (+ argmax after the last layer); ``updateK`` - top level + layer K
    without its forward datapath (:data:`FORWARD_DATAPATH`) + the top-level learning blocks (``rng``).
    """
    top_blocks = {name: ge for name, ge in blocks.items() if "." not in name}
    top_own = total_ge - sum(top_blocks.values())
    top_learning = sum(ge for name, ge in top_blocks.items() if learning(name))

    def inside(layer: str, pred) -> float:
        return sum(ge for name, ge in blocks.items() if name.count(".") == 1 and name.startswith(layer + ".")
                   and pred(name.split(".")[1]))

    out: dict[str, float] = {}
    for ph in phases:
        busy = top_own
        if ph.name.startswith("forward"):
            layer = "layer" + ph.name[len("forward"):]
            busy += blocks.get(layer, 0.0) - inside(layer, lambda b: learning(layer + "." + b))
            if ph.name == f"forward{sum(1 for n in top_blocks if n.startswith('layer')) - 1}":
                busy += top_blocks.get("argmax", 0.0)
        elif ph.name.startswith("update"):
            layer = "layer" + ph.name[len("update"):]
            busy += blocks.get(layer, 0.0) - inside(layer, lambda b: b.startswith(FORWARD_DATAPATH))
            busy += top_learning
        out[ph.name] = busy * ph.cycles * GE_CYCLE_FJ / 1000 * scale
    return out
