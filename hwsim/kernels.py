"""Numba kernels of the fast golden model, specialised per layer by closures over constants.

Every factory here reads one :class:`LayerPlan` (plain Python integers and numpy dtypes worked
out once from the config) and returns an ``@njit`` function whose shift amounts, bounds, dtypes
and rounding mode are compile-time constants, so LLVM can vectorise the row loops in narrow
lanes. :mod:`hwsim.update_kernels` holds the update's; :mod:`hwsim.engine` composes them into one
compiled pass over a whole data set.

Layout: a layer's weights are one flat array ``W[i * n_pad + j]`` (inputs-major), ``n_pad =
groups * lanes``; padding lanes ``j >= n_out`` hold 0 and, with a zero modulatory signal, stay 0.
With that layout the stochastic-rounding word of update visit (i, j) is ``R[base + i * n_pad + j]``:
a row of weights and its random words are two contiguous slices.

The exactness argument, case by case, is in the comments: every intermediate is bounded in
:func:`plan_layer` (Python integers), and a narrow dtype is chosen only when the bound fits it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numba
import numba.core.codegen
import numpy as np

from .config import Activation, EngineConfig, ErrorSignal, UpdateRule
from . import vnni as vnni_kernels
from .formats import ConfigError, FixedFormat, Overflow, Rounding

__all__ = ["LAYOUT_ROWS", "LAYOUT_DOTS", "DOTS_MAX_PAD", "SPARSE_LANES", "LayerPlan", "plan_layer",
           "int_dtype", "signed_dtype", "make_wrap", "make_round", "make_requant", "make_forward",
           "make_delta"]



def _prefer_512_bit_vectors() -> None:
    """Let LLVM use 512-bit vectors on AVX-512 hosts, where it prefers 256 bits by default.

    The row loops here run ~1.5x faster with them (measured on a Cascade Lake host). This is a
    process-wide numba setting, so it is made only when the user chose no CPU name or features,
    and it takes effect only if nothing has been compiled yet (numba builds its target once).
    """
    if os.environ.get("NUMBA_CPU_NAME") or os.environ.get("NUMBA_CPU_FEATURES") is not None:
        return
    features = numba.core.codegen.get_host_cpu_features()
    if "+avx512f" in features.split(","):
        os.environ["NUMBA_CPU_FEATURES"] = features + ",-prefer-256-bit"
        numba.config.reload_config()


_prefer_512_bit_vectors()

njit = numba.njit(nogil=True)
# Small pieces are inlined in numba's IR: one LLVM module per pass compiles several times faster
# than one per helper, and LLVM sees the whole row loop when it vectorises.
inline = numba.njit(nogil=True, inline="always")

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


def _mag(lo: int, hi: int) -> int:
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
    rng_offset: int          # words consumed by earlier layers of the same sample
    words: int               # words_per_update(k)
    rand_used: int           # low word bits the stochastic addend uses (0 = no table)
    update_noop: bool        # every dW is 0 mod the weight format: skip the update loop
    layout: str
    sparse_lanes: int        # rows layout: visit lanes one by one when nonzero deltas * this <= n_pad
    vnni: bool = False       # forward quads of rows through vpdpbusd (hwsim.vnni); acc has 2 * n_pad
    simd_rows: bool = False  # ternary full-row updates in explicit 512-bit vectors where they apply (hwsim.row_simd)

    @property
    def acc_len(self) -> int:
        """Length of the accumulator buffer: the VNNI path keeps its permuted sums in a second half."""
        return 2 * self.n_pad if self.vnni else self.n_pad


def plan_layer(cfg: EngineConfig, k: int, dots_max_pad: int = DOTS_MAX_PAD,
               sparse_lanes: int = SPARSE_LANES, vnni: bool = True, simd_rows: bool = True) -> LayerPlan:
    layer = cfg.layers[k]
    in_fmt = cfg.in_format(k)
    last = k == len(cfg.layers) - 1
    if layer.preact.frac_bits > MAX_PREACT_FRAC:
        raise ConfigError(f"layers[{k}].preact.format has {layer.preact.frac_bits} fraction bits; the fast "
                          f"engine supports at most {MAX_PREACT_FRAC}")
    n_pad = cfg.groups(k) * cfg.lanes
    bias_one = in_fmt.one_raw() if cfg.bias else 0
    a_mag = _mag(in_fmt.min_raw, in_fmt.max_raw)
    w_mag = _mag(layer.weight.min_raw, layer.weight.max_raw)
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
    if last:
        if layer.error_signal is ErrorSignal.ERROR:
            dl_dtype = int_dtype(min(layer.error.min_raw, -1), max(layer.error.max_raw, 1))
        else:
            dl_dtype = np.int8
    else:
        dl_dtype = np.int8
    stochastic = cfg.uses_stochastic()
    drop = cfg.update_drop_bits(k)
    rand_used = 0
    noop = False
    if layer.update_rule is UpdateRule.SHIFT:
        if drop > 0 and layer.update_rounding is Rounding.STOCH:
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
        rng_offset=offset if stochastic else 0, words=cfg.words_per_update(k),
        rand_used=rand_used, update_noop=noop, layout=layout, sparse_lanes=sparse_lanes, vnni=use_vnni,
        simd_rows=simd_rows)


# ---------------------------------------------------------------------------------------------
# Scalar pieces (int64 in, int64 out), inlined by LLVM into the vector loops that call them.
# ---------------------------------------------------------------------------------------------

def make_wrap(fmt: FixedFormat):
    """Two's complement wrap of an int64 into ``fmt``: keep the low ``width`` bits."""
    w = fmt.width
    if fmt.signed:
        sh = 64 - w

        @inline
        def wrap(v):
            return (np.int64(v) << sh) >> sh  # shl wraps in LLVM (no nsw); ashr sign-extends
    else:
        mask = (1 << w) - 1

        @inline
        def wrap(v):
            return np.int64(v) & mask
    return wrap


