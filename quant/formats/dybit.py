"""DyBit(n, cap): sign, a run-length exponent closed by a separator bit, mantissa filling the rest.

Definition (SPEC §3.1). n ∈ 2..8 bits: 1 sign bit and L = n − 1 magnitude bits read MSB first.
``e`` is the number of leading 1s, counting stops at ``cap`` (1 ≤ cap ≤ L). If e < cap the next bit is
the separator 0 and is consumed; the remaining m bits are the mantissa M.
magnitude = M / 2^m when e = 0, else 2^(e−1)·(1 + M/2^m); value = (−1)^s · scale · magnitude.
The DyBit paper describes the format in these terms but does not publish bit tables; ``cap`` is this
project's parameterisation of where the exponent run stops (cap = 1: uniform grid; cap = L: the same
magnitudes as posit(n, 0) and ANT's flint).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from quant._arrays import to_numpy
from quant.errors import QuantError
from quant.formats import _kernels as K
from quant.formats import _simd
from quant.formats.base import NumberFormat


def check_dybit_params(n, cap) -> None:
    if not isinstance(n, (int, np.integer)) or not 2 <= n <= 8:
        raise QuantError(f"dybit: bits must be an integer in 2..8, got {n!r}")
    L = n - 1
    if not isinstance(cap, (int, np.integer)) or not 1 <= cap <= L:
        raise QuantError(f"dybit{n}: cap must be an integer in 1..{L} (= bits - 1), got {cap!r}")


def parse_magnitude(mag: int, L: int, cap: int) -> tuple[int, int, int]:
    """(e, M, m) of an L-bit magnitude field, read bit by bit as the hardware decoder does."""
    e, pos = 0, L - 1
    while e < cap and pos >= 0 and (mag >> pos) & 1:
        e += 1
        pos -= 1
    if e < cap:
        pos -= 1  # the separator 0
    m = pos + 1
    return e, mag & ((1 << m) - 1) if m > 0 else 0, m


def dybit_code_values(n: int, cap: int) -> np.ndarray:
    check_dybit_params(n, cap)
    L = n - 1
    vals = np.empty(1 << n, np.float64)
    for code in range(1 << n):  # table construction: 2^n codes, not a per-element loop
        e, M, m = parse_magnitude(code & ((1 << L) - 1), L, cap)
        mag = M / 2.0**m if e == 0 else 2.0 ** (e - 1) * (1 + M / 2.0**m)
        vals[code] = -mag if code >> L else mag
    return vals


def dybit_wide_code_values(n: int, cap: int, es: int) -> np.ndarray:
    """DyBit(n, cap) whose run-length exponent steps by 2^es binades (this project's extension, like posit's
    ``es``): for e ≥ 1 the first ``es`` bits after the run (and separator) are an exponent x — cut short, missing
    low bits read as 0, when the field runs out, as in posits — and the rest is the mantissa:
    magnitude = 2^((e−1)·2^es + x)·(1 + M/2^m); e = 0 stays M/2^m. es = 0 is ``dybit_code_values``."""
    check_dybit_params(n, cap)
    if not isinstance(es, (int, np.integer)) or not 0 <= es <= 2:
        raise QuantError(f"dybit{n}c{cap}: exponent step es must be an integer in 0..2, got {es!r}")
    L = n - 1
    vals = np.empty(1 << n, np.float64)
    for code in range(1 << n):  # table construction: 2^n codes, not a per-element loop
        e, M, m = parse_magnitude(code & ((1 << L) - 1), L, cap)
        if e == 0:
            mag = M / 2.0**m
        else:
            xb = min(es, m)
            x, m2 = (M >> (m - xb)) << (es - xb), m - xb
            mag = 2.0 ** ((e - 1) * (1 << es) + x) * (1 + (M & ((1 << m2) - 1)) / 2.0**m2)
        vals[code] = -mag if code >> L else mag
    return vals


class WideDyBitFormat(NumberFormat):
    """``dybitNcKeS``: DyBit(N, cap K) with exponent step 2^S (S = 1, 2), through the exact LUT codec."""

    family = "dybit_wide"

    def __init__(self, n: int, cap: int, es: int):
        super().__init__(f"dybit{n}c{cap}e{es}", n, dybit_wide_code_values(n, cap, es),
                         description=f"DyBit {n}-bit, exponent run capped at {cap}, each run step 2^{es} binades "
                                     f"(project extension)")
        self.L, self.cap, self.es = n - 1, cap, es

    @property
    def hardware(self) -> HardwareView:
        """Operand widths, with DyBit's convention: each code is an integer significand (hidden 1 + the mantissa
        left after the exponent bits; region 0: M) times 2^(exponent − mantissa bits); the multiplier takes the
        widest significand (+ sign), the shifter spans the exponents."""
        L, sig, shifts = self.L, 1, []
        for mag in range(1 << L):  # 2^L codes: a table, not data
            e, M, m = parse_magnitude(mag, L, self.cap)
            if e == 0:
                s_int, t = M, -m
            else:
                xb = min(self.es, m)
                x, m2 = (M >> (m - xb)) << (self.es - xb), m - xb
                s_int, t = (1 << m2) + (M & ((1 << m2) - 1)), (e - 1) * (1 << self.es) + x - m2
            sig = max(sig, int(s_int).bit_length())
            shifts.append(t)
        max_shift = max(shifts) - min(shifts)
        return HardwareView(self.bits, self.cap, sig, max_shift, int(max_shift).bit_length())


@dataclass(frozen=True)
class HardwareView:
    """What the accelerator's DyBit decoder sees for (n, cap): operand widths it multiplies at."""

    bits: int
    cap: int
    significand_bits: int  # unsigned integer significand width
    max_shift: int
    shift_bits: int

    @property
    def multiplier_bits(self) -> int:
        """Signed operand width entering the multiplier (sign-magnitude significand)."""
        return self.significand_bits + 1


