"""Operation counts of one inference and one training sample, read off the RTL schedule of an EngineConfig.

Counts follow the hardware, not the algorithm: every lane of a lane group works each cycle, so padding
lanes of a ragged last group count too, and the bias column is a multiply-accumulate like any other.
Per layer k (P lanes, G_k = ceil(n_out_k / P) groups, C_k = n_in_k + bias columns):

forward (inference and training)
    G*C weight-RAM reads of P*w bits; G*C activation reads of P*a bits (the column's input, one word);
    G*P*C multiplies w x a and G*P*C accumulator adds of acc bits; per neuron (G*P): one requantize add
    (preact bits), one clip compare (preact bits) and one activation write (act bits); output layer:
    n_out - 1 argmax compares (preact bits). Layer 0 also loads ceil(n_in/P) input words of P*a bits.
training only
    output layer: n_out error subtracts (error bits); hidden layers: G*P DRTP random bits (LFSR steps of
    ``random_lfsr_bits``) gated by the 0/1 derivative; delta writes and G*C delta reads (P*delta bits);
    then per weight (G*P*C): a delta x a product (a sign select for ternary deltas: counted as an add of
    a bits), the rounding add (w + drop bits), one stochastic-rounding LFSR word (``rng_lfsr_bits``)
    when rounding is stoch, the saturating weight add (w bits); G*C weight-RAM reads and writes and
    G*C activation re-reads.
"""

from __future__ import annotations

import enum
from collections import Counter
from typing import NamedTuple

from hwsim.config import EngineConfig, UpdateRule

__all__ = ["OpKind", "Op", "op_counts", "memory_bits", "summarize"]


class OpKind(str, enum.Enum):
    MULT = "mult"            # width x width2 integer multiply
    ADD = "add"              # width-bit add / subtract / compare
    SRAM_READ = "sram_read"  # one word of ``width`` bits from a memory of ``width2`` bits
    SRAM_WRITE = "sram_write"
    LFSR = "lfsr"            # one step of a width-bit LFSR


class Op(NamedTuple):
    kind: OpKind
    width: int
    width2: int = 0


def _layer_memories(cfg: EngineConfig, k: int) -> dict[str, tuple[int, int]]:
    """(word bits, total bits) of layer k's memories: weights, its input activations, its deltas."""
    layer, P, G, C = cfg.layers[k], cfg.lanes, cfg.groups(k), cfg.n_cols(k)
    a = cfg.in_format(k).width
    d = cfg.delta_format(k).width
    return {"weights": (P * layer.weight.width, G * C * P * layer.weight.width),
            "inputs": (P * a, -(-C // P) * P * a),
            "deltas": (P * d, G * P * d)}


def memory_bits(cfg: EngineConfig) -> dict[str, int]:
    """Bits of storage per memory: ``layer<k>.weights`` (SRAM macros) and the small buffers."""
    out: dict[str, int] = {}
    for k in range(len(cfg.layers)):
        for name, (_, bits) in _layer_memories(cfg, k).items():
            out[f"layer{k}.{name}"] = bits
    return out


def op_counts(cfg: EngineConfig, train: bool) -> Counter:
    """``Counter({Op: count})`` for one sample (``train`` adds the error, delta and update work)."""
    ops: Counter = Counter()
    L = len(cfg.layers)
    P = cfg.lanes
    for k, layer in enumerate(cfg.layers):
        G, C = cfg.groups(k), cfg.n_cols(k)
        a = cfg.in_format(k).width
        w = layer.weight.width
        mem = _layer_memories(cfg, k)
        neurons = G * P
        if k == 0:
            ops[Op(OpKind.SRAM_WRITE, *mem["inputs"])] += -(-layer.n_in // P)
        # forward
        ops[Op(OpKind.SRAM_READ, *mem["weights"])] += G * C
        ops[Op(OpKind.SRAM_READ, *mem["inputs"])] += G * C
        ops[Op(OpKind.MULT, w, a)] += neurons * C
        ops[Op(OpKind.ADD, layer.acc_bits)] += neurons * C
        ops[Op(OpKind.ADD, layer.preact.width)] += 2 * neurons       # requantize + clip
        if k + 1 < L:
            nxt = _layer_memories(cfg, k + 1)["inputs"]
            ops[Op(OpKind.SRAM_WRITE, *nxt)] += G                     # P activations per group
        else:
            ops[Op(OpKind.ADD, layer.preact.width)] += layer.n_out - 1  # argmax
        if not train:
            continue
        d = cfg.delta_format(k)
        if k + 1 == L:
            ops[Op(OpKind.ADD, layer.error.width)] += neurons        # e = y - y*
        else:
            ops[Op(OpKind.LFSR, cfg.random_lfsr_bits)] += neurons    # DRTP random bit per neuron
        ops[Op(OpKind.SRAM_WRITE, *mem["deltas"])] += G
        ops[Op(OpKind.SRAM_READ, *mem["deltas"])] += G * C
        ops[Op(OpKind.SRAM_READ, *mem["weights"])] += G * C
        ops[Op(OpKind.SRAM_WRITE, *mem["weights"])] += G * C
        ops[Op(OpKind.SRAM_READ, *mem["inputs"])] += G * C
        per_weight = neurons * C
        if layer.update_rule is UpdateRule.SHIFT:
            if d.width > 2:
                ops[Op(OpKind.MULT, d.width, a)] += per_weight
            else:
                ops[Op(OpKind.ADD, a)] += per_weight                  # sign select / negate
            drop = max(cfg.update_drop_bits(k), 0)
            ops[Op(OpKind.ADD, w + drop)] += per_weight               # shift-round
            if layer.rounds_stochastically:
                ops[Op(OpKind.LFSR, cfg.rng_lfsr_bits)] += per_weight
        ops[Op(OpKind.ADD, w)] += per_weight                          # saturating w + dW
    return ops


def summarize(ops: Counter) -> dict[str, int]:
    """Totals by kind (``mult``, ``add``, ...) and MACs by operand widths (``mult_8x8``)."""
    out: Counter = Counter()
    for op, n in ops.items():
        out[op.kind.value] += n
        if op.kind is OpKind.MULT:
            out[f"mult_{op.width}x{op.width2}"] += n
        if op.kind in (OpKind.SRAM_READ, OpKind.SRAM_WRITE):
            out[f"{op.kind.value}_bits"] += n * op.width
    return dict(sorted(out.items()))
