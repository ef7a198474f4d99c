"""Compiled codec kernels (numba, single thread).

Every kernel works on the same *grouped* view of a tensor: ``x`` is a C-contiguous 2-D float32 array
(R rows × D columns), ``scale`` and ``zp`` are 2-D float32 arrays (Rs × NB); row ``r`` uses scale row
``r % Rs`` and column ``c`` uses scale column ``c // block``. Per-tensor, per-channel (any axis),
per-block and per-element scales are all expressed this way by ``quant.scaling.Layout``, with no copy
of ``x`` except for blocks along a non-last axis.

The value that is rounded is ``v = float32(float32(x / scale) + zp)`` in every kernel *and* in the
exact reference, so that fast and slow paths agree bit for bit.

Kernels return a flag that is 1 when a NaN/Inf input was met; callers raise the error, so the
finite check costs no extra pass over the data.
"""
from __future__ import annotations

import numba as nb
import numpy as np

_ROUND32 = np.float32(12582912.0)  # 1.5·2^23: (y + R) - R rounds |y| < 2^22 half-to-even in float32
_ABS_MASK = np.uint32(0x7FFFFFFF)
_JIT = dict(cache=True, nogil=True, boundscheck=False)


@nb.njit(**_JIT)
def _nonfinite(xv):
    """1 for a NaN/Inf input, else 0, branch-free so that the OR-reduction vectorises.

    (An overflowing x/scale is not an error: it saturates.)"""
    return ((np.float32(xv).view(np.uint32) & np.uint32(0x7F800000)) + np.uint32(0x00800000)) >> np.uint32(31)


@nb.njit(**_JIT)
def _pow2(p):
    """2**p as float32 for -126 <= p <= 127, built from bits (no table gather, so loops vectorise)."""
    return np.uint32((p + np.int32(127)) << np.int32(23)).view(np.float32)


@nb.njit(**_JIT)
def _dybit_round(a, u, L, cap):
    """Nearest DyBit(L+1, cap) magnitude code of a >= 0 at unit scale, ties to the even code.

    The magnitude grid is uniform inside each region e (0 <= e <= cap): region 0 is [0, 1) with step
    2^(1-L); region 0 < e < cap is [2^(e-1), 2^e) with step 2^(2e-L); region cap starts at 2^(cap-1)
    with step 2^(2cap-1-L). Each region's first code (``base``) is 2^L - 2^(L-e), even except for the
    saturating top code, so base + rint(offset/step) is the nearest code with ties to the even code.
    ``u`` is the float32 bit pattern of ±a. Returns the code as a float32.
    """
    # int32 throughout: int64 lanes halve the SIMD width and int64→float has no AVX2 instruction
    one, zero = np.int32(1), np.int32(0)
    ex = np.int32((u >> np.uint32(23)) & np.uint32(0xFF)) - np.int32(127)
    e = min(max(ex + one, zero), cap)
    off = _pow2(e - one) if e > zero else np.float32(0.0)
    inv_exp = (L - one) if e == zero else ((L - e - e) if e < cap else (L + one - cap - cap))
    y = (a - off) * _pow2(inv_exp)
    r = (y + _ROUND32) - _ROUND32
    base = np.float32((one << L) - (one << (L - e))) if e > zero else np.float32(0.0)
    return base + r


