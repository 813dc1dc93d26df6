"""The weight update of one layer as a numba kernel, specialised like :mod:`hwsim.fast.forward`.

The update of a visit (i, j) is ``W = ovf(W + dW)`` with ``dW = shift_round(-delta_j * a_i,
drop, rounding, word)`` (shift rule) or ``-sign(delta_j) * sign(a_i)`` (sign rule). Every path
below computes exactly that; they differ in which visits they skip (zero inputs, zero deltas:
both give dW = 0) and in how they keep LLVM's vector lanes narrow (8/16 bits). The schedule
(docs/engine.md §11) changes only which word a visit reads (:func:`make_update`); the element
arithmetic is :class:`hwsim.fast.update_math.UpdateMath`'s.
"""

from __future__ import annotations

import numpy as np

from ..config import EngineConfig
from ..formats import Overflow
from ..lfsr import word_period
from .jit import inline, njit
from .plan import LAYOUT_ROWS, LayerPlan
from .row_simd import (EXPAND_LANES, STOCH_LANES, chunk_shifts, make_chunk_stoch, make_expand_words,
                       make_row_stoch, make_rows_add, row_vector_lanes)
from .update_math import UpdateMath, table_offset, ternary_table

__all__ = ["make_update", "ternary_table", "table_offset", "rows_simd_applies", "stoch_simd_applies",
           "event_buffer_shape", "dots_stride_layout", "MAX_STRIDE_WORDS"]


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


