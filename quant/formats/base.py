"""``NumberFormat``: one n-bit code table, its exact nearest-rounding tables and the codec on top."""
from __future__ import annotations

from functools import cached_property

import numpy as np

from quant import packing
from quant._arrays import like, to_numpy
from quant.errors import QuantError
from quant.formats import _kernels as K
from quant.formats.reference import nearest_codes
from quant.scaling import QParams, as_qparams

_MAX_BUCKET_BITS = 12


class NumberFormat:
    """An n-bit format (n ≤ 8) given by the value of each code at unit scale.

    ``code_values[c]`` is the value of code ``c`` (NaN for codes that are not numbers, e.g. posit NaR).
    ``affine`` formats (unsigned INT) carry a zero point: value = scale · (level − zero_point).
    ``scale_rule`` is ``"float"`` (any positive scale) or ``"pow2"`` (scales are powers of two, as the
    exponent bias of AdaptivFloat or the E8M0 block scale of OCP MX). ``ties``: an exact midpoint goes to the
    even code (``"even"``, the default) or to the level of larger magnitude (``"away"``, HiFloat8's rule).
    """

    family = "lut"

    def __init__(self, name: str, bits: int, code_values, *, affine: bool = False, scale_rule: str = "float",
                 granularity: str = "tensor", block: int = 32, description: str = "", ties: str = "even"):
        if not 1 <= bits <= 8:
            raise QuantError(f"{name}: bits must be in 1..8 for a coded format, got {bits}")
        cv = np.asarray(code_values, dtype=np.float64)
        if cv.shape != (1 << bits,):
            raise QuantError(f"{name}: need {1 << bits} code values, got {cv.shape}")
        finite = cv[np.isfinite(cv)]
        if not np.array_equal(finite.astype(np.float32).astype(np.float64), finite):
            raise QuantError(f"{name}: every level must be representable in float32")
        self.name, self.bits, self.affine, self.scale_rule = name, bits, affine, scale_rule
        self.default_granularity, self.default_block = granularity, block
        self.description, self.ties = description, ties
        self.code_values = cv
        codes = np.arange(1 << bits, dtype=np.uint8)
        ok = np.isfinite(cv)
        order = np.lexsort((codes[ok], cv[ok]))  # by value, then the smallest code first
        vals, cods = cv[ok][order], codes[ok][order]
        keep = np.ones(len(vals), bool)
        keep[1:] = vals[1:] != vals[:-1]  # one canonical code per value (+0 over -0)
        self.levels = vals[keep].astype(np.float32)
        self.level_codes = cods[keep]
        self.decode_table = np.where(ok, cv, np.nan).astype(np.float32)

    # ------------------------------------------------------------------ description
    @property
    def max_level(self) -> float:
        return float(np.abs(self.levels).max())

    @property
    def min_level(self) -> float:
        return float(self.levels.min())

    @property
    def is_signed(self) -> bool:
        return self.min_level < 0

    def __repr__(self) -> str:
        lv = self.levels
        return (f"{type(self).__name__}({self.name!r}, bits={self.bits}, {len(lv)} levels "
                f"in [{lv.min():g}, {lv.max():g}]{', affine' if self.affine else ''})")

    # ------------------------------------------------------------------ exact tables
    @cached_property
    def _buckets(self):
        return build_buckets(self.levels, self.level_codes, self.ties)

    def reference_encode(self, v) -> np.ndarray:
        """Exact codes of already-scaled float32 values ``v`` (float64 comparisons, no tables)."""
        return nearest_codes(np.asarray(v, np.float32), self.levels, self.level_codes, self.ties)

    # ------------------------------------------------------------------ codec
    def qparams(self, x, scale=None, *, zero_point=None) -> QParams:
        shape = tuple(np.shape(x))
        if scale is None:
            raise QuantError(f"{self.name}: scale is required (use choose_qparams to pick one)")
        qp = as_qparams(scale, shape)
        if zero_point is not None:
            qp = QParams(qp.scale, qp.layout, zero_point=zero_point, method=qp.method)
        return qp

    def encode(self, x, scale=None, *, zero_point=None):
        """Nearest codes (uint8, same shape) of x / scale (+ zero_point); saturating, ties to even code."""
        xa = to_numpy(x)
        qp = self.qparams(xa, scale, zero_point=zero_point)
        out = self._run(xa, qp, "encode")
        return like(out, x)

    def decode(self, codes, scale=None, *, zero_point=None):
        c = to_numpy(codes, what="codes", dtype=None)
        if not np.issubdtype(c.dtype, np.integer):
            raise QuantError(f"codes: expected an integer array, got dtype {c.dtype}")
        c8 = np.asarray(c, dtype=np.uint8, order="C")
        qp = self.qparams(c8, scale, zero_point=zero_point)
        if c8.size == 0:
            return like(np.empty(c8.shape, np.float32), codes)
        c2d, block = qp.layout.to_2d(c8)
        s2d, z2d = qp.kernel_args()
        out = np.empty(c2d.shape, np.float32)
        if self._decode_kernel(c2d, s2d, z2d, block, out) or (c.dtype != np.uint8 and not np.array_equal(c8, c)):
            bad = c[(c < 0) | (c >= (1 << self.bits))].flat[0]
            raise QuantError(f"codes: {self.name} has codes 0..{(1 << self.bits) - 1}, got {int(bad)}")
        return like(qp.layout.from_2d(out), codes)

    def quantize(self, x, scale=None, *, zero_point=None, **choose):
        """decode(encode(x)) in one pass. Without a scale, one is chosen (see ``choose_qparams``)."""
        xa = to_numpy(x)
        if scale is None:
            from quant.choose import choose_qparams

            qp = choose_qparams(self, xa, **choose)
        else:
            qp = self.qparams(xa, scale, zero_point=zero_point)
        return like(self._run(xa, qp, "quantize"), x)

    def _run(self, xa: np.ndarray, qp: QParams, op: str) -> np.ndarray:
        if xa.size == 0:  # nothing to round (and no 2-D view of an empty block/channel layout)
            return np.empty(xa.shape, np.uint8 if op == "encode" else np.float32)
        x2d, block = qp.layout.to_2d(xa)
        s2d, z2d = qp.kernel_args()
        out = np.empty(x2d.shape, np.uint8 if op == "encode" else np.float32)
        check_kernel_flag(self._kernel(op, x2d, s2d, z2d, block, out), xa, self.name)
        return qp.layout.from_2d(out)

    def _decode_kernel(self, c2d, s2d, z2d, block, out) -> bool:
        """Fill ``out`` with the values of ``c2d``; True when some code is out of range."""
        return bool(K.lut_decode(c2d, s2d, z2d, block, self.decode_table, out))

    def _kernel(self, op, x2d, s2d, z2d, block, out) -> int:
        shift, thr, pair = self._buckets
        if op == "encode":
            return K.lut_encode(x2d, s2d, z2d, block, shift, thr, pair, out)
        return K.lut_quantize(x2d, s2d, z2d, block, shift, thr, pair, self.decode_table, out)

    # ------------------------------------------------------------------ storage
    def pack(self, codes) -> np.ndarray:
        return packing.pack(codes, self.bits)

    def unpack(self, data, count: int) -> np.ndarray:
        return packing.unpack(data, self.bits, count)


