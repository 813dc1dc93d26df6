"""AVX-512 VNNI forward accumulation of four input rows at once (``vpdpbusd``), for numba kernels.

The widest forward layer of a typical engine (784 unsigned 8-bit pixels into 512 int8 lanes) is
where the fast model spends most of a sample. ``vpdpbusd`` multiplies unsigned bytes by signed
bytes and adds four products per 32-bit lane in one instruction, exactly (no saturation; the
int32 sum wraps modulo 2**32 like the machine adds it replaces). LLVM does not derive it from
scalar code, so :func:`dpbusd_quad` emits it through an intrinsic.

Weights stay in the inputs-major layout the update needs (``W[i * n_pad + j]``): the four rows
of a quad are interleaved on the fly with in-lane byte and word unpacks, which cost no
cross-lane shuffles but leave the 32-bit sums in a permuted lane order. The kernel accumulates
the quads into a scratch array in that order and adds it back in natural order once per sample
through :func:`lane_permutation`.

Used only when the host (or ``NUMBA_CPU_FEATURES``) has ``avx512vnni``; :data:`AVAILABLE`.
"""

from __future__ import annotations

import numba
import numba.core.codegen
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["AVAILABLE", "CHUNK", "dpbusd_quad", "lane_permutation"]

CHUNK = 64
"""Lanes per step of :func:`dpbusd_quad`: the padded lane count must be a multiple of it."""


def _target_has_vnni() -> bool:
    """Whether the code numba generates may use AVX-512 VNNI (the features it compiles for)."""
    features = numba.config.CPU_FEATURES
    if features is None:
        if numba.config.CPU_NAME:
            return False  # a named CPU without an explicit feature list: don't guess
        features = numba.core.codegen.get_host_cpu_features()
    flags = features.split(",")
    return "+avx512vnni" in flags and "+avx512bw" in flags


AVAILABLE = _target_has_vnni()

# In-lane unpack masks (vpunpck{l,h}bw on two <64 x i8>, vpunpck{l,h}wd on two <32 x i16>).
_LO_B = [v for lane in range(4) for k in range(8) for v in (16 * lane + k, 64 + 16 * lane + k)]
_HI_B = [v for lane in range(4) for k in range(8, 16) for v in (16 * lane + k, 64 + 16 * lane + k)]
_LO_W = [v for lane in range(4) for k in range(4) for v in (8 * lane + k, 32 + 8 * lane + k)]
_HI_W = [v for lane in range(4) for k in range(4, 8) for v in (8 * lane + k, 32 + 8 * lane + k)]


def _chunk_permutation() -> np.ndarray:
    """perm[c]: the natural lane (0..63) whose sum lands in dword c of a chunk's four outputs."""
    lanes = np.arange(CHUNK)
    pair = np.concatenate([lanes, lanes])
    out = []
    for bytes_mask in (_LO_B, _HI_B):
        words = pair[bytes_mask][0::2]          # a word holds (row 1, row 2) bytes of one lane
        quad = np.concatenate([words, words])
        for words_mask in (_LO_W, _HI_W):
            out.append(quad[words_mask][0::2])  # a dword holds the lane's bytes of rows 1..4
    perm = np.concatenate(out)
    assert sorted(perm.tolist()) == list(range(CHUNK))
    return perm


_PERM = _chunk_permutation()


def lane_permutation(n_pad: int) -> np.ndarray:
    """perm[c] = natural lane of scratch dword c, for ``n_pad`` lanes (a multiple of :data:`CHUNK`)."""
    assert n_pad % CHUNK == 0
    return np.concatenate([_PERM + CHUNK * c for c in range(n_pad // CHUNK)]).astype(np.int64)


@intrinsic
def dpbusd_quad(typingctx, acc, w, o1, o2, o3, o4, aword):
    """acc[c] += sum_r u8(byte r of aword) * s8(w[o_r + lane(c)]), lanes in permuted order.

    ``acc``: int32 array of n_pad scratch sums (a multiple of 64); ``w``: int8 weights;
    ``o1..o4``: element offsets of the four rows; ``aword``: the four unsigned inputs, row 1 in
    the low byte. Every product and every 4-product sum is exact; the int32 adds wrap.
    """
    sig = types.void(acc, w, o1, o2, o3, o4, aword)

    def codegen(context, builder, signature, args):
        acc_a = context.make_array(signature.args[0])(context, builder, args[0])
        w_a = context.make_array(signature.args[1])(context, builder, args[1])
        i8, i16, i32 = ir.IntType(8), ir.IntType(16), ir.IntType(32)
        v16x32, v64x8, v32x16 = ir.VectorType(i32, 16), ir.VectorType(i8, 64), ir.VectorType(i16, 32)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(v16x32, [v16x32, v64x8, v64x8]),
                                            "llvm.x86.avx512.vpdpbusd.512")
        word = args[6]
        word = builder.trunc(word, i32) if word.type.width > 32 else builder.zext(word, i32) \
            if word.type.width < 32 else word
        splat = cgutils.get_null_value(v16x32)
        for q in range(16):
            splat = builder.insert_element(splat, word, ir.Constant(i32, q))
        splat = builder.bitcast(splat, v64x8)
        accp = builder.bitcast(acc_a.data, v16x32.as_pointer())
        rows = [builder.bitcast(builder.gep(w_a.data, [args[2 + r]]), v64x8.as_pointer()) for r in range(4)]

        def mask(m):
            return ir.Constant(ir.VectorType(i32, len(m)), [ir.Constant(i32, v) for v in m])
        lo_b, hi_b, lo_w, hi_w = mask(_LO_B), mask(_HI_B), mask(_LO_W), mask(_HI_W)
        steps = builder.udiv(acc_a.nitems, ir.Constant(acc_a.nitems.type, CHUNK))
        with cgutils.for_range(builder, steps) as loop:
            k = loop.index
            w1, w2, w3, w4 = [builder.load(builder.gep(p, [k]), align=1) for p in rows]
            p_lo = builder.bitcast(builder.shuffle_vector(w1, w2, lo_b), v32x16)
            p_hi = builder.bitcast(builder.shuffle_vector(w1, w2, hi_b), v32x16)
            q_lo = builder.bitcast(builder.shuffle_vector(w3, w4, lo_b), v32x16)
            q_hi = builder.bitcast(builder.shuffle_vector(w3, w4, hi_b), v32x16)
            quads = [builder.shuffle_vector(p_lo, q_lo, lo_w), builder.shuffle_vector(p_lo, q_lo, hi_w),
                     builder.shuffle_vector(p_hi, q_hi, lo_w), builder.shuffle_vector(p_hi, q_hi, hi_w)]
            first = builder.mul(k, ir.Constant(k.type, 4))
            for m, quad in enumerate(quads):
                ptr = builder.gep(accp, [builder.add(first, ir.Constant(k.type, m))])
                total = builder.call(fn, [builder.load(ptr, align=4), splat, builder.bitcast(quad, v64x8)])
                builder.store(total, ptr, align=4)
        return context.get_dummy_value()

    return sig, codegen
