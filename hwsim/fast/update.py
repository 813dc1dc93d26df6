"""The weight update of one layer as a numba kernel, specialised like :mod:`hwsim.fast.forward`.

The update of a visit (i, j) is ``W = ovf(W + dW)`` with ``dW = shift_round(-delta_j * a_i,
drop, rounding, word)`` (shift rule) or ``-sign(delta_j) * sign(a_i)`` (sign rule). Every path
below computes exactly that; they differ in which visits they skip (zero inputs, zero deltas:
both give dW = 0) and in how they keep LLVM's vector lanes narrow (8/16 bits).
"""

from __future__ import annotations

import numpy as np

from ..config import EngineConfig, UpdateRule
from ..formats import Overflow, Rounding, apply_overflow, shift_round
from ..lfsr import word_period
from .jit import inline, njit
from .plan import LAYOUT_ROWS, LayerPlan, magnitude, signed_dtype
from .row_simd import STOCH_LANES, make_row_stoch, make_rows_add, row_vector_lanes
from .scalar import make_round, make_wrap

__all__ = ["make_update", "ternary_table", "table_offset", "rows_simd_applies", "stoch_simd_applies"]


class _UpdateMath:
    """The update arithmetic of one layer: bounds, compute dtype and the exact element kernels.

    ``p`` below is ``-delta * a``; dW = shift_round(p, drop, rounding, r) (shift rule) or
    -sign(delta) * sign(a) (sign rule); the new weight is ovf(w + dW). A zero delta or a zero
    input gives dW = 0 in every rule (the stochastic addend is < 2**drop), so rows of zero
    inputs, rows of zero deltas and padding lanes can be skipped.
    """

    def __init__(self, cfg: EngineConfig, plan: LayerPlan):
        layer = cfg.layers[plan.k]
        wfmt = layer.weight
        WT = plan.w_dtype
        wlo, whi = wfmt.min_raw, wfmt.max_raw
        w_mag = magnitude(wlo, whi)
        sat = wfmt.overflow is Overflow.SAT
        in_fmt = cfg.in_format(plan.k)
        a_mag = max(magnitude(in_fmt.min_raw, in_fmt.max_raw), plan.bias_one)
        ternary = cfg.delta_is_ternary(plan.k)
        d_mag = 1 if ternary else magnitude(layer.error.min_raw, layer.error.max_raw)
        P = a_mag * d_mag  # |delta * a| < 2**63 for formats of <= 32 bits
        wrap_w = make_wrap(wfmt)
        narrow_wrap = not sat and wfmt.width == 8 * np.dtype(WT).itemsize  # the store truncates
        span = whi - wlo + 1  # |dW| >= span saturates like any larger |dW|
        self.sign_rule = layer.update_rule is UpdateRule.SIGN
        self.ternary = ternary
        self.stoch = plan.rand_used > 0
        drop = cfg.update_drop_bits(plan.k)

        dmin, dmax = int(np.iinfo(WT).min), int(np.iinfo(WT).max)
        exact = wlo == dmin and whi == dmax

        def make_add(dw_mag: int):
            """add(w, dw) -> ovf(w + dw) for |dw| <= dw_mag, in a form LLVM keeps narrow."""
            if not sat:
                @inline
                def add(w, dw):
                    v = np.int64(w) + np.int64(dw)
                    return WT(v) if narrow_wrap else WT(wrap_w(v))  # truncation: narrow lanes
            elif dw_mag <= dmax:
                # A saturating add in the storage type (the pattern LLVM turns into
                # vpaddsb/vpaddsw), then the format's bounds on a narrow value. Exact since
                # |dw| fits the storage type; a clamp of the wide sum would run in 64-bit lanes.
                @inline
                def add(w, dw):
                    v = WT(min(max(np.int64(w) + np.int64(WT(dw)), dmin), dmax))
                    if exact:
                        return v
                    return WT(min(max(v, wlo), whi))
            else:
                @inline
                def add(w, dw):
                    return WT(min(max(np.int64(w) + np.int64(dw), wlo), whi))
            return add

        # -- the exact dW of one p, reduced to a small equivalent (per-row scalars) ------------
        if self.sign_rule:
            dw_exact = None
        elif drop > 0 and not self.stoch:
            dw_exact = make_round(drop, layer.update_rounding)  # overflow-free for any int64
        elif drop <= 0:
            m = -drop
            if sat:
                mm = min(m, 40)
                C = (span >> mm) + 1   # |p| >= C gives |dW| >= span

                @inline
                def dw_exact(p):
                    return min(max(p, -C), C) << mm
            elif m >= wfmt.width:
                @inline
                def dw_exact(p):
                    return p & 0
            else:
                @inline
                def dw_exact(p):  # modulo 2**64 (unsigned shl), then modulo 2**width
                    return wrap_w(np.int64(np.uint64(p) << m))
        else:
            dw_exact = None
        if dw_exact is not None:
            @inline
            def dw_small(p):
                v = dw_exact(np.int64(p))
                if sat:
                    return min(max(v, -span), span)
                return wrap_w(v)
            self.dw_small = dw_small
        # |dW| before and after dw_small's reduction (which clamps to +-span or wraps)
        if self.sign_rule:
            dw_true = 1
        elif drop > 0:
            dw_true = (P >> min(drop, 63)) + 1
        else:
            dw_true = P << -drop
        self.dw_small_bound = min(dw_true, span) if sat else w_mag + 1
        self.dw_true = dw_true
        self.make_add = make_add

        # -- per element, p given --------------------------------------------------------------
        if self.sign_rule:
            CT = signed_dtype(max(a_mag, w_mag + 1))

            add = make_add(1)

            @inline
            def elem_sign(w, sd, a):
                sa = np.int64(a > 0) - np.int64(a < 0)
                return add(w, CT(-(sd * sa)))
            self.elem_sign = elem_sign
            self.CT = CT
            return
        if self.stoch:
            u = plan.rand_used
            t = drop - u
            ts = min(t, 63)
            mu = (1 << u) - 1
            dw_mag = (P >> drop) + 1
            bound = max(P, (P >> t) + (1 << u), w_mag + dw_mag)
            CT = signed_dtype(bound) if bound < 2**62 else None
            add = make_add(dw_true)
            if CT is not None:
                @inline
                def elem_p(w, p, r):
                    if ts:
                        p = CT(p >> ts)
                    # (p + (r << t)) >> drop == ((p >> t) + r) >> u
                    return add(w, CT(CT(p + CT(r)) >> u))
            else:
                CT = np.int64

                @inline
                def elem_p(w, p, r):
                    q = p >> ts
                    return add(w, (q >> u) + (((q & mu) + np.int64(r)) >> u))
            self.elem_p, self.CT = elem_p, CT
            return
        if drop > 0:
            dw_mag = (P >> drop) + 1
            if layer.update_rounding is Rounding.RND and drop < 62 and P + (1 << drop) < 2**62:
                h = 1 << (drop - 1)

                @inline
                def rnd(v):
                    return (v + h) >> drop
                bound = P + h
            else:
                rnd = dw_exact
                bound = P if layer.update_rounding is Rounding.TRN or drop >= 64 else max(P, 1 << drop)
            CT = signed_dtype(max(bound, w_mag + dw_mag)) or np.int64
            add = make_add(dw_true)

            @inline
            def elem_p(w, p, r):
                return add(w, CT(rnd(p)))
        else:
            m = -drop
            CT = signed_dtype((P << m) + w_mag)
            if CT is not None:
                add = make_add(dw_true)

                @inline
                def elem_p(w, p, r):
                    return add(w, CT(p << m))
            else:
                CT = np.int64
                add = make_add(self.dw_small_bound)

                @inline
                def elem_p(w, p, r):
                    return add(w, dw_small(p))
        self.elem_p, self.CT = elem_p, CT