def make_overflow(fmt: FixedFormat):
    lo, hi = fmt.min_raw, fmt.max_raw
    if fmt.overflow is Overflow.SAT:
        @inline
        def ovf(v):
            return min(max(v, lo), hi)
        return ovf
    return make_wrap(fmt)


def make_round(shift: int, rounding: Rounding):
    """``floor``-based rounding of an int64 by ``2**shift`` (shift > 0), overflow-free for any int64."""
    assert shift > 0
    if rounding is Rounding.TRN:
        s = min(shift, 63)  # floor(v / 2**s) for s >= 63 is v >> 63 when |v| < 2**63

        @inline
        def rnd(v):
            return v >> s
    elif shift >= 64:      # |v / 2**shift| <= 1/2, and both round-to-nearest modes give 0 there
        @inline
        def rnd(v):
            return v & 0
    elif rounding is Rounding.RND:
        s1 = shift - 1

        @inline
        def rnd(v):
            # floor((v + 2**(s-1)) / 2**s) without forming v + 2**(s-1)
            return (v >> shift) + ((v >> s1) & 1)
    elif rounding is Rounding.RND_CONV:
        mask = (1 << shift) - 1
        half = 1 << (shift - 1)

        @inline
        def rnd(v):
            q = v >> shift
            rem = v & mask
            return q + np.int64((rem > half) | ((rem == half) & ((q & 1) == 1)))
    else:
        raise ValueError(f"rounding {rounding} needs a random word")
    return rnd


