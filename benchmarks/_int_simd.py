"""A reference for the codec benchmark only: symmetric INT fake-quant written out as the same kind of 16-lane
AVX-512 loop as ``quant.formats._simd`` (7 vector ops: x/s, exponent flag 2, round-to-integer 2, vrangeps
clamp to ±qmax, ·s; no zero point). It answers whether DyBit's hand-written loop beats INT only because INT's
kernel is left to numba's vectoriser. Import only where ``_simd.AVAILABLE``."""
from __future__ import annotations

import numba as nb
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from quant.formats import _kernels as K
from quant.formats import _simd as S

_ROUND32 = float(K._ROUND32)  # 1.5·2^23: (v + R) − R rounds to an integer, half to even


@intrinsic
def _int_lanes(typingctx, x, out, n_vec, s, qmax):
    sig = types.uint32(x, out, types.intp, types.float32, types.float32)

    def codegen(context, builder, signature, args):
        x_arr, out_arr, n_vec_v, s_v, qmax_v = args
        qmax_vec = S.splat(builder, qmax_v, S._VEC_F32)
        magic = ir.Constant(S._VEC_F32, [_ROUND32] * S.LANES)

        def rounded(v):
            return S.min_abs_keep_sign(builder, builder.fsub(builder.fadd(v, magic), magic), qmax_vec)

        return S.emit_lane_loop(context, builder, signature, x_arr, out_arr, n_vec_v, s_v, rounded)

    return sig, codegen


@nb.njit(cache=True, nogil=True)
def repeat_int_fake_quant_simd(x, s, qmax, out, reps):
    """``reps`` passes over one row whose length is a multiple of 16 (the benchmark's L2-resident slice)."""
    flag = np.uint32(0)
    for _ in range(reps):
        flag = max(flag, _int_lanes(x[0], out[0], x.shape[1] // S.LANES, s[0, 0], qmax))
    return flag