def check_kernel_flag(flagged, xa: np.ndarray, name: str):
    """Raise for NaN/Inf in ``xa`` when a quantising kernel flagged an all-ones exponent. The flag alone
    may be an overflowing x/scale, which the kernel saturated: x is only scanned when flagged."""
    if not flagged:
        return
    nonfinite = ~np.isfinite(xa)
    if not nonfinite.any():
        return
    idx = tuple(int(i) for i in np.argwhere(nonfinite)[0])
    raise QuantError(f"x: {int(nonfinite.sum())} non-finite value(s) (first {float(xa[idx])!r} at index {idx}); "
                     f"{name} cannot encode NaN or Inf")


def build_buckets(levels: np.ndarray, level_codes: np.ndarray, ties: str = "even"):
    """Tables for ``_kernels.lut_encode``: returns (shift, thr uint32[2^(9+k)], pair uint8[2^(10+k)]).

    k mantissa bits index the buckets; k grows until no bucket spans more than one rounding threshold.
    Each threshold is found by exact bisection over the bucket's float32 bit patterns.
    """
    code_to_idx = np.zeros(256, np.int64)
    code_to_idx[level_codes] = np.arange(len(levels))

    def level_index(v):  # index of the nearest level under the real tie rule (parity of the real codes)
        return code_to_idx[nearest_codes(v, levels, level_codes, ties)]

    for k in range(6, _MAX_BUCKET_BITS + 1):
        shift = 23 - k
        nb = 1 << (9 + k)
        lo_bits = (np.arange(nb, dtype=np.uint64) << np.uint64(shift)).astype(np.uint32)
        hi_bits = lo_bits + np.uint32((1 << shift) - 1)
        lo_v, hi_v = _finite(lo_bits), _finite(hi_bits)
        lo_i, hi_i = level_index(lo_v), level_index(hi_v)
        if np.abs(hi_i - lo_i).max() <= 1:
            break
    else:  # pragma: no cover - no shipped format needs more
        raise QuantError(f"level set too dense for a {_MAX_BUCKET_BITS}-bit bucket table")
    thr = np.full(nb, 0xFFFFFFFF, np.uint32)
    switch = np.nonzero(lo_i != hi_i)[0]
    a = lo_bits[switch] & np.uint32(0x7FFFFFFF)  # code(lo) holds at a
    b = hi_bits[switch] & np.uint32(0x7FFFFFFF)  # code(hi) holds at b
    sign = lo_bits[switch] & np.uint32(0x80000000)
    target = lo_i[switch]
    while True:  # invariant: code(a) == lo code, code(b) != lo code
        open_ = b - a > 1
        if not open_.any():
            break
        m = a + (b - a) // 2
        same = level_index(_finite(m | sign)) == target
        a = np.where(open_ & same, m, a)
        b = np.where(open_ & ~same, m, b)
    thr[switch] = a
    pair = np.empty(2 * nb, np.uint8)
    pair[0::2] = level_codes[lo_i]
    pair[1::2] = level_codes[hi_i]
    return np.int64(shift), thr, pair


def _finite(bits: np.ndarray) -> np.ndarray:
    """float32 values of bit patterns, with Inf/NaN patterns replaced by ±float32 max (they saturate)."""
    with np.errstate(invalid="ignore"):
        v = bits.astype(np.uint32).view(np.float32).astype(np.float64)
    big = np.float64(np.finfo(np.float32).max)
    return np.where(np.isfinite(v), v, np.where(np.signbit(v), -big, big))
