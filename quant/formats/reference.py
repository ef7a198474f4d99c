"""Exact nearest-level rounding, vectorised in float64: builds the fast tables and checks them.

A level table is a list of distinct float32-representable values (sorted) with the code of each. The
value ``v`` (a float32) rounds to the nearest level; an exact midpoint goes to the level with the even
code (if both codes have the same parity, to the one nearer zero); values past either end saturate.
Midpoints of two float32 numbers are exact in float64, so every comparison below is exact.
"""
from __future__ import annotations

import numpy as np


def nearest_codes(v: np.ndarray, levels: np.ndarray, level_codes: np.ndarray, ties: str = "even") -> np.ndarray:
    """Codes of the nearest levels to ``v`` (any float array; compared exactly in float64). ``ties="away"``
    sends an exact midpoint to the level of larger magnitude instead (HiFloat8's rounding)."""
    v = np.asarray(v, dtype=np.float64)
    levels = np.asarray(levels, dtype=np.float64)
    hi = np.clip(np.searchsorted(levels, v, side="left"), 1, len(levels) - 1)
    lo = hi - 1
    lv, hv = levels[lo], levels[hi]
    mid = (lv + hv) / 2.0
    lo_code, hi_code = level_codes[lo], level_codes[hi]
    if ties == "away":
        tie_up = np.abs(hv) > np.abs(lv)
    else:
        tie_up = ((hi_code % 2) == 0) & ((lo_code % 2) == 1)
        same_parity = (hi_code % 2) == (lo_code % 2)
        tie_up |= same_parity & (np.abs(hv) < np.abs(lv))
    pick_hi = (v > mid) | ((v == mid) & tie_up)
    return np.where(pick_hi, hi_code, lo_code).astype(level_codes.dtype)


def slow_nearest_code(v: float, levels, level_codes, ties: str = "even") -> int:
    """One value at a time with exact rationals: the independent oracle the tests compare against."""
    from fractions import Fraction

    fv = Fraction(float(v))
    best = None
    for lvl, code in zip(levels, level_codes, strict=False):
        d = abs(Fraction(float(lvl)) - fv)
        mag = abs(Fraction(float(lvl)))
        key = (d, -mag) if ties == "away" else (d, int(code) % 2, mag)
        if best is None or key < best[0]:
            best = (key, int(code))
    return best[1]