def make_requant(shift: int, rounding: Rounding, fmt: FixedFormat):
    """``requantize`` of an int64 dropping ``shift`` bits (negative: gaining) into ``fmt``, exactly."""
    lo, hi = fmt.min_raw, fmt.max_raw
    if shift == 0:
        return make_overflow(fmt)
    if shift > 0:
        rnd = make_round(shift, rounding)
        ovf = make_overflow(fmt)

        @inline
        def rq(v):
            return ovf(rnd(np.int64(v)))
        return rq
    m = -shift
    if fmt.overflow is Overflow.SAT:
        # v << m > hi  <=>  v > hi >> m ; v << m < lo <=> v < ceil(lo / 2**m). Shift only in range.
        vhi, vlo, mm = hi >> m, -((-lo) >> m), min(m, 62)

        @inline
        def rq(v):
            v = np.int64(v)
            r = min(max(v, vlo), vhi) << mm
            r = hi if v > vhi else r
            return lo if v < vlo else r
        return rq
    if m >= fmt.width:
        @inline
        def rq(v):
            return np.int64(v) & 0  # a multiple of 2**width wraps to 0
        return rq
    wrap = make_wrap(fmt)

    @inline
    def rq(v):
        return wrap(np.int64(v) << m)
    return rq


def make_activation(kind: Activation, z_frac: int):
    """(clipped value, derivative) as in reference.activate; z is an int64."""
    one = 1 << z_frac
    if kind is Activation.CLIPPED_RELU:
        @inline
        def act(z):
            return min(max(z, 0), one), np.int8((z > 0) & (z < one))
    elif kind is Activation.HARD_TANH:
        @inline
        def act(z):
            return min(max(z, -one), one), np.int8((z > -one) & (z < one))
    else:
        half = one >> 1

        @inline
        def act(z):
            return min(max(z + half, 0), one), np.int8((z > -half) & (z < half))
    return act


# ---------------------------------------------------------------------------------------------
# Forward
# ---------------------------------------------------------------------------------------------

def _make_acc_row(plan: LayerPlan, acc_fmt: FixedFormat):
    """acc[j] += W[i, j] * a_i over the lanes of one input row (rows layout), in the plan's mode."""
    NP, PT, AT = plan.n_pad, plan.prod_dtype, plan.acc_dtype
    lo, hi = acc_fmt.min_raw, acc_fmt.max_raw
    mode = plan.acc_mode
    if mode in (ACC_PLAIN, ACC_WRAP):
        @inline
        def acc_row(acc, Wr, av):
            for j in range(NP):
                acc[j] = AT(acc[j] + PT(Wr[j]) * av)  # exact in int64, truncation wraps
    elif mode == ACC_WRAP_U64:
        @inline
        def acc_row(acc, Wr, av):
            for j in range(NP):  # unsigned adds wrap modulo 2**64 (no nsw flag)
                acc[j] = acc[j] + np.uint64(np.int64(Wr[j]) * av)
    elif mode == ACC_SAT:
        @inline
        def acc_row(acc, Wr, av):
            for j in range(NP):
                acc[j] = AT(min(max(np.int64(acc[j]) + PT(Wr[j]) * av, lo), hi))
    else:
        @inline
        def acc_row(acc, Wr, av):
            for j in range(NP):
                x = np.int64(acc[j])
                p = np.int64(Wr[j]) * av
                s = np.int64(np.uint64(x) + np.uint64(p))
                if ((x ^ s) & (p ^ s)) < 0:   # signed overflow of x + p
                    s = hi if p > 0 else lo
                acc[j] = s
    return acc_row


def _make_dot(plan: LayerPlan):
    """sum_i W[j, i] * a_i over one output row (dots layout; order-free modes only)."""
    N_IN, PT, AT, ONE = plan.n_in, plan.prod_dtype, plan.acc_dtype, plan.bias_one
    if plan.acc_mode == ACC_WRAP_U64:
        @inline
        def dot(Wj, a):
            s = np.uint64(0)
            for i in range(N_IN):
                s += np.uint64(np.int64(Wj[i]) * np.int64(a[i]))
            if ONE != 0:
                s += np.uint64(np.int64(Wj[N_IN]) * ONE)
            return s
        return dot
    assert plan.acc_mode in (ACC_PLAIN, ACC_WRAP)

    @inline
    def dot(Wj, a):
        s = AT(0)
        for i in range(N_IN):
            s = AT(s + AT(PT(Wj[i]) * PT(a[i])))  # modulo 2**(8*itemsize): order-free
        if ONE != 0:
            s = AT(s + AT(PT(Wj[N_IN]) * PT(ONE)))
        return s
    return dot


