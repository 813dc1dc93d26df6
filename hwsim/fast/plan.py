"""Layer plans: every bound, dtype, layout and path choice of one layer, worked out once from the config.

A :class:`LayerPlan` holds plain Python integers and numpy dtypes; the kernel factories of
:mod:`hwsim.fast.forward`, :mod:`hwsim.fast.delta` and :mod:`hwsim.fast.update` read only it (and
the config) and close over its values as compile-time constants. The exactness argument, case by
case, is in the comments: every intermediate is bounded here (Python integers), and a narrow dtype
is chosen only when the bound fits it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import EngineConfig, UpdateRule
from ..formats import ConfigError, Overflow, Rounding
from . import vnni as vnni_kernels

__all__ = ["ACC_PLAIN", "ACC_WRAP", "ACC_WRAP_U64", "ACC_SAT", "ACC_SAT64", "LAYOUT_ROWS", "LAYOUT_DOTS",
           "DOTS_MAX_PAD", "SPARSE_LANES", "MAX_PREACT_FRAC", "LayerPlan", "plan_layer", "int_dtype",
           "signed_dtype", "magnitude"]

# Forward accumulation modes.
ACC_PLAIN = "plain"    # partial sums can never leave the accumulator's range: no overflow logic
ACC_WRAP = "wrap"      # machine arithmetic wraps modulo 2**(8*itemsize) >= 2**acc_bits; sign-extend once
ACC_WRAP_U64 = "wrap_u64"  # as ACC_WRAP but in uint64, whose adds LLVM may not assume overflow-free
ACC_SAT = "sat"        # clamp after every add, in input order (acc + product fits int64)
ACC_SAT64 = "sat64"    # 64-bit saturating adds with overflow detection

# Weight layouts: inputs-major rows W[i * n_pad + j] (skips zero inputs; wide layers) or
# output-major dots W[j * n_cols + i] (dense dot products, skips zero deltas; narrow layers).
LAYOUT_ROWS = "rows"
LAYOUT_DOTS = "dots"
SPARSE_LANES = 64      # rows layout: visit lanes one by one when <= n_pad / 64 have a nonzero delta
DOTS_MAX_PAD = 64      # layers with at most this many lanes in all use dots when their sums are order-free

MAX_PREACT_FRAC = 61   # 1.0 = 2**frac and z +- 1/2 must fit an int64


def int_dtype(lo: int, hi: int) -> type:
    """The narrowest numpy integer dtype holding every value in ``[lo, hi]``."""
    for dt in (np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64):
        info = np.iinfo(dt)
        if info.min <= lo and hi <= info.max:
            return dt
    raise ValueError(f"no integer dtype holds [{lo}, {hi}]")


def signed_dtype(bound: int):
    """The narrowest of int16/int32/int64 holding ``[-bound, bound]``, or None when none does."""
    for dt in (np.int16, np.int32, np.int64):
        if bound <= np.iinfo(dt).max:
            return dt
    return None


def magnitude(lo: int, hi: int) -> int:
    """The largest absolute value in ``[lo, hi]`` (0 for a range above 0)."""
    return max(-lo, hi, 0)


@dataclass(frozen=True)
class LayerPlan:
    """Everything the kernels of layer ``k`` need, as compile-time constants."""

    k: int
    last: bool
    n_in: int
    n_out: int
    n_pad: int
    n_cols: int
    bias_one: int            # raw value of the bias input; 0 = no bias column effect
    in_dtype: type           # dtype of the layer's input activations
    w_dtype: type
    y_dtype: type
    dl_dtype: type           # modulatory signal
    # forward
    prod_dtype: type
    acc_dtype: type
    acc_mode: str
    acc_bits: int
    lanes: int               # P: lanes per group (n_pad = groups * lanes)
    event: bool              # schedule: event (docs/engine.md §11): only events and active groups are visited
    rng_offset: int          # dense: words consumed by earlier layers of the same sample
    words: int               # dense: words_per_update(k)
    rand_used: int           # low word bits the stochastic addend uses (0 = no table)
    update_noop: bool        # every dW is 0 mod the weight format: skip the update loop
    layout: str
    sparse_lanes: int        # rows layout: visit lanes one by one when nonzero deltas * this <= n_pad
    vnni: bool = False       # forward quads of rows through vpdpbusd (hwsim.fast.vnni); acc has 2 * n_pad
    simd_rows: bool = False  # ternary full-row updates in explicit 512-bit vectors where they apply (hwsim.fast.row_simd)

    @property
    def groups(self) -> int:
        return self.n_pad // self.lanes

    @property
    def acc_len(self) -> int:
        """Length of the accumulator buffer: the VNNI path keeps its permuted sums in a second half."""
        return 2 * self.n_pad if self.vnni else self.n_pad


def plan_layer(cfg: EngineConfig, k: int, dots_max_pad: int = DOTS_MAX_PAD,
               sparse_lanes: int = SPARSE_LANES, vnni: bool = True, simd_rows: bool = True) -> LayerPlan:
    layer = cfg.layers[k]
    in_fmt = cfg.in_format(k)
    last = cfg.is_output(k)
    if layer.preact.frac_bits > MAX_PREACT_FRAC:
        raise ConfigError(f"layers[{k}].preact.format has {layer.preact.frac_bits} fraction bits; the fast "
                          f"engine supports at most {MAX_PREACT_FRAC}")
    n_pad = cfg.groups(k) * cfg.lanes
    bias_one = cfg.bias_input(k) if cfg.bias else 0
    a_mag = magnitude(in_fmt.min_raw, in_fmt.max_raw)
    w_mag = magnitude(layer.weight.min_raw, layer.weight.max_raw)
    # forward: |product| <= w_mag * max(a_mag, one); |partial sum| <= sum_bound
    prod_bound = w_mag * max(a_mag, bias_one)
    sum_bound = layer.n_in * w_mag * a_mag + w_mag * bias_one
    bits = layer.acc_bits
    acc_hi = (1 << (bits - 1)) - 1
    if sum_bound <= acc_hi:
        mode, acc_dtype = ACC_PLAIN, (np.int32 if sum_bound < 2**31 else np.int64)
    elif layer.acc_overflow is Overflow.WRAP:
        # Wrapping modulo 2**32 or 2**64 agrees with wrapping modulo 2**acc_bits (acc_bits <= 32 or 64).
        if bits <= 32:
            mode, acc_dtype = ACC_WRAP, np.int32
        elif sum_bound < 2**63:
            mode, acc_dtype = ACC_WRAP, np.int64
        else:
            mode, acc_dtype = ACC_WRAP_U64, np.uint64
    else:
        if bits <= 31:
            mode, acc_dtype = ACC_SAT, np.int32
        elif bits <= 63:
            mode, acc_dtype = ACC_SAT, np.int64
        else:
            mode, acc_dtype = ACC_SAT64, np.int64
    prod_dtype = signed_dtype(prod_bound) or np.int64  # a product always fits int64 (<= 64 bits)
    if cfg.delta_is_ternary(k):
        dl_dtype = np.int8
    else:
        dl_dtype = int_dtype(min(layer.error.min_raw, -1), max(layer.error.max_raw, 1))
    stochastic = cfg.uses_stochastic()
    drop = cfg.update_drop_bits(k)
    rand_used = 0
    noop = False
    if layer.update_rule is UpdateRule.SHIFT:
        if cfg.update_is_stochastic(k):
            rand_used = min(drop, cfg.rng_lfsr_bits)
        if drop >= 64 and layer.update_rounding in (Rounding.RND, Rounding.RND_CONV):
            noop = True  # |dW| = round(|p| / 2**drop) with |p| < 2**63: always 0
        if drop < 0 and layer.weight.overflow is Overflow.WRAP and -drop >= layer.weight.width:
            noop = True  # dW is a multiple of 2**width
    offset = sum(cfg.words_per_update(m) for m in range(k))
    layout = LAYOUT_DOTS if dots_max_pad >= n_pad and mode in (ACC_PLAIN, ACC_WRAP, ACC_WRAP_U64) \
        else LAYOUT_ROWS
    in_dtype = int_dtype(in_fmt.min_raw, in_fmt.max_raw)
    w_dtype = int_dtype(layer.weight.min_raw, layer.weight.max_raw)
    # vpdpbusd: unsigned 8-bit inputs times signed 8-bit weights, int32 sums wrapping modulo
    # 2**32, which is exact for order-free int32 accumulation (ACC_PLAIN, ACC_WRAP).
    use_vnni = (vnni and vnni_kernels.AVAILABLE and layout == LAYOUT_ROWS and n_pad % vnni_kernels.CHUNK == 0
                and mode in (ACC_PLAIN, ACC_WRAP) and acc_dtype is np.int32
                and 0 <= in_fmt.min_raw and in_fmt.max_raw <= 255 and np.dtype(in_dtype).itemsize == 1
                and w_dtype is np.int8)
    return LayerPlan(
        k=k, last=last, n_in=layer.n_in, n_out=layer.n_out, n_pad=n_pad, n_cols=cfg.n_cols(k),
        bias_one=bias_one, in_dtype=in_dtype, w_dtype=w_dtype,
        y_dtype=int_dtype(layer.act.min_raw, layer.act.max_raw), dl_dtype=dl_dtype,
        prod_dtype=prod_dtype, acc_dtype=acc_dtype, acc_mode=mode, acc_bits=bits,
        lanes=cfg.lanes, event=cfg.is_event, rng_offset=offset if stochastic else 0,
        words=cfg.words_per_update(k),
        rand_used=rand_used, update_noop=noop, layout=layout, sparse_lanes=sparse_lanes, vnni=use_vnni,
        simd_rows=simd_rows)