def table_offset(cfg: EngineConfig, plan: LayerPlan) -> int:
    """Input value of entry 0 of :func:`ternary_table` (the bias input counts as a value)."""
    in_fmt = cfg.in_format(plan.k)
    return min(in_fmt.min_raw, plan.bias_one)


def ternary_table(cfg: EngineConfig, plan: LayerPlan) -> np.ndarray | None:
    """Per input value a: what an update visit of delta = +1 (row 0) and -1 (row 1) needs.

    Only for rows-layout layers with a ternary delta (hidden layers, sign error signal) and
    inputs of at most 17 bits. Non-stochastic: dW itself, from the reference primitive
    :func:`hwsim.formats.shift_round` (or -sign(delta) sign(a)), reduced to an equivalent small
    value (clamped to +-(max - min + 1) for saturating weights, wrapped for wrapping ones).
    Stochastic: ``(-delta * a) >> t`` with ``t = drop - rand_used`` (the word adds the rest).
    """
    layer = cfg.layers[plan.k]
    ternary = cfg.delta_is_ternary(plan.k)
    in_fmt = cfg.in_format(plan.k)
    lo = table_offset(cfg, plan)
    hi = max(in_fmt.max_raw, plan.bias_one)
    if plan.layout != LAYOUT_ROWS or not ternary or hi - lo >= 1 << 17 or plan.update_noop:
        return None
    wfmt = layer.weight
    span = wfmt.max_raw - wfmt.min_raw + 1
    drop = cfg.update_drop_bits(plan.k)
    rows = []
    for d in (1, -1):
        row = []
        for a in range(lo, hi + 1):
            if plan.rand_used:
                row.append((-d * a) >> (drop - plan.rand_used))
                continue
            if layer.update_rule is UpdateRule.SIGN:
                dw = -d * ((a > 0) - (a < 0))
            else:
                dw = shift_round(-d * a, drop, layer.update_rounding)
            if wfmt.overflow is Overflow.SAT:
                dw = min(max(dw, -span), span)
            else:
                dw = apply_overflow(dw, wfmt.with_(overflow=Overflow.WRAP))
            row.append(dw)
        rows.append(row)
    mag = max(max(abs(v) for v in r) for r in rows)
    if plan.rand_used:
        mag += 1 << plan.rand_used  # q + r must fit too
    if mag > np.iinfo(np.int32).max:
        return None
    dt = plan.w_dtype if not plan.rand_used and mag <= np.iinfo(plan.w_dtype).max else signed_dtype(mag)
    return np.array(rows, dtype=dt)