def make_forward(cfg: EngineConfig, plan: LayerPlan):
    """forward(W, a, nz, acc, z, y, d) -> number of nonzero inputs (listed in nz, then the bias)."""
    k = plan.k
    layer = cfg.layers[k]
    acc_fmt = cfg.acc_format(k)
    N_IN, NP, N_OUT, NC, ONE = plan.n_in, plan.n_pad, plan.n_out, plan.n_cols, plan.bias_one
    PT = np.int64 if plan.acc_mode == ACC_WRAP_U64 else plan.prod_dtype
    AT, YT = plan.acc_dtype, plan.y_dtype
    bits = plan.acc_bits
    ext = 64 - bits if plan.acc_mode in (ACC_WRAP, ACC_WRAP_U64) and bits < 8 * np.dtype(AT).itemsize else 0
    rq_pre = make_requant(acc_fmt.frac_bits - layer.preact.frac_bits, layer.preact.rounding, layer.preact)
    act = make_activation(layer.activation, layer.preact.frac_bits)
    rq_act = make_requant(layer.preact.frac_bits - layer.act.frac_bits, layer.act.rounding, layer.act)

    @inline
    def finish(acc, z, y, d):
        for j in range(N_OUT):
            v = np.int64(acc[j])
            if ext:
                v = (v << ext) >> ext  # wrap to acc_bits once: sums agreed modulo 2**(8*itemsize)
            zj = rq_pre(v)
            c, dj = act(zj)
            z[j] = np.int32(zj)
            y[j] = YT(rq_act(c))
            d[j] = dj

    if plan.layout == LAYOUT_DOTS:
        dot = _make_dot(plan)

        @njit
        def forward(W, a, nz, acc, z, y, d):
            for j in range(N_OUT):
                acc[j] = dot(W[j * NC:(j + 1) * NC], a)
            finish(acc, z, y, d)
            return 0
        return forward

    acc_row = _make_acc_row(plan, acc_fmt)

    @inline
    def rest_rows(W, a, nz, acc, t, n):
        """Rows nz[t:n] one at a time, then the bias row; lists the bias column as nz[n]."""
        while t < n:
            i = nz[t]
            acc_row(acc, W[i * NP:(i + 1) * NP], PT(a[i]))
            t += 1
        if ONE != 0:
            acc_row(acc, W[N_IN * NP:(N_IN + 1) * NP], PT(ONE))
        nz[n] = N_IN                 # the update reads the bias column from the list too

    if plan.vnni:
        # Order-free int32 sums of u8 x s8 products: quads of nonzero rows go through vpdpbusd
        # into the scratch half of acc (lanes permuted), added back in natural order once.
        PERM = vnni_kernels.lane_permutation(NP)
        dpbusd_quad = vnni_kernels.dpbusd_quad

        NW = N_IN // 8

        @njit
        def forward(W, a, nz, acc, z, y, d):
            # The list of nonzero inputs, eight bytes at a time: all-zero words (most of a
            # digit's border) are skipped whole, the others listed branch-free.
            n = 0
            words = a[:NW * 8].view(np.uint64)
            for w in range(NW):
                if words[w] != 0:
                    for i in range(8 * w, 8 * w + 8):
                        nz[n] = i
                        n += a[i] != 0
            for i in range(NW * 8, N_IN):
                nz[n] = i
                n += a[i] != 0
            scratch = acc[NP:]
            for j in range(NP):
                scratch[j] = 0
            t = 0
            while t + 4 <= n:
                i1, i2, i3, i4 = nz[t], nz[t + 1], nz[t + 2], nz[t + 3]
                word = np.int64(a[i1]) | (np.int64(a[i2]) << 8) | (np.int64(a[i3]) << 16) \
                    | (np.int64(a[i4]) << 24)
                dpbusd_quad(scratch, W, i1 * NP, i2 * NP, i3 * NP, i4 * NP, word)
                t += 4
            for c in range(NP):
                acc[PERM[c]] = scratch[c]
            rest_rows(W, a, nz, acc, t, n)
            finish(acc, z, y, d)
            return n
        return forward

    if plan.acc_mode in (ACC_PLAIN, ACC_WRAP):
        # Order-free sums: four input rows per pass over the accumulators (2x fewer loads
        # and stores of acc than one row at a time).
        @njit
        def forward(W, a, nz, acc, z, y, d):
            n = 0
            for i in range(N_IN):        # branch-free list of the nonzero inputs
                nz[n] = i
                n += a[i] != 0
            for j in range(NP):
                acc[j] = 0
            t = 0
            while t + 4 <= n:
                i1, i2, i3, i4 = nz[t], nz[t + 1], nz[t + 2], nz[t + 3]
                a1, a2, a3, a4 = PT(a[i1]), PT(a[i2]), PT(a[i3]), PT(a[i4])
                W1 = W[i1 * NP:(i1 + 1) * NP]
                W2 = W[i2 * NP:(i2 + 1) * NP]
                W3 = W[i3 * NP:(i3 + 1) * NP]
                W4 = W[i4 * NP:(i4 + 1) * NP]
                for j in range(NP):
                    acc[j] = AT(acc[j] + AT(PT(W1[j]) * a1) + AT(PT(W2[j]) * a2)
                                + AT(PT(W3[j]) * a3) + AT(PT(W4[j]) * a4))
                t += 4
            rest_rows(W, a, nz, acc, t, n)
            finish(acc, z, y, d)
            return n
        return forward

    @njit
    def forward(W, a, nz, acc, z, y, d):
        n = 0
        for i in range(N_IN):        # branch-free list of the nonzero inputs
            nz[n] = i
            n += a[i] != 0
        nz[n] = N_IN                 # then the bias column, the last one (order matters for SAT)
        for j in range(NP):
            acc[j] = 0
        for t in range(n + (ONE != 0)):  # zero inputs add 0: skipping them is exact even with SAT
            i = nz[t]
            av = PT(a[i]) if i < N_IN else PT(ONE)
            acc_row(acc, W[i * NP:(i + 1) * NP], av)
        finish(acc, z, y, d)
        return n
    return forward


# ---------------------------------------------------------------------------------------------
# Modulatory signal
# ---------------------------------------------------------------------------------------------

def make_delta(cfg: EngineConfig, plan: LayerPlan):
    """delta(y, d, dl, B, label) -> how many modulatory signals are nonzero."""
    N_OUT, DT = plan.n_out, plan.dl_dtype
    if not plan.last:
        @njit
        def delta(y, d, dl, B, label):
            nonzero = 0
            for j in range(N_OUT):
                v = B[label, j] * d[j]
                dl[j] = v
                nonzero += v != 0
            return nonzero
        return delta
    layer = cfg.layers[plan.k]
    one = min(layer.act.one_raw(), layer.act.max_raw)
    rq_err = make_requant(layer.act.frac_bits - layer.error.frac_bits, layer.error.rounding, layer.error)
    use_sign = layer.error_signal is ErrorSignal.SIGN

    @njit
    def delta(y, d, dl, B, label):
        nonzero = 0
        for j in range(N_OUT):
            e = rq_err(np.int64(y[j]) - (one if j == label else 0))
            if use_sign:
                e = np.int64(e > 0) - np.int64(e < 0)
            dl[j] = DT(e)
            nonzero += e != 0
        return nonzero
    return delta
