"""Compiled codec kernels (numba, single thread).

Every kernel works on the same *grouped* view of a tensor: ``x`` is a C-contiguous 2-D float32 array
(R rows × D columns), ``scale`` and ``zp`` are 2-D float32 arrays (Rs × NB); row ``r`` uses scale row
``r % Rs`` and column ``c`` uses scale column ``c // block``. Per-tensor, per-channel (any axis),
per-block and per-element scales are all expressed this way by ``quant.scaling.Layout``, with no copy
of ``x`` except for blocks along a non-last axis.

The value that is rounded is ``v = float32(float32(x / scale) + zp)`` in every kernel *and* in the
exact reference, so that fast and slow paths agree bit for bit.

Quantising kernels return True when some v had the all-ones exponent (NaN/Inf): the largest exponent
field is kept in a max-reduction, one vector op per element, so the finite check costs no extra pass over
the data. An overflowing x/scale sets the flag too; callers tell a NaN/Inf input (an error) from
overflow (which saturates) by looking at x only when the flag is set.
"""
from __future__ import annotations

import numba as nb
import numpy as np

_ROUND32 = np.float32(12582912.0)  # 1.5·2^23: (y + R) - R rounds |y| < 2^22 half-to-even in float32
_ABS_MASK = np.uint32(0x7FFFFFFF)
_EXP_MASK = np.uint32(0x7F800000)
_JIT = dict(cache=True, nogil=True, boundscheck=False)
# DyBit kernels may fuse A·P − 3 into one FMA: the product is exact (A has few bits, P is a power of two),
# so fused and unfused results are the same bits. Nothing else in them is a multiply feeding an add.
_JIT_FMA = dict(_JIT, fastmath={"contract"})


@nb.njit(**_JIT)
def _dybit_magic(L, cap):
    """Constants of the DyBit(L+1, cap) rounding trick, all exact in float32 (see ``dybit_encode``).

    Returns (A, C_lo, C_hi, vmax): the region magic of a value whose float exponent part is P is
    clamp(P·(A·P − 3), C_lo, C_hi); vmax is the largest magnitude at unit scale."""
    k_cap = 2.0 ** L - 2.0 ** (L - cap + 1)
    return (np.float32(1.5 * 2.0 ** (25 - L) + 4.0),
            np.float32(1.5 * 2.0 ** (24 - L)),
            np.float32(2.0 ** (2 * cap - 1 - L) * (1.5 * 2.0 ** 23 + k_cap)),
            np.float32(2.0 ** (cap - 1) * (2.0 - 2.0 ** (cap - L))))


@nb.njit(**_JIT_FMA)
def _region_magic(p, A, c_lo, c_hi):
    """The magic C_e of the region whose values have float exponent part p (see ``dybit_encode``)."""
    return min(max(p * (A * p - np.float32(3.0)), c_lo), c_hi)