def rows_simd_applies(plan: LayerPlan, table: np.ndarray | None) -> bool:
    """Whether a layer's full-row ternary update runs in explicit vectors (:mod:`hwsim.fast.row_simd`).

    Non-stochastic ternary tables only, whose dW has the weights' storage type (int8/int16), and
    padded lanes a multiple of the vector length.
    """
    vl = row_vector_lanes(plan.w_dtype)
    return bool(plan.simd_rows and table is not None and not plan.rand_used and vl
                and table.dtype == np.dtype(plan.w_dtype) and plan.n_pad % vl == 0)


def stoch_simd_applies(plan: LayerPlan, table: np.ndarray | None) -> bool:
    """Whether a layer's full-row stochastic ternary update runs in explicit vectors.

    int16 tables and words (so ``q + r`` fits int16 lanes), int8/int16 weights, padded lanes a
    multiple of :data:`hwsim.fast.row_simd.STOCH_LANES`.
    """
    return bool(plan.simd_rows and table is not None and plan.rand_used and plan.rand_used <= 15
                and table.dtype == np.int16 and row_vector_lanes(plan.w_dtype)
                and plan.n_pad % STOCH_LANES == 0)


def make_update(cfg: EngineConfig, plan: LayerPlan):
    """update(W, dl, a, nz, n, R, base): one layer's whole update.

    Rows layout: rows of nonzero inputs only (nz from the forward pass), all lanes of a row at
    once with words ``R[r0 : r0 + n_pad]``, ``r0 = (base + i * n_pad) mod period`` (the table is
    one word period plus n_pad words: small enough to stay in cache). Dots layout: rows of nonzero deltas
    only, all inputs of a row at once with words ``R[c, m0 : m0 + n_cols]`` of the transposed
    table (``R[c, m] = word[m * n_pad + c]``, ``base + j = m0 * n_pad + c``).
    """
    um = _UpdateMath(cfg, plan)
    CT = um.CT
    PERIOD = word_period(cfg.rng_lfsr_bits)

    @inline
    def next_row_word(r0, prev, i):
        """(base + i * n_pad) mod period from its value r0 at row prev <= i (rows ascend)."""
        r0 += (i - prev) * NP
        while r0 >= PERIOD:
            r0 -= PERIOD
        return r0

    N_IN, NP, N_OUT, NC, ONE = plan.n_in, plan.n_pad, plan.n_out, plan.n_cols, plan.bias_one
    STOCH, SIGN = um.stoch, um.sign_rule
    SPARSE_LANES = plan.sparse_lanes

    if plan.layout == LAYOUT_ROWS:
        table = ternary_table(cfg, plan)
        if table is not None:
            # delta is -1, 0 or +1: a row's dW (or, stochastic, its p >> t) takes two values,
            # read from a table by input value. Being opaque to LLVM, they keep the lane
            # loop generic and narrow (8/16-bit lanes).
            LO = table_offset(cfg, plan)
            TT = table.dtype.type
            if not STOCH:
                add = um.make_add(int(np.abs(table).max(initial=0)))
                ROW_SPARSE_LANES = 0 if SPARSE_LANES <= 1 else 8 * SPARSE_LANES  # 1: always lane by lane

                # Full rows in explicit 512-bit vectors where the table's dW has the weights'
                # storage type (hwsim.fast.row_simd); otherwise numba's loop of the same add.
                ROW_SIMD = rows_simd_applies(plan, table)
                wfmt = cfg.layers[plan.k].weight
                rows_add = make_rows_add(plan.w_dtype if ROW_SIMD else np.int8, wfmt.overflow is Overflow.SAT,
                                         wfmt.min_raw, wfmt.max_raw, wfmt.width)

                @inline
                def add_rows(W, nz, t0, t1, dwv):
                    """dwv onto the rows nz[t0:t1], last first (still in L1 after the forward)."""
                    if ROW_SIMD:
                        rows_add(W, nz, t0, t1, NP, dwv)
                        return
                    for t in range(t1 - 1, t0 - 1, -1):
                        Wr = W[nz[t] * NP:(nz[t] + 1) * NP]
                        for j in range(NP):
                            Wr[j] = add(Wr[j], dwv[j])

                @njit
                def update(W, dl, a, nz, n, R, T, base, nact):
                    # Full rows cost one narrow add per lane (the dW vector below), so lane by
                    # lane pays only for ~8x fewer active lanes than the stochastic path needs
                    # (784-500-10, sign rule: 10.5 vs 11.9 us per sample).
                    if nact * ROW_SPARSE_LANES <= NP:   # very few active lanes: visit only those
                        for j in range(N_OUT):
                            x = dl[j]
                            if x == 0:
                                continue
                            s = 0 if x > 0 else 1
                            for t in range(n + (ONE != 0)):
                                i = nz[t]
                                k = (np.int64(a[i]) if i < N_IN else np.int64(ONE)) - LO
                                W[i * NP + j] = add(W[i * NP + j], T[s, k])
                        return
                    # A row's dW vector depends on its input only through (dp, dn), which
                    # often repeats from row to row (sign rule: one pair per input sign;
                    # truncation: -1/0 for every positive input): each run of rows with one
                    # pair gets the vector built once, then one narrow saturating add per row.
                    # Rows go last first (the order of rows is free: each weight gets one add).
                    dwv = np.zeros(NP, dtype=TT)
                    t = n + (ONE != 0)              # nz[n] is the bias column when it has an effect
                    while t > 0:
                        i = nz[t - 1]
                        k = (np.int64(a[i]) if i < N_IN else np.int64(ONE)) - LO
                        dp, dn = T[0, k], T[1, k]
                        t1 = t
                        t -= 1
                        while t > 0:                # extend the run down while the pair repeats
                            i = nz[t - 1]
                            k = (np.int64(a[i]) if i < N_IN else np.int64(ONE)) - LO
                            if T[0, k] != dp or T[1, k] != dn:
                                break
                            t -= 1
                        if dp == 0 and dn == 0:
                            continue               # dW = 0 in every lane
                        for j in range(NP):
                            x = dl[j]   # branch-free select in narrow lanes: dp, dn or 0
                            dwv[j] = TT(TT(-np.int64(x > 0)) & dp) | TT(TT(-np.int64(x < 0)) & dn)
                        add_rows(W, nz, t, t1, dwv)
                return update

            u = plan.rand_used
            add = um.make_add(um.dw_true)
            STOCH_SIMD = stoch_simd_applies(plan, table)
            wfmt = cfg.layers[plan.k].weight
            row_stoch = make_row_stoch(plan.w_dtype if STOCH_SIMD else np.int8, wfmt.overflow is Overflow.SAT,
                                       wfmt.min_raw, wfmt.max_raw, wfmt.width, u)

            @njit
            def update(W, dl, a, nz, n, R, T, base, nact):
                if nact * SPARSE_LANES <= NP:   # few active lanes: visit only those
                    for j in range(N_OUT):
                        x = dl[j]
                        if x == 0:
                            continue
                        s = 0 if x > 0 else 1
                        r0, prev = base, 0
                        for t in range(n + (ONE != 0)):
                            i = nz[t]
                            r0 = next_row_word(r0, prev, i)
                            prev = i
                            k = (np.int64(a[i]) if i < N_IN else np.int64(ONE)) - LO
                            q = T[s, k]
                            W[i * NP + j] = add(W[i * NP + j], TT(TT(q + TT(R[r0 + j])) >> u))
                    return
                if STOCH_SIMD:
                    # Per lane, all-ones where delta is +1 (mp) or -1 (mn): the select of q in
                    # explicit vectors is two ANDs and an OR (hwsim.fast.row_simd.make_row_stoch).
                    mp = np.empty(NP, dtype=np.int16)
                    mn = np.empty(NP, dtype=np.int16)
                    for j in range(NP):
                        mp[j] = -np.int16(dl[j] > 0)
                        mn[j] = -np.int16(dl[j] < 0)
                r0, prev = base, 0
                for t in range(n + (ONE != 0)):
                    i = nz[t]
                    r0 = next_row_word(r0, prev, i)
                    prev = i
                    k = (np.int64(a[i]) if i < N_IN else np.int64(ONE)) - LO
                    qp, qn = T[0, k], T[1, k]
                    if STOCH_SIMD:
                        row_stoch(W, i * NP, R, r0, mp, mn, qp, qn)
                        continue
                    Wr = W[i * NP:(i + 1) * NP]
                    Rr = R[r0:r0 + NP]
                    for j in range(NP):
                        x = dl[j]
                        q = TT(TT(-np.int64(x > 0)) & qp) | TT(TT(-np.int64(x < 0)) & qn)
                        # (p + (r << t)) >> drop == ((p >> t) + r) >> u; 0 when delta is 0
                        Wr[j] = add(Wr[j], TT(TT(q + TT(Rr[j])) >> u))
            return update

        if SIGN:
            elem_sign = um.elem_sign

            @njit
            def update(W, dl, a, nz, n, R, T, base, nact):
                for t in range(n + (ONE != 0)):
                    i = nz[t]
                    av = CT(a[i]) if i < N_IN else CT(ONE)
                    Wr = W[i * NP:(i + 1) * NP]
                    for j in range(NP):
                        x = dl[j]
                        Wr[j] = elem_sign(Wr[j], np.int64(x > 0) - np.int64(x < 0), av)
            return update

        elem_p = um.elem_p

        @njit
        def update(W, dl, a, nz, n, R, T, base, nact):
            r0, prev = base, 0
            for t in range(n + (ONE != 0)):
                i = nz[t]
                av = CT(a[i]) if i < N_IN else CT(ONE)
                Wr = W[i * NP:(i + 1) * NP]
                if STOCH:
                    r0 = next_row_word(r0, prev, i)
                    prev = i
                    Rr = R[r0:r0 + NP]
                    for j in range(NP):
                        Wr[j] = elem_p(Wr[j], CT(-(CT(dl[j]) * av)), Rr[j])
                else:
                    for j in range(NP):
                        Wr[j] = elem_p(Wr[j], CT(-(CT(dl[j]) * av)), 0)
        return update

    if SIGN:
        elem_sign = um.elem_sign

        @njit
        def update(W, dl, a, nz, n, R, T, base, nact):
            for j in range(N_OUT):
                dj = dl[j]
                if dj == 0:
                    continue
                sd = np.int64(dj > 0) - np.int64(dj < 0)
                Wj = W[j * NC:(j + 1) * NC]
                for i in range(N_IN):
                    Wj[i] = elem_sign(Wj[i], sd, CT(a[i]))
                if ONE != 0:
                    Wj[N_IN] = elem_sign(Wj[N_IN], sd, CT(ONE))
        return update

    elem_p = um.elem_p

    @njit
    def update(W, dl, a, nz, n, R, T, base, nact):
        for j in range(N_OUT):
            dj = dl[j]
            if dj == 0:
                continue
            ndj = CT(-CT(dj))
            Wj = W[j * NC:(j + 1) * NC]
            if STOCH:
                q = base + j
                c = q % NP
                m0 = q // NP
                Rj = R[c, m0:m0 + NC]
                for i in range(N_IN):
                    Wj[i] = elem_p(Wj[i], CT(ndj * CT(a[i])), Rj[i])
                if ONE != 0:
                    Wj[N_IN] = elem_p(Wj[N_IN], CT(ndj * CT(ONE)), Rj[N_IN])
            else:
                for i in range(N_IN):
                    Wj[i] = elem_p(Wj[i], CT(ndj * CT(a[i])), 0)
                if ONE != 0:
                    Wj[N_IN] = elem_p(Wj[N_IN], CT(ndj * CT(ONE)), 0)
    return update