@nb.njit(**_JIT)
def dybit_encode(x, scale, block, L, cap, out):
    R, D = x.shape
    Rs = scale.shape[0]
    L, cap = np.int32(L), np.int32(cap)
    top = np.float32((1 << L) - 1)
    bad = np.uint32(0)
    for r in range(R):
        rs = r % Rs
        for b0 in range(0, D, block):
            s = scale[rs, b0 // block]
            xs, os_ = x[r, b0:b0 + block], out[r, b0:b0 + block]
            for c in range(xs.shape[0]):
                v = np.float32(xs[c] / s)
                u = v.view(np.uint32)
                bad |= np.uint32(((u >> np.uint32(23)) & np.uint32(0xFF)) == np.uint32(0xFF))  # as dybit_quantize
                a = np.uint32(u & _ABS_MASK).view(np.float32)
                q = _dybit_round(a, u, L, cap)
                m = np.uint8(min(q, top))
                os_[c] = m | (np.uint8(u >> 31) & np.uint8(m != 0)) << L
    return bad


@nb.njit(**_JIT)
def dybit_quantize(x, scale, block, L, cap, out):
    """Fused encode∘decode. Inside region e the grid is the multiples of step_e = 2^se, so adding and
    subtracting C = 1.5·2^(23+se) rounds |v| to the grid (ties to the even multiple, which is the even code:
    each region's first code is even). The one exception — region L−1 when cap = L holds a single level, so
    its tie 1.5·2^(L−2) must go down to the even code — is patched explicitly. The returned flag marks any
    non-finite x/scale (the caller tells NaN/Inf inputs, an error, from overflow, which saturates here)."""
    R, D = x.shape
    Rs = scale.shape[0]
    L, cap = np.int32(L), np.int32(cap)
    one, zero = np.int32(1), np.int32(0)
    vmax = _pow2(cap - one) * (np.float32(2.0) - _pow2(cap - L))  # largest magnitude, unit scale
    has_tie = cap == L and L >= 2
    tie = _pow2(L - np.int32(2)) * np.float32(1.5)
    tie_to = _pow2(L - np.int32(2))
    c0 = np.int32(150) - L
    sign = np.uint32(0x80000000)
    bad = np.uint32(0)
    for r in range(R):
        rs = r % Rs
        for b0 in range(0, D, block):
            s = scale[rs, b0 // block]
            xs, os_ = x[r, b0:b0 + block], out[r, b0:b0 + block]
            for c in range(xs.shape[0]):
                v = np.float32(xs[c] / s)
                u = v.view(np.uint32)
                a = np.uint32(u & _ABS_MASK).view(np.float32)
                exb = np.int32((u >> np.uint32(23)) & np.uint32(0xFF))
                bad |= np.uint32(exb == np.int32(255))
                e = min(max(exb - np.int32(126), zero), cap)
                se = e + e + np.int32(e == zero) - np.int32(e == cap)  # log2 of the region's step, + L
                magic = np.uint32(((se + c0) << np.int32(23)) | np.int32(0x400000)).view(np.float32)
                mag = min((a + magic) - magic, vmax)
                if has_tie:
                    mag = tie_to if a == tie else mag
                os_[c] = np.uint32(np.float32(mag).view(np.uint32) | (u & sign)).view(np.float32) * s
    return bad


@nb.njit(**_JIT)
def lut_encode(x, scale, zp, block, shift, thr, pair, out):
    """Bucketed-LUT nearest rounding for any level set.

    The float32 bit pattern of v, shifted right by ``shift``, names a bucket (sign, exponent and the top
    mantissa bits). A bucket holds at most one rounding threshold (checked when the table is built), so
    the code is ``pair[2*bucket + (|v| bits > thr[bucket])]``: two loads, one integer compare.
    """
    R, D = x.shape
    Rs = scale.shape[0]
    bad = np.uint32(0)
    for r in range(R):
        rs = r % Rs
        for b0 in range(0, D, block):
            s = scale[rs, b0 // block]
            z = zp[rs, b0 // block]
            xs, os_ = x[r, b0:b0 + block], out[r, b0:b0 + block]
            for c in range(xs.shape[0]):
                v = np.float32(np.float32(xs[c] / s) + z)
                u = v.view(np.uint32)
                bad |= _nonfinite(xs[c])
                k = u >> shift
                os_[c] = pair[2 * k + ((u & _ABS_MASK) > thr[k])]
    return bad


@nb.njit(**_JIT)
def lut_quantize(x, scale, zp, block, shift, thr, pair, values, out):
    R, D = x.shape
    Rs = scale.shape[0]
    bad = np.uint32(0)
    for r in range(R):
        rs = r % Rs
        for b0 in range(0, D, block):
            s = scale[rs, b0 // block]
            z = zp[rs, b0 // block]
            xs, os_ = x[r, b0:b0 + block], out[r, b0:b0 + block]
            for c in range(xs.shape[0]):
                v = np.float32(np.float32(xs[c] / s) + z)
                u = v.view(np.uint32)
                bad |= _nonfinite(xs[c])
                k = u >> shift
                code = pair[2 * k + ((u & _ABS_MASK) > thr[k])]
                os_[c] = np.float32(values[code] - z) * s
    return bad


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
    bad = np.uint32(0)
    for r in range(R):
        rs = r % Rs
        for b0 in range(0, D, block):
            s = scale[rs, b0 // block]
            z = zp[rs, b0 // block]
            xs, os_ = x[r, b0:b0 + block], out[r, b0:b0 + block]
            for c in range(xs.shape[0]):
                v = np.float32(np.float32(xs[c] / s) + z)
                v.view(np.uint32)
                bad |= _nonfinite(xs[c])
                q = (v + _ROUND32) - _ROUND32
                os_[c] = np.float32(min(max(q, qmin), qmax) - z) * s
    return bad
