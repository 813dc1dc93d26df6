"""The forward pass of one layer as a numba kernel, specialised by closures over its plan's constants.

:func:`make_forward` reads one :class:`~hwsim.fast.plan.LayerPlan` and returns an ``@njit`` function
whose shift amounts, bounds, dtypes and rounding modes are compile-time constants, so LLVM can
vectorise the row loops in narrow lanes.

Layout: a rows-layout layer's weights are one flat array ``W[i * n_pad + j]`` (inputs-major),
``n_pad = groups * lanes``; padding lanes ``j >= n_out`` hold 0 and, with a zero modulatory signal,
stay 0. With that layout the stochastic-rounding word of update visit (i, j) is ``R[base + i * n_pad
+ j]``: a row of weights and its random words are two contiguous slices. A dots-layout layer stores
``W[j * n_cols + i]`` (output-major) and runs dense dot products.
"""

from __future__ import annotations

import numpy as np

from ..config import EngineConfig
from ..formats import FixedFormat
from . import vnni as vnni_kernels
from .jit import inline, njit
from .plan import ACC_PLAIN, ACC_SAT, ACC_WRAP, ACC_WRAP_U64, LAYOUT_DOTS, LayerPlan
from .scalar import make_activation, make_requant

__all__ = ["make_forward"]


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