class DyBitFormat(NumberFormat):
    family = "dybit"

    def __init__(self, n: int, cap: int):
        check_dybit_params(n, cap)
        self.L, self.cap = n - 1, cap
        super().__init__(f"dybit{n}c{cap}", n, dybit_code_values(n, cap),
                         description=f"DyBit {n}-bit, exponent run capped at {cap}")

    # The fast path is arithmetic (no table gathers), so it vectorises like INT fake-quant; quantize takes
    # the AVX-512 register-table loop where the CPU has one (same bits, 9 vector ops instead of 12).
    def _kernel(self, op, x2d, s2d, z2d, block, out) -> int:
        if op == "encode":
            return K.dybit_encode(x2d, s2d, block, self.L, self.cap, out)
        if _simd.AVAILABLE:
            return _simd.dybit_quantize(x2d, s2d, block, self.L, self.cap, self._region_table, out)
        return K.dybit_quantize(x2d, s2d, block, self.L, self.cap, out)

    @cached_property
    def _region_table(self) -> np.ndarray:
        return _simd.region_table(self.L, self.cap)

    def _decode_kernel(self, c2d, s2d, z2d, block, out) -> bool:
        code_max_bits = K.dybit_decode(c2d, s2d, block, self.L, self.cap, out)
        return code_max_bits >= np.float32(2 << self.L).view(np.int32)

    # ------------------------------------------------------------------ hardware view
    @property
    def hardware(self) -> HardwareView:
        L, cap = self.L, self.cap
        sig = L if cap == 1 else max(L - 1, 1)
        max_shift = 2 * cap - 2
        return HardwareView(self.bits, cap, sig, max_shift, int(max_shift).bit_length())

    def fields(self, codes):
        """code → (sign, exponent run e, mantissa M, mantissa width m), each a uint8 array."""
        c = self._codes(codes)
        table = np.array([(code >> self.L,) + parse_magnitude(code & ((1 << self.L) - 1), self.L, self.cap)
                          for code in range(1 << self.bits)], dtype=np.uint8)
        return tuple(table[c, i] for i in range(4))

    def significand_shift(self, codes):
        """code → (signed integer significand, left shift) with value·2^(L−1) = significand << shift."""
        c = self._codes(codes)
        sig = np.zeros(1 << self.bits, np.int16)
        shift = np.zeros(1 << self.bits, np.uint8)
        for code in range(1 << self.bits):
            e, M, m = parse_magnitude(code & ((1 << self.L) - 1), self.L, self.cap)
            s_int, sh = (M, 0) if e == 0 else ((1 << m) + M, e - 2 + self.L - m)
            sig[code] = -s_int if code >> self.L else s_int
            shift[code] = sh
        return sig[c], shift[c]

    def _codes(self, codes) -> np.ndarray:
        c = to_numpy(codes, what="codes", dtype=None)
        if not np.issubdtype(c.dtype, np.integer) or (c.size and (c.min() < 0 or c.max() >= 1 << self.bits)):
            raise QuantError(f"codes: {self.name} takes integer codes in 0..{(1 << self.bits) - 1}")
        return c.astype(np.int64)