@nb.njit(**_JIT_FMA)
def dybit_encode(x, scale, block, L, cap, out):
    """Nearest DyBit(L+1, cap) code of x/scale, ties to the even code, saturating.

    Inside region e (0 <= e <= cap) the magnitude grid is uniform with step_e and code = K_e + a/step_e,
    where K_e is the region's first code minus its offset in steps: step_0 = 2^(1-L), K_0 = 0; for
    0 < e < cap, step_e = 2^(2e-L), K_e = 2^L - 3·2^(L-e-1); for e = cap, step = 2^(2cap-1-L),
    K = 2^L - 2^(L-cap+1). Adding the magic C_e = step_e·(1.5·2^23 + K_e) to a puts a in a float binade
    whose ulp is step_e, so the hardware's round-to-nearest-even rounds a to the grid and leaves the
    code in the low mantissa bits, with ties going to the even *code*. (The region is read from a before
    rounding; a value that rounds up to 2^e lands on the next region's first code, which is right.)

    With P = 2^(e-1) (the float exponent part of a), C_e = P·((1.5·2^(25-L) + 4)·P − 3) for the middle
    regions; this expression is below C_0 for every a < 1 and above C_cap for every a >= 2^(cap-1), so
    clamping it gives C_e in every region: no table, no branch, so the loop vectorises. a is clamped to
    vmax first, which saturates and keeps the sum in the binade. The sign bit is set for v below
    -2^(-L), the largest negative value that does not round to code 0. The flag is the largest exponent
    field seen: 0xFF means a NaN/Inf in x/scale (the caller tells NaN/Inf input from overflow).
    """
    R, D = x.shape
    Rs = scale.shape[0]
    A, c_lo, c_hi, vmax = _dybit_magic(L, cap)
    sign_bit = np.int32(1 << L)
    neg_zero_limit = np.float32(-(2.0 ** -L))
    exp_max = np.uint32(0)
    for r in range(R):
        rs = r % Rs
        for b0 in range(0, D, block):
            s = scale[rs, b0 // block]
            xs, os_ = x[r, b0:b0 + block], out[r, b0:b0 + block]
            for c in range(xs.shape[0]):
                v = np.float32(xs[c] / s)
                u = v.view(np.uint32)
                pb = np.uint32(u & _EXP_MASK)
                exp_max = max(exp_max, pb)
                p = pb.view(np.float32)
                magic = np.float32(_region_magic(p, A, c_lo, c_hi))
                a = min(np.uint32(u & _ABS_MASK).view(np.float32), vmax)
                t = np.float32(a + magic)
                # t's mantissa is 0x400000 + code, so its low byte is the code (2^22 has none set)
                os_[c] = np.uint8(np.int32(t.view(np.int32) + (sign_bit if v < neg_zero_limit else np.int32(0))))
    return exp_max == _EXP_MASK


@nb.njit(**_JIT_FMA)
def dybit_quantize(x, scale, block, L, cap, out):
    """Fused decode∘encode with the magic of ``dybit_encode``: (v + C_e) − C_e is v rounded to region e's
    grid with ties to the even code (the mantissa parity of v + C_e is the code's parity, for negative v
    too since K_e − k and K_e + k have the same parity). v is clamped to ±vmax first (saturation)."""
    R, D = x.shape
    Rs = scale.shape[0]
    A, c_lo, c_hi, vmax = _dybit_magic(L, cap)
    exp_max = np.uint32(0)
    for r in range(R):
        rs = r % Rs
        for b0 in range(0, D, block):
            exp_max = max(exp_max, dybit_quantize_run(x[r, b0:b0 + block], scale[rs, b0 // block], A, c_lo, c_hi,
                                                      vmax, out[r, b0:b0 + block]))
    return exp_max == _EXP_MASK


@nb.njit(**_JIT_FMA)
def dybit_quantize_run(xs, s, A, c_lo, c_hi, vmax, os_):
    """One scale group of ``dybit_quantize`` (also the AVX-512 loop's tail): returns the largest exponent field
    of x/s; the magic and that flag share one AND."""
    exp_max = np.uint32(0)
    for c in range(xs.shape[0]):
        v = np.float32(xs[c] / s)
        pb = np.uint32(v.view(np.uint32) & _EXP_MASK)
        exp_max = max(exp_max, pb)
        magic = np.float32(_region_magic(pb.view(np.float32), A, c_lo, c_hi))
        vc = max(min(v, vmax), -vmax)
        os_[c] = ((vc + magic) - magic) * s
    return exp_max


@nb.njit(**_JIT_FMA)
def dybit_decode(codes, scale, block, L, cap, out):
    """Value of each DyBit(L+1, cap) code, arithmetic (no table gather): the inverse of ``dybit_encode``.

    The run of leading ones of the magnitude m gives the region: z = 2^L − 1 − m has bit length L − e,
    read from the exponent of z + ½ (the ½ makes z = 0 read as length 0), so P = 2^(e-1) is a constant
    minus that exponent field (uncapped: the magic's clamps cap it, and give region 0 for a leading 0).
    The magic C_e has the mantissa 0x400000 + K_e with K_e < 256, so replacing its low 8 bits by m gives
    the float t = C_e + (m − K_e)·step_e, and t − C_e is the magnitude. The code (sign, magnitude 0)
    decodes to +0. The arithmetic runs in float32 where it can: numba widens int32 bit operations to
    int64, which halves the vector width. Returns the largest code seen, as the bit pattern of its
    float32 value (the caller compares it with that of 2^(L+1)).
    """
    R, D = codes.shape
    Rs = scale.shape[0]
    A, c_lo, c_hi, _ = _dybit_magic(L, cap)
    sign_code = np.float32(2.0 ** L)
    z_plus_half = np.float32(2.0 ** L - 0.5)
    p_from_z = np.int32((L + 252) << 23)  # wraps for L >= 4; the difference below does not
    m_to_low_byte = np.float32(2.0 ** 23)  # m + 2^23 has m in its low mantissa bits
    low_byte = np.int32(0xFF)
    code_max = np.int32(0)
    for r in range(R):
        rs = r % Rs
        for b0 in range(0, D, block):
            s = scale[rs, b0 // block]
            cs, os_ = codes[r, b0:b0 + block], out[r, b0:b0 + block]
            for c in range(cs.shape[0]):
                k = np.float32(cs[c])
                code_max = max(code_max, k.view(np.int32))
                m = np.float32(k - sign_code if k >= sign_code else k)
                z = np.float32(z_plus_half - m)
                p = np.int32(p_from_z - np.int32(z.view(np.int32) & np.int32(_EXP_MASK))).view(np.float32)
                magic = np.float32(_region_magic(p, A, c_lo, c_hi))
                m_bits = np.float32(m + m_to_low_byte).view(np.int32)
                t = np.int32(np.int32(magic.view(np.int32) & ~low_byte) | np.int32(m_bits & low_byte)).view(np.float32)
                os_[c] = (t - magic) * (-s if k > sign_code else s)
    return code_max


@nb.njit(**_JIT)
def lut_encode(x, scale, zp, block, shift, thr, pair, out):
    """Bucketed-LUT nearest rounding for any level set.

    The float32 bit pattern of v, shifted right by ``shift``, names a bucket (sign, exponent and the top
    mantissa bits). A bucket holds at most one rounding threshold (checked when the table is built), so
    the code is ``pair[2*bucket + (|v| bits > thr[bucket])]``: two loads, one integer compare.
    """
    R, D = x.shape
    Rs = scale.shape[0]
    exp_max = np.uint32(0)
    for r in range(R):
        rs = r % Rs
        for b0 in range(0, D, block):
            s = scale[rs, b0 // block]
            z = zp[rs, b0 // block]
            xs, os_ = x[r, b0:b0 + block], out[r, b0:b0 + block]
            for c in range(xs.shape[0]):
                v = np.float32(np.float32(xs[c] / s) + z)
                u = v.view(np.uint32)
                exp_max = max(exp_max, np.uint32(u & _EXP_MASK))
                k = u >> shift
                os_[c] = pair[2 * k + ((u & _ABS_MASK) > thr[k])]
    return exp_max == _EXP_MASK


@nb.njit(**_JIT)
def lut_quantize(x, scale, zp, block, shift, thr, pair, values, out):
    R, D = x.shape
    Rs = scale.shape[0]
    exp_max = np.uint32(0)
    for r in range(R):
        rs = r % Rs
        for b0 in range(0, D, block):
            s = scale[rs, b0 // block]
            z = zp[rs, b0 // block]
            xs, os_ = x[r, b0:b0 + block], out[r, b0:b0 + block]
            for c in range(xs.shape[0]):
                v = np.float32(np.float32(xs[c] / s) + z)
                u = v.view(np.uint32)
                exp_max = max(exp_max, np.uint32(u & _EXP_MASK))
                k = u >> shift
                code = pair[2 * k + ((u & _ABS_MASK) > thr[k])]
                os_[c] = np.float32(values[code] - z) * s
    return exp_max == _EXP_MASK


@nb.njit(**_JIT)
def lut_decode(codes, scale, zp, block, values, out):
    """(values[code] − zp) · scale, from a table pre-scaled once per scale group. Returns 1 if a code
    is outside the table (the caller names it)."""
    R, D = codes.shape
    Rs = scale.shape[0]
    n = values.shape[0]
    table = np.empty(256, np.float32)
    bad = np.uint32(0)
    for r in range(R):
        rs = r % Rs
        for b0 in range(0, D, block):
            s = scale[rs, b0 // block]
            z = zp[rs, b0 // block]
            for i in range(256):
                table[i] = np.float32(values[min(i, n - 1)] - z) * s
            cs, os_ = codes[r, b0:b0 + block], out[r, b0:b0 + block]
            for c in range(cs.shape[0]):
                k = cs[c]
                bad |= np.uint32(k >= n)
                os_[c] = table[k]
    return bad


@nb.njit(**_JIT)
def int_fake_quant(x, scale, zp, block, qmin, qmax, out):
    """The arithmetic INT fake-quant (clip(rint(x/s + zp)) - zp) · s: the speed reference for DyBit."""
    R, D = x.shape
    Rs = scale.shape[0]
    exp_max = np.uint32(0)
    for r in range(R):
        rs = r % Rs
        for b0 in range(0, D, block):
            s = scale[rs, b0 // block]
            z = zp[rs, b0 // block]
            xs, os_ = x[r, b0:b0 + block], out[r, b0:b0 + block]
            for c in range(xs.shape[0]):
                v = np.float32(np.float32(xs[c] / s) + z)
                exp_max = max(exp_max, np.uint32(v.view(np.uint32) & _EXP_MASK))
                q = (v + _ROUND32) - _ROUND32
                os_[c] = np.float32(min(max(q, qmin), qmax) - z) * s
    return exp_max == _EXP_MASK


@nb.njit(**dict(_JIT, fastmath={"reassoc", "contract"}))
def row_sq_err(q, x, out):
    """out[r] = Σ_c (q[r, c] − x[r, c])² with the difference in float32 (as the codec produces q) and the
    sum in float64. reassoc lets the sum vectorise; this kernel does no rounding trick that reassociation
    could undo."""
    for r in range(q.shape[0]):
        acc = 0.0
        qs, xs = q[r], x[r]
        for c in range(qs.shape[0]):
            d = np.float64(np.float32(qs[c] - xs[c]))
            acc += d * d
        out[r] = acc


@nb.njit(**_JIT)
def row_abs_max(x, out):
    """out[r] = max_c |x[r, c]| (float32); one pass, for short rows (blocks) where NumPy's reduction is slow."""
    for r in range(x.shape[0]):
        m = np.float32(0.0)
        xs = x[r]
        for c in range(xs.shape[0]):
            m = max(m, abs(xs[c]))
        out[r] = m


@nb.njit(**_JIT)
def keep_better_rows(err, best_err, q, best_q):
    """Per row: where err < best_err (strictly: earlier candidates win ties), take q's row and its error.
    Returns the boolean mask of rows taken."""
    took = np.zeros(err.shape[0], np.bool_)
    for r in range(err.shape[0]):
        if err[r] < best_err[r]:
            best_err[r] = err[r]
            best_q[r] = q[r]
            took[r] = True
    return took
