"""The fast golden model: numba kernels specialised per config, bit-identical to :mod:`hwsim.reference`.

Rooms, each importing only those before it: :mod:`.jit` (numba decorators), :mod:`.vnni` and
:mod:`.row_simd` (explicit-vector intrinsics), :mod:`.plan` (per-layer bounds, dtypes, paths),
:mod:`.scalar` (wrap, round, requantize, activate), :mod:`.update_math` (a layer's exact update
arithmetic), :mod:`.forward`, :mod:`.delta`, :mod:`.update` (per-layer kernels), :mod:`.events`
(the event schedule's counts: events, active groups, writes and changes), :mod:`.compiled` (one
pass per config and schedule, chained layers), :mod:`.engine` (state, counts).
"""

from .compiled import compiled_kernels
from .engine import Engine

__all__ = ["Engine", "compiled_kernels"]
