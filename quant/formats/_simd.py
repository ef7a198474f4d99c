"""AVX-512 DyBit quantise: the region magic from a 16-entry register table instead of a polynomial.

``_kernels.dybit_quantize`` computes each value's region magic C_e with a clamped polynomial of the float
exponent part (4 vector ops) because numba's loop vectoriser turns a table lookup into a gather. AVX-512 has
a 16-lane register permute (``vpermps``), so here the vector loop is written out in LLVM IR:

    v = x / s;  flag = max(flag, v & 0x7F800000)
    vc = vrangeps(v, vmax)                 # sign(v)·min(|v|, vmax): saturation in one op
    C = vpermps(table, bits(vc) >> 23)     # the lane index is the low 4 bits of the biased exponent E
    out = ((vc + C) − C) · s

After saturation E ≤ 126 + cap, so the 16 exponents 127 + cap − 16 … 126 + cap each have their own table
entry (C_0 below 127, C_e = the magic of region E − 126, C_cap at the top). A smaller E aliases onto some
region's entry, but such a |v| < 2^(cap−16) ≤ 2^(−L) is under half of every region's step (cap + L ≤ 14),
so it rounds to 0 with any of them, as it does with C_0: the results are the polynomial kernel's, bit for
bit (the tests compare both on every (n, cap)). 9 vector ops per 16 values instead of 12; the INT
fake-quant takes 10.

Used only when numba compiles for a CPU with AVX-512F and AVX-512DQ (``AVAILABLE``); elsewhere, with
``DYBIT_SIMD=0`` in the environment or with numba's JIT disabled, the portable kernel runs.
"""
from __future__ import annotations

import os

import llvmlite.binding as llvm
import numba as nb
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils, config
from numba.extending import intrinsic

from quant.formats import _kernels as K

LANES = 16
_VEC_F32 = ir.VectorType(ir.FloatType(), LANES)
_VEC_I32 = ir.VectorType(ir.IntType(32), LANES)
_RANGE_MIN_ABS_SIGN_OF_SRC1 = 0b0010  # vrangeps imm8: [1:0] = 10 min |a|,|b|; [3:2] = 00 sign from a


def _cpu_has_avx512() -> bool:
    if os.environ.get("DYBIT_SIMD", "1") == "0":
        return False
    if config.CPU_NAME not in (None, "host") or config.CPU_FEATURES is not None:
        return False  # numba is told to compile for another CPU: do not assume the host's features
    if config.DISABLE_JIT:
        return False  # an LLVM intrinsic has no pure-Python form
    features = llvm.get_host_cpu_features()
    return bool(features.get("avx512f")) and bool(features.get("avx512dq"))


AVAILABLE = _cpu_has_avx512()


def region_table(L: int, cap: int) -> np.ndarray:
    """The 16 magics indexed by (biased float exponent of the saturated value) mod 16."""
    A, c_lo, c_hi, _ = K._dybit_magic(L, cap)
    table = np.empty(LANES, np.float32)
    for E in range(127 + cap - LANES, 127 + cap):  # 16 entries: a table, not a loop over data
        table[E % LANES] = K._region_magic(np.float32(2.0 ** (E - 127)), A, c_lo, c_hi)
    return table


