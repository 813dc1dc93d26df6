"""The update arithmetic of one layer: bounds, compute dtypes and exact element kernels, and its dW tables.

:class:`UpdateMath` works out, from a config and a :class:`~hwsim.fast.plan.LayerPlan`, the ``@inline``
pieces the update kernels (:mod:`hwsim.fast.update`) and the event schedule's write counter
(:mod:`hwsim.fast.events`) are made of; :func:`ternary_table` tabulates a ternary update's dW by
input value. Every piece computes exactly what :func:`hwsim.formats.shift_round` and
:func:`hwsim.formats.apply_overflow` compute on Python integers.
"""

from __future__ import annotations

import numpy as np

from ..config import EngineConfig, UpdateRule
from ..formats import Overflow, Rounding, apply_overflow, shift_round
from .jit import inline
from .plan import LAYOUT_ROWS, LayerPlan, magnitude, signed_dtype
from .scalar import make_round, make_wrap

__all__ = ["UpdateMath", "ternary_table", "table_offset"]


class UpdateMath:
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

        # -- an int64 that is nonzero exactly when dW is (the event schedule's write count) ----
        # Sign rule and drop <= 0: dW = -sign(delta) sign(a) or p * 2**-drop, non-zero with p.
        # Stochastic: dW = ((p >> t) + r) >> u (as elem_p), in a form that cannot overflow;
        # r < 2**u, so p = 0 gives 0 here too. Integers, so a group's lanes OR together.
        if self.sign_rule or drop <= 0:
            @inline
            def dw_flag(p, r):
                return np.int64(p)
        elif self.stoch:
            u_, ts_ = plan.rand_used, min(drop - plan.rand_used, 63)
            mu_ = (1 << u_) - 1

            @inline
            def dw_flag(p, r):
                q = np.int64(p) >> ts_
                return (q >> u_) + (((q & mu_) + np.int64(r)) >> u_)
        else:
            rnd_ = make_round(drop, layer.update_rounding)

            @inline
            def dw_flag(p, r):
                return rnd_(np.int64(p))
        self.dw_flag = dw_flag

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
