"""Code tables of the baseline formats DyBit competes with (SPEC §3.2), all at unit scale.

Each builder returns the value of every n-bit code (NaN for non-number codes). The loops run over at most
256 codes when a format is built, never over tensor elements. Sources are named per builder.
"""
from __future__ import annotations

import numpy as np

from quant.errors import QuantError


def _check_bits(name: str, n, lo: int = 2, hi: int = 8) -> None:
    if not isinstance(n, (int, np.integer)) or not lo <= n <= hi:
        raise QuantError(f"{name}: bits must be an integer in {lo}..{hi}, got {n!r}")


def _sign_magnitude(mags: np.ndarray) -> np.ndarray:
    """Codes 0..2^L−1 positive, 2^L.. the same magnitudes negated (code 2^L is −0)."""
    return np.concatenate([mags, -mags])


def int_values(n: int) -> np.ndarray:
    """Symmetric INT: two's-complement code, restricted range q ∈ [−(2^(n−1)−1), 2^(n−1)−1].

    The code −2^(n−1) is not a level (symmetric quantisation, as in TensorRT/PyTorch's 'narrow' range).
    """
    _check_bits("int", n)
    q = np.arange(1 << n)
    q = np.where(q >= 1 << (n - 1), q - (1 << n), q).astype(np.float64)
    q[1 << (n - 1)] = np.nan
    return q


def uint_values(n: int) -> np.ndarray:
    """Unsigned INT 0..2^n−1; with a zero point this is asymmetric (affine) INT quantisation."""
    _check_bits("uint", n)
    return np.arange(1 << n, dtype=np.float64)


def minifloat_values(e: int, m: int) -> np.ndarray:
    """1-bit sign, e exponent bits (bias 2^(e−1)−1), m mantissa bits, subnormals.

    Special values follow OCP (OCP 8-bit FP spec v1.0; OCP MX spec v1.0): e ≥ 5 is IEEE-like (top exponent
    is Inf/NaN, as E5M2); E4M3 is 'fn' (only S.1111.111 is NaN, max 448); smaller formats (E2M1, E2M3,
    E3M2, E3M0 …) have no Inf/NaN.
    """
    n = 1 + e + m
    if e < 1 or m < 0 or n > 8 or n < 2:
        raise QuantError(f"e{e}m{m}: need e ≥ 1, m ≥ 0 and 2 ≤ 1+e+m ≤ 8")
    bias = (1 << (e - 1)) - 1
    mags = np.empty(1 << (n - 1), np.float64)
    for c in range(1 << (n - 1)):
        E, M = c >> m, c & ((1 << m) - 1)
        mags[c] = (M / 2.0**m) * 2.0 ** (1 - bias) if E == 0 else (1 + M / 2.0**m) * 2.0 ** (E - bias)
    top = (1 << e) - 1
    if e >= 5:
        mags[top << m:] = np.nan
    elif e == 4 and m == 3:
        mags[-1] = np.nan
    return _sign_magnitude(mags)


def posit_values(n: int, es: int) -> np.ndarray:
    """posit(n, es) (Gustafson & Yonemoto 2017; posit standard 2022): two's complement, 10…0 = NaR."""
    _check_bits("posit", n)
    if not isinstance(es, (int, np.integer)) or not 0 <= es <= 3:
        raise QuantError(f"posit{n}: es must be an integer in 0..3, got {es!r}")
    vals = np.empty(1 << n, np.float64)
    for code in range(1 << n):
        if code == 0:
            vals[code] = 0.0
            continue
        if code == 1 << (n - 1):
            vals[code] = np.nan
            continue
        neg = code >> (n - 1)
        p = ((1 << n) - code) if neg else code
        bits = [(p >> i) & 1 for i in range(n - 2, -1, -1)]
        run = 1
        while run < len(bits) and bits[run] == bits[0]:
            run += 1
        k = run - 1 if bits[0] else -run
        rest = bits[run + 1:]
        exp_bits = rest[:es] + [0] * (es - len(rest[:es]))
        exp = int("".join(map(str, exp_bits)) or "0", 2)
        frac_bits = rest[es:]
        frac = sum(b / 2.0 ** (i + 1) for i, b in enumerate(frac_bits))
        val = 2.0 ** (k * (1 << es) + exp) * (1 + frac)
        vals[code] = -val if neg else val
    return vals


def flint_values(n: int) -> np.ndarray:
    """ANT's flint (Guo et al., MICRO 2022): leading-one exponent, int-like near 0, float-like at the top.

    As signed n-bit flint its magnitudes equal posit(n, 0)'s (checked in the tests). Codes are
    sign-magnitude with the magnitude code rising with the value.
    """
    _check_bits("flint", n, 3)
    p = posit_values(n, 0)
    mags = np.sort(p[: 1 << (n - 1)])
    return _sign_magnitude(mags)


def pot_values(n: int) -> np.ndarray:
    """Power-of-two (Miyashita et al. 2016; ANT's pot): magnitudes {0, 2^0 … 2^(2^(n−1)−2)}."""
    _check_bits("pot", n)
    L = n - 1
    mags = np.concatenate([[0.0], 2.0 ** np.arange((1 << L) - 1)])
    return _sign_magnitude(mags)


