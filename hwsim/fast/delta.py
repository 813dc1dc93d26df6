"""The modulatory signal of a layer: a fixed random projection of the label (hidden layers) or the output error."""

from __future__ import annotations

import numpy as np

from ..config import EngineConfig
from .jit import njit
from .plan import LayerPlan
from .scalar import make_requant

__all__ = ["make_delta"]


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
    one = layer.target_one()
    rq_err = make_requant(layer.act.frac_bits - layer.error.frac_bits, layer.error.rounding, layer.error)
    use_sign = not layer.sends_error

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
