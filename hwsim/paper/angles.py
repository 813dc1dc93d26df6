"""Alignment angles: how far each rule's hidden-layer signals and updates point from BP's.

For hidden layer k on one mini-batch: the *signal* angle is the angle between the rule's
modulatory signal delta_k (its gradient estimate at z_k) and BP's, per sample, averaged over the
samples where both are non-zero; the *update* angle is between the two weight gradients dW_k
(whole matrix). 0 deg: same direction as BP; below 90 deg: a descent direction.
"""

from __future__ import annotations

import numpy as np

from .algorithms import Backward
from .nets import Cache, Conv, Net
from . import conv

__all__ = ["row_angles", "matrix_angle", "batch_angles"]


def row_angles(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle in degrees between matching rows (samples) of ``a`` and ``b``; NaN where a row is zero."""
    a = a.reshape(len(a), -1).astype(np.float64)
    b = b.reshape(len(b), -1).astype(np.float64)
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    ok = (na > 0) & (nb > 0)
    cos = np.full(len(a), np.nan)
    cos[ok] = np.sum(a[ok] * b[ok], axis=1) / (na[ok] * nb[ok])
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def matrix_angle(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return float("nan")
    return float(np.degrees(np.arccos(np.clip(a @ b / (na * nb), -1.0, 1.0))))


def batch_angles(net: Net, cache: Cache, result: Backward) -> dict[int, tuple[float, float]]:
    """``{hidden layer k: (mean signal angle, update angle)}`` for one batch (needs ``result.reference``)."""
    out = {}
    for k in net.hidden():
        ref, est = result.reference[k], result.deltas[k]
        if ref is None or est is None:
            out[k] = (float("nan"), float("nan"))
            continue
        sig = row_angles(est, ref)
        sig_mean = float(np.nanmean(sig)) if np.any(~np.isnan(sig)) else float("nan")
        layer = net.layers[k]
        if isinstance(layer, Conv):
            ref_w = conv.conv2d_weight_grad(ref, cache.cols[k], layer.W.shape)[0]
        else:
            ref_w = ref.T @ cache.inputs[k]
        est_w = result.grads[k][0] if result.grads[k] is not None else None
        out[k] = (sig_mean, matrix_angle(est_w, ref_w) if est_w is not None else float("nan"))
    return out