def apot_values(n: int) -> np.ndarray:
    """Additive powers-of-two (Li, Dong, Wang, ICLR 2020), L = n − 1 magnitude bits.

    L = 3 uses the authors' 3-bit construction ({2^-1, 2^-2, 2^-4} ⊕ {2^-3}); otherwise the L bits are
    split into 2-bit terms (the last 1 bit when L is odd); term i of t picks from
    {0, 2^-(i+1), 2^-(i+1+t), 2^-(i+1+2t)}. Levels are the raw dyadic sums (exact in float32); the
    scale absorbs APoT's γ.
    """
    _check_bits("apot", n, 3)
    L = n - 1
    if L == 3:
        terms = [[0.0, 2**-1, 2**-2, 2**-4], [0.0, 2**-3]]
    else:
        widths = [2] * (L // 2) + [1] * (L % 2)
        t = len(widths)
        terms = [[0.0] + [2.0 ** -(i + 1 + j * t) for j in range((1 << w) - 1)] for i, w in enumerate(widths)]
    mags = np.zeros(1)
    for term in terms:
        mags = (mags[:, None] + np.array(term)[None, :]).reshape(-1)
    mags = np.sort(mags)
    if len(np.unique(mags)) != len(mags):  # pragma: no cover - construction keeps terms disjoint
        raise QuantError(f"apot{n}: duplicate levels")
    return _sign_magnitude(mags)


def nf_values(n: int) -> np.ndarray:
    """NormalFloat (Dettmers et al., QLoRA 2023): normal quantiles, 2^(n−1) positive and 2^(n−1)−1
    negative levels plus an exact 0, normalised to [−1, 1]; offset 0.9677083 as in bitsandbytes.
    Code = rank of the level (the bitsandbytes NF4 code order)."""
    from scipy.stats import norm

    _check_bits("nf", n)
    offset = 0.9677083
    pos = norm.ppf(np.linspace(offset, 0.5, (1 << (n - 1)) + 1)[:-1])
    neg = -norm.ppf(np.linspace(offset, 0.5, 1 << (n - 1))[:-1])
    vals = np.sort(np.concatenate([pos, [0.0], neg]))
    vals = vals / np.abs(vals).max()
    return vals.astype(np.float32).astype(np.float64)


def adaptivfloat_values(n: int, e: int | None = None) -> np.ndarray:
    """AdaptivFloat (Tambe et al., DAC 2020): normals only, the smallest magnitude code becomes 0; the
    per-tensor exponent bias is the (power-of-two) scale. Default exponent bits: 2 for n ≤ 5, else 3."""
    _check_bits("adaptivfloat", n, 3)
    e = (2 if n <= 5 else 3) if e is None else e
    m = n - 1 - e
    if m < 0 or e < 1:
        raise QuantError(f"adaptivfloat{n}: exponent bits must be in 1..{n - 1}, got {e}")
    mags = np.array([(1 + (c & ((1 << m) - 1)) / 2.0**m) * 2.0 ** (c >> m) for c in range(1 << (n - 1))])
    mags[0] = 0.0
    return _sign_magnitude(mags)


def hifloat8_values() -> np.ndarray:
    """HiFloat8 (Luo et al., "Ascend HiFloat8 Format for Deep Learning", arXiv 2409.16626): sign, a prefix-coded
    dot field D (11 → 4, 10 → 3, 01 → 2, 001 → 1, 0001 → 0, 0000 → denormal), then a D-bit exponent in
    sign-magnitude with an implicit leading 1 (D = 0: E = 0; D = 1: ±1; D = 2: ±2..3; D = 3: ±4..7; D = 4:
    ±8..15) and the remaining 1–3 mantissa bits: value = 2^E·(1 + M/2^m). Denormal 0000 MMM: 2^(M − 23) for
    M = 1..7. 0x00 = 0, 0x80 = NaN, S 11 0111 1 = ±Inf (NaN here: not a level), so the largest finite
    magnitude is 2^15 (S 11 0111 0)."""
    vals = np.empty(256, np.float64)
    for code in range(256):
        s, a = code >> 7, code & 0x7F
        if a >> 5 == 0b11:
            d, rest = 4, a & 0x1F
        elif a >> 5 == 0b10:
            d, rest = 3, a & 0x1F
        elif a >> 5 == 0b01:
            d, rest = 2, a & 0x1F
        elif a >> 4 == 0b001:
            d, rest = 1, a & 0x0F
        elif a >> 3 == 0b0001:
            d, rest = 0, a & 0x07
        else:  # 0000 MMM: denormal
            mm = a & 0x07
            vals[code] = np.nan if mm == 0 and s else (0.0 if mm == 0 else 2.0 ** (mm - 23))
            vals[code] *= -1 if s and mm else 1
            continue
        m_bits = {4: 1, 3: 2, 2: 3, 1: 3, 0: 3}[d]
        exp_field, mant = rest >> m_bits, rest & ((1 << m_bits) - 1)
        if d == 0:
            e = 0
        else:
            e_sign, e_low = exp_field >> (d - 1), exp_field & ((1 << (d - 1)) - 1)
            e = ((1 << (d - 1)) | e_low) * (-1 if e_sign else 1)
        mag = 2.0**e * (1 + mant / 2.0**m_bits)
        if d == 4 and e == 15 and mant == 1:
            mag = np.nan  # ±Inf
        vals[code] = -mag if s else mag
    return vals