def splat(builder, value, vec_type):
    lane0 = builder.insert_element(ir.Constant(vec_type, ir.Undefined), value, ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(lane0, ir.Constant(vec_type, ir.Undefined), ir.Constant(_VEC_I32, None))


def _intrinsic(builder, name, ret, *arg_types):
    return cgutils.get_or_insert_function(builder.module, ir.FunctionType(ret, list(arg_types)), name)


def min_abs_keep_sign(builder, a, limit_vec):
    """sign(a)·min(|a|, |limit|) in one ``vrangeps``: a symmetric saturation."""
    i32, i16 = ir.IntType(32), ir.IntType(16)
    rng = _intrinsic(builder, "llvm.x86.avx512.mask.range.ps.512", _VEC_F32, _VEC_F32, _VEC_F32, i32, _VEC_F32, i16,
                     i32)
    return builder.call(rng, [a, limit_vec, ir.Constant(i32, _RANGE_MIN_ABS_SIGN_OF_SRC1), a, ir.Constant(i16, -1),
                              ir.Constant(i32, 4)])


def emit_lane_loop(context, builder, signature, x_arr, out_arr, n_vec, s, rounded):
    """The 16-lane loop both hand-written fake-quants share: for each vector, v = x / s, the exponent-field
    flag, out = ``rounded(v)`` · s; returns the largest exponent field of x/s (the portable kernels' flag).
    ``x_arr`` and ``out_arr`` are the first two arguments of ``signature`` (contiguous 1-D float32)."""
    x_ptr = context.make_array(signature.args[0])(context, builder, x_arr).data
    out_ptr = context.make_array(signature.args[1])(context, builder, out_arr).data
    vec_ptr = _VEC_F32.as_pointer()
    s_vec = splat(builder, s, _VEC_F32)
    exp_mask = ir.Constant(_VEC_I32, [0x7F800000] * LANES)
    flag = cgutils.alloca_once_value(builder, ir.Constant(_VEC_I32, None))
    with cgutils.for_range(builder, n_vec) as loop:
        offset = builder.mul(loop.index, ir.Constant(loop.index.type, LANES))
        v = builder.fdiv(builder.load(builder.bitcast(builder.gep(x_ptr, [offset]), vec_ptr), align=4), s_vec)
        exp_bits = builder.and_(builder.bitcast(v, _VEC_I32), exp_mask)
        seen = builder.load(flag)
        builder.store(builder.select(builder.icmp_unsigned(">", exp_bits, seen), exp_bits, seen), flag)
        builder.store(builder.fmul(rounded(v), s_vec), builder.bitcast(builder.gep(out_ptr, [offset]), vec_ptr),
                      align=4)
    umax = _intrinsic(builder, "llvm.vector.reduce.umax.v16i32", ir.IntType(32), _VEC_I32)
    return builder.call(umax, [builder.load(flag)])


@intrinsic
def _quantize_lanes(typingctx, x, out, n_vec, s, vmax, table):
    """Quantise the first ``n_vec``·16 values of the contiguous 1-D ``x`` into ``out``; returns the largest
    exponent field of x/s (as the portable kernel's flag)."""
    for arr in (x, out, table):
        if not (isinstance(arr, types.Array) and arr.ndim == 1 and arr.dtype == types.float32):
            return None
    sig = types.uint32(x, out, types.intp, types.float32, types.float32, table)

    def codegen(context, builder, signature, args):
        x_arr, out_arr, n_vec_v, s_v, vmax_v, table_arr = args
        table_ptr = context.make_array(signature.args[5])(context, builder, table_arr).data
        table_v = builder.load(builder.bitcast(table_ptr, _VEC_F32.as_pointer()), align=4)
        vmax_vec = splat(builder, vmax_v, _VEC_F32)
        shift = ir.Constant(_VEC_I32, [23] * LANES)
        permute = _intrinsic(builder, "llvm.x86.avx512.permvar.sf.512", _VEC_F32, _VEC_F32, _VEC_I32)

        def rounded(v):
            vc = min_abs_keep_sign(builder, v, vmax_vec)
            magic = builder.call(permute, [table_v, builder.lshr(builder.bitcast(vc, _VEC_I32), shift)])
            return builder.fsub(builder.fadd(vc, magic), magic)

        return emit_lane_loop(context, builder, signature, x_arr, out_arr, n_vec_v, s_v, rounded)

    return sig, codegen


@nb.njit(**K._JIT_FMA)
def dybit_quantize(x, scale, block, L, cap, table, out):
    """``_kernels.dybit_quantize`` with the 16-lane loop above; the last < 16 values of each scale group go
    through the portable kernel's per-group loop (``_kernels.dybit_quantize_run``)."""
    R, D = x.shape
    Rs = scale.shape[0]
    A, c_lo, c_hi, vmax = K._dybit_magic(L, cap)
    exp_max = np.uint32(0)
    for r in range(R):
        rs = r % Rs
        for b0 in range(0, D, block):
            s = scale[rs, b0 // block]
            xs, os_ = x[r, b0:b0 + block], out[r, b0:b0 + block]
            n = xs.shape[0] // LANES * LANES
            exp_max = max(exp_max, _quantize_lanes(xs, os_, n // LANES, s, vmax, table),
                          K.dybit_quantize_run(xs[n:], s, A, c_lo, c_hi, vmax, os_[n:]))
    return exp_max == K._EXP_MASK