def event_buffer_shape(plan: LayerPlan) -> tuple[int, int]:
    """Shape of the int64 scratch an event layer's update fills once per sample (``buf``).

    Rows layout: per 64-lane chunk and word offset, the offset and the lanes' mask (row SIMD), or
    per run of active groups its first lane, word offset and lanes. Dots layout: per run of
    nonzero inputs its first column, length and first event, or the masks of nonzero inputs and
    a row's words spread over its columns.
    """
    if plan.layout == LAYOUT_ROWS:
        return 3, max(plan.groups, plan.n_pad // STOCH_LANES * chunk_shifts(plan.lanes))
    return 3, max(plan.n_in + 1, -(-plan.n_in // EXPAND_LANES) * EXPAND_LANES)


MAX_STRIDE_WORDS = 1 << 22
"""Most words the event tables of one dots-layout layer may hold (:func:`dots_stride_layout`)."""


def dots_stride_layout(plan: LayerPlan, period: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Where the event schedule's word tables of a dots-layout layer lie in its flat table, or None.

    One table per number a of active groups: stride ``S = a * lanes``, ``T_S[c, m] = word[(m * S +
    c) mod period]`` for ``c < S``, ``m < period // S + n_cols + 2``, row-major, one after the
    other; returns their offsets and row lengths, indexed by ``a - 1``. Lane j of the group of rank
    r then reads its words for consecutive events from one row, ``T_S[x0 % S, x0 // S:]`` with
    ``x0 = base + r * lanes + j % lanes < period + S``. None (the update reads word by word
    when some group is inactive) for dense or deterministic layers, and beyond
    :data:`MAX_STRIDE_WORDS`.
    """
    if not plan.event or plan.layout == LAYOUT_ROWS or not plan.rand_used:
        return None
    strides = plan.lanes * np.arange(1, plan.groups + 1, dtype=np.int64)
    lengths = period // strides + plan.n_cols + 2
    sizes = strides * lengths
    if sizes.sum() > MAX_STRIDE_WORDS:
        return None
    return np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64), lengths


def make_update(cfg: EngineConfig, plan: LayerPlan):
    """update(W, dl, a, nz, n, R, T, base, nact, grp, nA, buf): one layer's whole update.

    Visits: the columns ``nz[:n]`` (nonzero inputs, ascending) then the bias column, times the lane
    groups ``grp[:nA]`` (ascending); ``nact`` deltas are nonzero. Visit number v of lane group rank r
    gives lane p word ``base + v * lanes + p``. Dense: every column and group is a visit (``grp`` is
    0..G-1), so the words of input row i start at ``base + i * n_pad``, lane j at offset j. Event:
    row t of the list (its t-th event) starts at ``base + t * S``, ``S = nA * lanes``, and lane
    ``j = g * lanes + p`` of the group of rank r reads offset ``r * lanes + p``: with every group
    active a full row's words are ``R[r0 : r0 + n_pad]`` as in the dense schedule; else lane j of a
    group after z inactive ones reads ``R[r0 + j - z * lanes]``, so a row goes in 64-lane chunks with
    one word offset per run of active groups (row SIMD), or run by run. Skipped visits (zero
    inputs, zero deltas, inactive groups) have dW = 0 whatever their word.

    Rows layout: rows of nonzero inputs only (nz from the forward pass), all lanes of a row at
    once with words ``R[r0 : r0 + n_pad]`` (the table is one word period plus n_pad words: small
    enough to stay in cache). Dots layout: rows of nonzero deltas only, all inputs of a row at
    once with words ``R[c, m0 : m0 + n_cols]`` of the transposed table (``R[c, m] = word[m * n_pad
    + c]``, ``base + j = m0 * n_pad + c``); in the event schedule the inputs of a row go run by
    run of consecutive events. ``buf`` (:func:`event_buffer_shape`) holds what an event update
    works out once per sample; the dense schedule's paths ignore it.
    """
    um = UpdateMath(cfg, plan)
    CT = um.CT
    PERIOD = word_period(cfg.rng_lfsr_bits)
    N_IN, NP, N_OUT, NC, ONE = plan.n_in, plan.n_pad, plan.n_out, plan.n_cols, plan.bias_one
    P, G, EVENT = plan.lanes, plan.groups, plan.event
    STOCH, SIGN = um.stoch, um.sign_rule
    SPARSE_LANES = plan.sparse_lanes

    @inline
    def next_row_word(r0, prev, key, stride):
        """(base + key * stride) mod period from its value r0 at prev <= key (rows ascend)."""
        r0 += (key - prev) * stride
        while r0 >= PERIOD:
            r0 -= PERIOD
        return r0

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
                def update(W, dl, a, nz, n, R, T, base, nact, grp, nA, buf):
                    # No words: both schedules make the same changes. Full rows cost one narrow
                    # add per lane (the dW vector below), so lane by lane pays only for ~8x fewer
                    # active lanes than the stochastic path needs (784-500-10, sign rule: 10.5 vs
                    # 11.9 us per sample).
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
            # event schedule, some group inactive: per-chunk word offsets (hwsim.fast.row_simd)
            CHUNK_SIMD, SHIFTS = EVENT and STOCH_SIMD, chunk_shifts(P)
            chunk_stoch = make_chunk_stoch(plan.w_dtype if CHUNK_SIMD else np.int8, wfmt.overflow is Overflow.SAT,
                                           wfmt.min_raw, wfmt.max_raw, wfmt.width, u, SHIFTS)
            NCH = NP // STOCH_LANES

            @inline
            def chunk_table(grp, nA, O, M):
                """Lane j of a group after z inactive ones reads word r0 + j - z * P: per chunk, the
                offsets (64 c - z P) of its runs of active groups, and from the second on the mask
                of the lanes that read there (unused slots repeat the first offset, mask 0)."""
                for q in range(NCH * SHIFTS):
                    O[q] = (q // SHIFTS) * STOCH_LANES
                    M[q] = 0
                z = r = 0
                for g in range(G):
                    if r == nA or grp[r] != g:
                        z += 1
                        continue
                    r += 1
                    j0, j1 = g * P, (g + 1) * P
                    while j0 < j1:
                        c = j0 // STOCH_LANES
                        e = min(j1, (c + 1) * STOCH_LANES)
                        ones = np.uint64(0xFFFFFFFFFFFFFFFF) >> np.uint64(STOCH_LANES - (e - j0))
                        bits = np.int64(ones << np.uint64(j0 - c * STOCH_LANES))
                        off = c * STOCH_LANES - z * P
                        q = c * SHIFTS
                        while M[q] != 0 and O[q] != off:
                            q += 1
                        if M[q] == 0:           # a new slot: the slots after it start there too
                            for q2 in range(q, (c + 1) * SHIFTS):
                                O[q2] = off
                        M[q] |= bits
                        j0 = e

            @njit
            def update(W, dl, a, nz, n, R, T, base, nact, grp, nA, buf):
                stride = nA * P if EVENT else NP
                if nact * SPARSE_LANES <= NP:   # few active lanes: visit only those
                    for r in range(nA):
                        g = grp[r]
                        for p in range(min(P, N_OUT - g * P)):
                            j = g * P + p
                            x = dl[j]
                            if x == 0:
                                continue
                            s = 0 if x > 0 else 1
                            off = r * P + p      # dense: j
                            r0, prev = base, 0
                            for t in range(n + (ONE != 0)):
                                i = nz[t]
                                key = t if EVENT else i
                                r0 = next_row_word(r0, prev, key, stride)
                                prev = key
                                k = (np.int64(a[i]) if i < N_IN else np.int64(ONE)) - LO
                                q = T[s, k]
                                W[i * NP + j] = add(W[i * NP + j], TT(TT(q + TT(R[r0 + off])) >> u))
                    return
                groups = EVENT and nA < G
                if STOCH_SIMD:
                    # Per lane, all-ones where delta is +1 (mp) or -1 (mn): the select of q in
                    # explicit vectors is two ANDs and an OR (hwsim.fast.row_simd.make_row_stoch).
                    mp = np.empty(NP, dtype=np.int16)
                    mn = np.empty(NP, dtype=np.int16)
                    for j in range(NP):
                        mp[j] = -np.int16(dl[j] > 0)
                        mn[j] = -np.int16(dl[j] < 0)
                if groups:
                    # Some group inactive: active groups keep their words consecutive, inactive
                    # ones are skipped (their lanes would change nothing). In vectors: per chunk
                    # of a row, loads at the offsets chunk_table lists, blended by its masks; else
                    # run by run of consecutive active groups (buf: first lane, word offset, lanes).
                    runs, r = 0, 0
                    if CHUNK_SIMD:
                        chunk_table(grp, nA, buf[0], buf[1])
                    else:
                        while r < nA:
                            r1 = r + 1
                            while r1 < nA and grp[r1] == grp[r1 - 1] + 1:
                                r1 += 1
                            buf[0, runs], buf[1, runs], buf[2, runs] = grp[r] * P, r * P, (r1 - r) * P
                            runs += 1
                            r = r1
                    r0 = base
                    O, M = buf[0], buf[1]       # views made once, not per row
                    for t in range(n + (ONE != 0)):
                        i = nz[t]
                        k = (np.int64(a[i]) if i < N_IN else np.int64(ONE)) - LO
                        qp, qn = T[0, k], T[1, k]
                        if CHUNK_SIMD:
                            chunk_stoch(W, i * NP, R, r0, mp, mn, O, M, qp, qn)
                        for h in range(runs):
                            lo, lanes = buf[0, h], buf[2, h]
                            wo, ro = i * NP + lo, r0 + buf[1, h]
                            for p in range(lanes):
                                x = dl[lo + p]
                                q = TT(TT(-np.int64(x > 0)) & qp) | TT(TT(-np.int64(x < 0)) & qn)
                                W[wo + p] = add(W[wo + p], TT(TT(q + TT(R[ro + p])) >> u))
                        r0 = next_row_word(r0, 0, 1, stride)
                    return
                r0, prev = base, 0
                for t in range(n + (ONE != 0)):
                    i = nz[t]
                    key = t if EVENT else i     # event: every group active, stride n_pad
                    r0 = next_row_word(r0, prev, key, NP)
                    prev = key
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
            def update(W, dl, a, nz, n, R, T, base, nact, grp, nA, buf):
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
        def update(W, dl, a, nz, n, R, T, base, nact, grp, nA, buf):
            stride = nA * P if EVENT else NP
            segments = EVENT and STOCH and nA < G   # as in the ternary update above
            r0, prev = base, 0
            for t in range(n + (ONE != 0)):
                i = nz[t]
                av = CT(a[i]) if i < N_IN else CT(ONE)
                Wr = W[i * NP:(i + 1) * NP]
                if segments:
                    r0 = next_row_word(r0, prev, t, stride)
                    prev = t
                    for r in range(nA):
                        lo, ro = grp[r] * P, r0 + r * P
                        for p in range(P):
                            Wr[lo + p] = elem_p(Wr[lo + p], CT(-(CT(dl[lo + p]) * av)), R[ro + p])
                elif STOCH:
                    key = t if EVENT else i
                    r0 = next_row_word(r0, prev, key, stride)
                    prev = key
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
        def update(W, dl, a, nz, n, R, T, base, nact, grp, nA, buf):
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
    if EVENT and STOCH:
        layout = dots_stride_layout(plan, PERIOD)
        if layout is not None:
            return _make_dots_strides(plan, elem_p, CT, *layout, np.int16 if plan.rand_used <= 15 else np.int32)
        return _make_dots_event(plan, elem_p, CT)

    @njit
    def update(W, dl, a, nz, n, R, T, base, nact, grp, nA, buf):
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


def _make_dots_event(plan: LayerPlan, elem_p, CT):
    """The stochastic update of a dots-layout layer in the event schedule (``n`` nonzero inputs).

    Lane j = g * lanes + p of the group of rank r reads, at its t-th event, word ``x = x0 + t * S``
    (``x0 = base + r * lanes + p``, ``S = nA * lanes``), which is ``R[x % n_pad, x // n_pad]``.
    With every group active (S = n_pad) consecutive events read consecutive words of one table
    row, so each run of consecutive nonzero inputs (found in ``a`` once per sample and listed in
    ``runs``: first column, length, first event) is one contiguous loop, as in the dense
    schedule; otherwise every event reads its own word. ``nz`` is not read. (Used where the
    tables of :func:`_make_dots_strides` would be too big.)
    """
    N_IN, NP, N_OUT, NC, ONE = plan.n_in, plan.n_pad, plan.n_out, plan.n_cols, plan.bias_one
    P = plan.lanes
    list_runs = _make_list_runs(plan)

    @njit
    def update(W, dl, a, nz, n, R, T, base, nact, grp, nA, runs):
        S = nA * P
        full = S == NP
        nr = list_runs(a, n, runs) if full else 0
        for r in range(nA):
            g = grp[r]
            for p in range(min(P, N_OUT - g * P)):
                j = g * P + p
                dj = dl[j]
                if dj == 0:
                    continue
                ndj = CT(-CT(dj))
                Wj = W[j * NC:(j + 1) * NC]
                x0 = base + r * P + p
                if full:
                    Rc = R[x0 % NP]
                    m0 = x0 // NP
                    for q in range(nr):
                        i0, length, t0 = runs[0, q], runs[1, q], runs[2, q]
                        Wq = Wj[i0:i0 + length]
                        aq = a[i0:i0 + length]
                        Rq = Rc[m0 + t0:m0 + t0 + length]
                        for e in range(length):
                            Wq[e] = elem_p(Wq[e], CT(ndj * CT(aq[e])), Rq[e])
                    if ONE != 0:
                        Wj[N_IN] = elem_p(Wj[N_IN], CT(ndj * CT(ONE)), Rc[m0 + n])
                    continue
                c, m = x0 % NP, x0 // NP
                for i in range(N_IN + (ONE != 0)):
                    av = CT(a[i]) if i < N_IN else CT(ONE)
                    if av == 0:
                        continue
                    Wj[i] = elem_p(Wj[i], CT(ndj * av), R[c, m])
                    c += S                  # S <= n_pad: at most one carry into m
                    if c >= NP:
                        c -= NP
                        m += 1
    return update


def _make_list_runs(plan: LayerPlan):
    """list_runs(a, n, runs) -> how many runs of consecutive nonzero inputs ``a`` holds (``n`` in all).

    Run q is listed as ``runs[:, q]`` = (first column, length, first event).
    """
    N_IN = plan.n_in

    @inline
    def list_runs(a, n, runs):
        if n == N_IN:                  # every input an event: one run
            runs[0, 0], runs[1, 0], runs[2, 0] = 0, N_IN, 0
            return 1
        nr = i = t = 0
        while i < N_IN:
            if a[i] == 0:
                i += 1
                continue
            i0 = i
            while i < N_IN and a[i] != 0:
                i += 1
            runs[0, nr], runs[1, nr], runs[2, nr] = i0, i - i0, t
            t += i - i0
            nr += 1
        return nr
    return list_runs


def _make_dots_strides(plan: LayerPlan, elem_p, CT, offsets: np.ndarray, lengths: np.ndarray, dtype):
    """The stochastic update of a dots-layout layer in the event schedule, from per-stride tables.

    ``R`` is the flat table of :func:`dots_stride_layout`: with ``nA`` groups active (stride S),
    lane j of the group of rank r reads its words for events 0, 1, ... at ``R[start:]``, ``start =
    offsets[nA - 1] + (x0 % S) * lengths[nA - 1] + x0 // S``, ``x0 = base + r * lanes + p``. They
    are spread over the row's input columns (``expand_words``: zero inputs get word 0 and change
    nothing), so each row goes in one whole-row loop, as in the dense schedule. ``buf[0]`` holds
    the sample's masks of nonzero inputs, ``buf[1]`` (viewed as words) a row's spread words.
    """
    N_IN, NC, ONE, P = plan.n_in, plan.n_cols, plan.bias_one, plan.lanes
    EL = EXPAND_LANES
    CH = -(-N_IN // EL)
    expand_words = make_expand_words(dtype)
    OFFSETS, LENGTHS = offsets, lengths     # constants of the compiled code

    @njit
    def update(W, dl, a, nz, n, R, T, base, nact, grp, nA, buf):
        S = nA * P
        first, length = OFFSETS[nA - 1], LENGTHS[nA - 1]
        masks = buf[0]
        for ch in range(CH if n < N_IN else 0):   # bit b of chunk ch: input EL * ch + b is an event
            bits = np.int64(0)
            for b in range(min(EL, N_IN - ch * EL)):
                bits |= np.int64(a[ch * EL + b] != 0) << b
            masks[ch] = bits
        words = buf[1].view(R.dtype)   # scratch: the row's words by input column
        c, m = base % S, base // S      # x0 = base + r * P + p = m * S + c, lane after lane
        for r in range(nA):
            g = grp[r]
            for p in range(P):
                j = g * P + p
                dj = dl[j]                  # padding lanes hold 0
                start = first + c * length + m   # the words of events 0, 1, ...
                c += 1
                if c == S:
                    c, m = 0, m + 1
                if dj == 0:
                    continue
                ndj = CT(-CT(dj))
                Wj = W[j * NC:(j + 1) * NC]
                if n == N_IN:               # every input an event: the words are in place
                    Rj = R[start:start + N_IN]
                    for i in range(N_IN):
                        Wj[i] = elem_p(Wj[i], CT(ndj * CT(a[i])), Rj[i])
                else:
                    expand_words(words, R, start, masks, CH)
                    for i in range(N_IN):
                        Wj[i] = elem_p(Wj[i], CT(ndj * CT(a[i])), words[i])
                if ONE != 0:
                    Wj[N_IN] = elem_p(Wj[N_IN], CT(ndj * CT(ONE)), R[start + n])
    return update
