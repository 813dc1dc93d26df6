"""Scalar pieces of the kernels (int64 in, int64 out): wrap, saturate, round, requantize, activate.

Each factory closes over its format's constants and returns an ``@inline`` function, which numba
inlines into the row loops that call it (:mod:`hwsim.fast.forward`, :mod:`hwsim.fast.delta`,
:mod:`hwsim.fast.update`), so LLVM vectorises them together.
"""

from __future__ import annotations

import numpy as np

from ..config import Activation
from ..formats import FixedFormat, Overflow, Rounding
from .jit import inline

__all__ = ["make_wrap", "make_overflow", "make_round", "make_requant", "make_activation"]


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
