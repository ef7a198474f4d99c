"""A reference for the codec benchmark only: symmetric INT fake-quant written out as the same kind of 16-lane
AVX-512 loop as ``quant.formats._simd`` (7 vector ops: x/s, exponent flag 2, round-to-integer 2, vrangeps
clamp to ±qmax, ·s; no zero point). It answers whether DyBit's hand-written loop beats INT only because INT's
kernel is left to numba's vectoriser. Import only where ``_simd.AVAILABLE``."""
from __future__ import annotations

import numba as nb
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from quant.formats import _simd as S

_ROUND32 = 12582912.0  # 1.5·2^23, as in quant.formats._kernels


@intrinsic
def _int_lanes(typingctx, x, out, n_vec, s, qmax):
    sig = types.uint32(x, out, types.intp, types.float32, types.float32)

    def codegen(context, builder, signature, args):
        x_arr, out_arr, n_vec_v, s_v, qmax_v = args
        x_ptr = context.make_array(signature.args[0])(context, builder, x_arr).data
        out_ptr = context.make_array(signature.args[1])(context, builder, out_arr).data
        vec_ptr = S._VEC_F32.as_pointer()
        rng = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(S._VEC_F32, [S._VEC_F32, S._VEC_F32, ir.IntType(32), S._VEC_F32,
                                                         ir.IntType(16), ir.IntType(32)]),
            "llvm.x86.avx512.mask.range.ps.512")
        umax = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.IntType(32), [S._VEC_I32]),
                                              "llvm.vector.reduce.umax.v16i32")
        s_vec, qmax_vec = S._splat(builder, s_v, S._VEC_F32), S._splat(builder, qmax_v, S._VEC_F32)
        magic = ir.Constant(S._VEC_F32, [_ROUND32] * S.LANES)
        exp_mask = ir.Constant(S._VEC_I32, [0x7F800000] * S.LANES)
        flag = cgutils.alloca_once_value(builder, ir.Constant(S._VEC_I32, None))
        with cgutils.for_range(builder, n_vec_v) as loop:
            offset = builder.mul(loop.index, ir.Constant(loop.index.type, S.LANES))
            v = builder.fdiv(builder.load(builder.bitcast(builder.gep(x_ptr, [offset]), vec_ptr), align=4), s_vec)
            exp_bits = builder.and_(builder.bitcast(v, S._VEC_I32), exp_mask)
            seen = builder.load(flag)
            builder.store(builder.select(builder.icmp_unsigned(">", exp_bits, seen), exp_bits, seen), flag)
            q = builder.fsub(builder.fadd(v, magic), magic)
            qc = builder.call(rng, [q, qmax_vec, ir.Constant(ir.IntType(32), S._RANGE_MIN_ABS_SIGN_OF_SRC1), q,
                                    ir.Constant(ir.IntType(16), -1), ir.Constant(ir.IntType(32), 4)])
            builder.store(builder.fmul(qc, s_vec), builder.bitcast(builder.gep(out_ptr, [offset]), vec_ptr), align=4)
        return builder.call(umax, [builder.load(flag)])

    return sig, codegen


@nb.njit(cache=True, nogil=True)
def repeat_int_fake_quant_simd(x, s, qmax, out, reps):
    """``reps`` passes over one row whose length is a multiple of 16 (the benchmark's L2-resident slice)."""
    flag = np.uint32(0)
    for _ in range(reps):
        flag = max(flag, _int_lanes(x[0], out[0], x.shape[1] // S.LANES, s[0, 0], qmax))
    return flag
