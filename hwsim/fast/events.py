"""The event schedule's bookkeeping (docs/engine.md §11) as numba kernels: events, active groups, writes.

Events of layer k are the nonzero entries of its extended input (inputs ascending, then the bias
column when its input is nonzero); the update visits every (event, active lane group) pair, a
group being active when one of its lanes has a nonzero modulatory signal; a visit writes when
one of its lanes' weight changes is nonzero. These kernels count that work (and, in both
schedules, the weights that change) exactly as :meth:`hwsim.reference.ReferenceEngine._update_layer`
does; the update kernels (:mod:`hwsim.fast.update`) do the work itself.
"""

from __future__ import annotations

import numpy as np

from ..config import EngineConfig
from ..lfsr import word_period
from .jit import inline, njit
from .plan import LAYOUT_DOTS, LayerPlan
from .update import dots_stride_layout
from .update_math import UpdateMath

__all__ = ["make_list_events", "make_count_events", "make_active_groups", "make_count_changes"]


def make_list_events(plan: LayerPlan):
    """list_events(a, nz) -> n: the nonzero inputs in nz[:n], then the bias column in nz[n].

    Rows-layout forward passes list them on the way; dots-layout ones (dense dot products) do not.
    """
    N_IN = plan.n_in

    @njit
    def list_events(a, nz):
        n = 0
        for i in range(N_IN):        # branch-free, as the rows forward pass lists them
            nz[n] = i
            n += a[i] != 0
        nz[n] = N_IN
        return n
    return list_events


def make_count_events(plan: LayerPlan):
    """count_events(a) -> n: how many inputs are nonzero (the events besides the bias)."""
    N_IN = plan.n_in

    @njit
    def count_events(a):
        n = 0
        for i in range(N_IN):
            n += a[i] != 0
        return n
    return count_events


def make_active_groups(plan: LayerPlan):
    """active_groups(dl, grp) -> nA: the lane groups with a nonzero delta, ascending, in grp[:nA]."""
    P, G = plan.lanes, plan.groups
    group_bytes = P * np.dtype(plan.dl_dtype).itemsize
    if group_bytes % 8 == 0:
        WORDS = group_bytes // 8     # a group's deltas as whole 64-bit words: OR them

        @njit
        def active_groups(dl, grp):
            words = dl.view(np.uint64)
            nA = 0
            for g in range(G):
                bits = words[g * WORDS]
                for w in range(1, WORDS):
                    bits |= words[g * WORDS + w]
                grp[nA] = g
                nA += bits != 0
            return nA
        return active_groups

    @njit
    def active_groups(dl, grp):
        nA = 0
        for g in range(G):           # dl has n_pad entries; padding lanes stay 0
            bits = np.int64(0)
            for p in range(P):       # an OR over the group: nonzero when one lane is
                bits |= np.int64(dl[g * P + p])
            grp[nA] = g
            nA += bits != 0
        return nA
    return active_groups


def make_count_changes(cfg: EngineConfig, plan: LayerPlan):
    """count_changes(dl, a, nz, n, R, base, grp, nA) -> (visits that write, weights that change).

    The columns with a nonzero input are ``nz[:n]``, then the bias column (when its input is
    nonzero); other columns change no weight. ``base`` is the layer's first word (mod the word
    period), R its table of stochastic words (:class:`hwsim.fast.compiled.CompiledPass`). Event
    schedule: the active groups are ``grp[:nA]``, the t-th event's words start at ``base + t * nA *
    lanes``; a visit writes when one of its lanes changes. Dense: ``grp`` lists every group, column
    i's words start at ``base + i * n_pad`` and every visit writes (the caller knows how many).
    dW != 0 is decided by :attr:`UpdateMath.dw_flag` (0 for a zero delta); it does not depend on
    the weight, so the count can be taken before or after the update.
    """
    um = UpdateMath(cfg, plan)
    dw_flag, STOCH = um.dw_flag, um.stoch
    N_IN, NP, ONE, P, EVENT = plan.n_in, plan.n_pad, plan.bias_one, plan.lanes, plan.event
    PERIOD = word_period(cfg.rng_lfsr_bits)
    DOTS = plan.layout == LAYOUT_DOTS
    strides = dots_stride_layout(plan, PERIOD)
    STRIDES = strides is not None
    FLAT, FLAT_LEN = (int(strides[0][-1]), int(strides[1][-1])) if STRIDES else (0, 0)

    @inline
    def group_changes(dl, lo, R, ro, av):
        """Lanes of one group whose dW is nonzero; slices, so LLVM sees unit-stride loads."""
        dg = dl[lo:lo + P]
        count = 0
        if not STOCH:
            for p in range(P):       # branch-free: a zero delta (padding too) gives dW = 0
                count += dw_flag(-np.int64(dg[p]) * av, 0) != 0
        elif STRIDES:
            for p in range(P):   # the stride-n_pad table: word x at [x % n_pad, x // n_pad]
                x = ro + p
                count += dw_flag(-np.int64(dg[p]) * av, R[FLAT + (x % NP) * FLAT_LEN + x // NP]) != 0
        elif DOTS:
            for p in range(P):
                x = ro + p
                count += dw_flag(-np.int64(dg[p]) * av, R[x % NP, x // NP]) != 0  # R[c, m] = word[m * n_pad + c]
        else:
            Rg = R[ro:ro + P]        # one word period plus n_pad words: no wrap inside a row
            for p in range(P):
                count += dw_flag(-np.int64(dg[p]) * av, Rg[p]) != 0
        return count

    @njit
    def count_changes(dl, a, nz, n, R, base, grp, nA):
        stride = nA * P if EVENT else NP
        writes = changes = 0
        for t in range(n + (ONE != 0)):
            i = nz[t]
            av = np.int64(a[i]) if i < N_IN else np.int64(ONE)
            r0 = (base + (t if EVENT else i) * stride) % PERIOD
            for r in range(nA):
                c = group_changes(dl, grp[r] * P, R, r0 + r * P, av)
                writes += c != 0
                changes += c
        return writes, changes
    return count_changes
