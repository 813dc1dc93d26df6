"""Operation counts of samples, read off the RTL schedule of an EngineConfig and the work counts of each sample.

The engine's work per sample is five counts (:class:`hwsim.cycles.SampleCounts`): ``load`` cycles and per
layer k the events E_k (input columns that do work, bias included), active lane groups A_k, update visits
V_k and weight words written W_k. :func:`sample_ops` turns them into SRAM accesses and datapath operations,
one array per operation (one value per sample); :func:`op_counts` is the closed form of one sample with
every column, group and word (:func:`hwsim.cycles.dense_counts`): exact for ``schedule: dense``, the
no-skipping upper bound for ``event``.

Counts follow the hardware, not the algorithm: every lane of a lane group works each cycle, so padding
lanes of a ragged last group count too, and the bias column is a multiply-accumulate like any other.
Per layer k (P lanes, G = ceil(n_out / P) groups, C = n_in + bias columns, a / w input and weight bits):

forward (inference and training)
    G*E weight-RAM reads of P*w bits and G*E input reads; G*P*E multiplies w x a and accumulator adds;
    per neuron (G*P) one requantize add and one clip compare (pre-activation bits); the output layer
    n_out - 1 argmax compares. ``dense`` inputs are words of P*a bits in a buffer of ceil(C/P) words:
    layer 0 writes ceil(n_in/P) of them while loading, layer k writes G words (P activations each) into
    layer k+1's buffer. ``event`` inputs are entries of an event memory (n_in entries of
    ceil(log2 n_in) address + a value bits): one write per non-zero pixel (layer 0, while loading) or
    non-zero activation (layer k -> k+1); the bias is a wire, not stored, but its slot is counted as a
    read like the others.
training only
    output layer: G*P error subtracts; hidden layers: G*P DRTP random bits (LFSR steps of
    ``random_lfsr_bits``); G delta-word writes (P deltas each); ``event``: A active-list writes.
    Per visit (V; dense V = G*C): one delta-word read, one input read (``event``: plus one active-list
    read), and P each of: delta x input product (a sign select for ternary deltas, counted as an add of
    a bits), the rounding add (w + drop bits), one stochastic-rounding LFSR word (``rng_lfsr_bits``,
    stochastic rounding only). Per written word (W; dense W = V): one weight-RAM read, P saturating adds
    (w bits) and one weight-RAM write (``event``: lane write enables, so the C non-zero changes are
    written as C writes of w bits). The sign rule has no product, rounding add or LFSR word.
"""

from __future__ import annotations

import enum
from collections import Counter
from typing import NamedTuple

import numpy as np

from hwsim.config import EngineConfig, UpdateRule
from hwsim.cycles import FINISH, FWD_PIPE, UPD_TAIL, SampleCounts, dense_counts

__all__ = ["OpKind", "Op", "Phase", "op_counts", "sample_ops", "phases", "memory_bits", "learning_memories",
           "stored_bias", "summarize"]


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


class Phase(NamedTuple):
    """One phase of a sample and its cycles (an int, or one per sample)."""
    name: str
    cycles: object


def _bits_for(n: int) -> int:
    """Bits of an index 0 .. n-1 (at least 1), as ``rtl.arith.index_shape``."""
    return max(1, (int(n) - 1).bit_length())


def _layer_memories(cfg: EngineConfig, k: int) -> dict[str, tuple[int, int]]:
    """(word bits, total bits) of layer k's memories: weights, its inputs (dense buffer or event memory),
    its deltas, and (``event``) the active-group list.

    ``event`` sizes follow the RTL (``rtl.events.EventBuffer``, ``rtl.layer``): the event memory holds
    max(2, n_in) entries of column address + value, the active list max(2, G) entries of group index +
    the group's first weight address.
    """
    layer, P, G, C = cfg.layers[k], cfg.lanes, cfg.groups(k), cfg.n_cols(k)
    a = cfg.in_format(k).width
    d = cfg.delta_format(k).width
    mems = {"weights": (P * layer.weight.width, G * C * P * layer.weight.width)}
    if cfg.is_event:
        entry = _bits_for(layer.n_in) + a
        mems["events"] = (entry, max(2, layer.n_in) * entry)
    else:
        mems["inputs"] = (P * a, -(-C // P) * P * a)
    mems["deltas"] = (P * d, G * P * d)
    if cfg.is_event:
        entry = _bits_for(G) + _bits_for(G * C + C)
        mems["active"] = (entry, max(2, G) * entry)
    return mems


LEARNING_MEMORIES = ("deltas", "active")
"""Memories only a learning engine has (the rest serve inference too)."""


def learning_memories(name: str) -> bool:
    """``layer<k>.<memory>`` names a memory only learning needs."""
    return name.rsplit(".", 1)[-1] in LEARNING_MEMORIES


def memory_bits(cfg: EngineConfig) -> dict[str, int]:
    """Bits of storage per memory: ``layer<k>.weights`` (SRAM macros) and the small buffers
    (``inputs`` or ``events``, ``deltas``, ``active``)."""
    out: dict[str, int] = {}
    for k in range(len(cfg.layers)):
        for name, (_, bits) in _layer_memories(cfg, k).items():
            out[f"layer{k}.{name}"] = bits
    return out


def stored_bias(cfg: EngineConfig, k: int) -> int:
    """1 when layer k's events include the bias column (bias on and non-zero): an event not written
    to the event memory."""
    return int(cfg.bias and cfg.bias_input(k) != 0)


def sample_ops(cfg: EngineConfig, counts: SampleCounts) -> Counter:
    """``Counter({Op: per-sample counts})`` for the samples of ``counts`` (arrays of shape (N,)).

    Samples with ``counts.train`` False did inference only (their active/visits/writes are 0 and
    the training-only forward work is masked off). Operations no sample did are left out.
    """
    ops: Counter = Counter()
    L = len(cfg.layers)
    P = cfg.lanes
    t = np.asarray(counts.train, dtype=np.int64)
    event = cfg.is_event
    mems = [_layer_memories(cfg, k) for k in range(L)]
    for k, layer in enumerate(cfg.layers):
        G = cfg.groups(k)
        E, A, V, W = (counts.events[:, k], counts.active[:, k], counts.visits[:, k], counts.writes[:, k])
        a = cfg.in_format(k).width
        w = layer.weight.width
        mem = mems[k]
        src = mem["events"] if event else mem["inputs"]
        neurons = G * P
        if k == 0:
            # the input serializer: a word per beat (dense) or an entry per non-zero pixel (event)
            ops[Op(OpKind.SRAM_WRITE, *src)] += E - stored_bias(cfg, 0) if event else -(-layer.n_in // P)
        # forward
        ops[Op(OpKind.SRAM_READ, *mem["weights"])] += G * E
        ops[Op(OpKind.SRAM_READ, *src)] += G * E
        ops[Op(OpKind.MULT, w, a)] += neurons * E
        ops[Op(OpKind.ADD, layer.acc_bits)] += neurons * E
        ops[Op(OpKind.ADD, layer.preact.width)] += 2 * neurons                # requantize + clip
        if k + 1 < L:
            if event:   # one event per non-zero activation
                nxt = mems[k + 1]["events"]
                ops[Op(OpKind.SRAM_WRITE, *nxt)] += counts.events[:, k + 1] - stored_bias(cfg, k + 1)
            else:       # P activations per group
                ops[Op(OpKind.SRAM_WRITE, *mems[k + 1]["inputs"])] += G
        else:
            ops[Op(OpKind.ADD, layer.preact.width)] += layer.n_out - 1      # argmax
        # training: modulatory signal
        d = cfg.delta_format(k)
        if k + 1 == L:
            ops[Op(OpKind.ADD, layer.error.width)] += neurons * t           # e = y - y*
        else:
            ops[Op(OpKind.LFSR, cfg.random_lfsr_bits)] += neurons * t       # DRTP random bit per neuron
        ops[Op(OpKind.SRAM_WRITE, *mem["deltas"])] += G * t
        if event:
            ops[Op(OpKind.SRAM_WRITE, *mem["active"])] += A
            ops[Op(OpKind.SRAM_READ, *mem["active"])] += V
        # update: per visit
        ops[Op(OpKind.SRAM_READ, *mem["deltas"])] += V
        ops[Op(OpKind.SRAM_READ, *src)] += V
        if layer.update_rule is UpdateRule.SHIFT:
            if d.width > 2:
                ops[Op(OpKind.MULT, d.width, a)] += P * V
            else:
                ops[Op(OpKind.ADD, a)] += P * V                              # sign select / negate
            drop = max(cfg.update_drop_bits(k), 0)
            ops[Op(OpKind.ADD, w + drop)] += P * V                           # shift-round
            if layer.rounds_stochastically:
                ops[Op(OpKind.LFSR, cfg.rng_lfsr_bits)] += P * V
        # update: per written word (read-modify-write)
        ops[Op(OpKind.SRAM_READ, *mem["weights"])] += W
        if event:   # one write enable per lane: only the lanes whose change is non-zero are driven
            ops[Op(OpKind.SRAM_WRITE, w, mem["weights"][1])] += counts.changes[:, k]
        else:
            ops[Op(OpKind.SRAM_WRITE, *mem["weights"])] += W
        ops[Op(OpKind.ADD, w)] += P * W                                      # saturating w + dW
    n = len(counts)
    out = Counter()
    for op, v in ops.items():
        v = np.broadcast_to(np.asarray(v, dtype=np.int64), (n,))
        if v.any():     # work no sample did (training-only work of inferences) is left out
            out[op] = v
    return out


def op_counts(cfg: EngineConfig, train: bool) -> Counter:
    """``Counter({Op: count})`` of one sample doing every column, group and word (``train`` adds the
    error, delta and update work): exact for ``dense``, the no-skipping bound for ``event``."""
    counts = dense_counts(cfg, 1, train)
    counts.changes[:] = counts.writes * cfg.lanes     # the bound: every lane of every word changes
    return Counter({op: int(v[0]) for op, v in sample_ops(cfg, counts).items()})


def phases(cfg: EngineConfig, counts: SampleCounts) -> list[Phase]:
    """The phases of the samples of ``counts`` with their cycles (arrays), in order; they add up to
    :attr:`SampleCounts.cycles` (:func:`hwsim.cycles.sample_cycles`)."""
    t = np.asarray(counts.train, dtype=np.int64)
    out = [Phase("load", counts.load.astype(np.int64))]
    for k in range(len(cfg.layers)):
        slots = np.maximum(counts.events[:, k], cfg.lanes)
        out.append(Phase(f"forward{k}", cfg.groups(k) * slots + FWD_PIPE + cfg.lanes))
        out.append(Phase(f"update{k}", (counts.visits[:, k] + UPD_TAIL) * t))
    out.append(Phase("finish", np.full(len(counts), FINISH, dtype=np.int64)))
    return out


def summarize(ops: Counter) -> dict[str, float]:
    """Totals by kind (``mult``, ``add``, ...) and MACs by operand widths (``mult_8x8``); counts may be
    numbers or per-sample arrays (then the totals are per-sample means)."""
    out: Counter = Counter()
    for op, n in ops.items():
        n = float(np.mean(n)) if isinstance(n, np.ndarray) else n
        out[op.kind.value] += n
        if op.kind is OpKind.MULT:
            out[f"mult_{op.width}x{op.width2}"] += n
        if op.kind in (OpKind.SRAM_READ, OpKind.SRAM_WRITE):
            out[f"{op.kind.value}_bits"] += n * op.width
    return dict(sorted(out.items()))
