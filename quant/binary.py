"""Binary (bit-plane) decomposition of integer matrix products — the compute form of EBS (Li et al.,
arXiv 2003.07577): W = Σ_i s_i B_i with B_i ∈ {0,1} and s_i = 2^i (the sign plane of a two's-complement
integer carries −2^(b−1)); likewise X. Then W·X = Σ_i Σ_j s_i s_j (B_i · C_j): b_w·b_a binary matrix
products (AND + popcount in hardware) scaled and accumulated — the deployment form Λ_w (B_w B_x) Λ_xᵀ.
"""
from __future__ import annotations

import numpy as np

from quant.errors import QuantError


def bitplanes(q, bits: int, *, signed: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(planes uint8 [bits, …], plane weights int64 [bits]) with q = Σ_i weight_i · plane_i exactly."""
    q = np.asarray(q)
    if not np.issubdtype(q.dtype, np.integer):
        raise QuantError(f"bitplanes: expected integers, got dtype {q.dtype}")
    if not isinstance(bits, (int, np.integer)) or not 1 <= bits <= 16:
        raise QuantError(f"bitplanes: bits must be in 1..16, got {bits!r}")
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if q.size and (q.min() < lo or q.max() > hi):
        raise QuantError(f"bitplanes: values must fit {'signed' if signed else 'unsigned'} {bits}-bit "
                         f"[{lo}, {hi}], got [{int(q.min())}, {int(q.max())}]")
    u = q.astype(np.int64) & ((1 << bits) - 1)  # two's complement bit pattern
    planes = np.stack([(u >> i) & 1 for i in range(bits)]).astype(np.uint8)
    weights = np.array([1 << i for i in range(bits)], dtype=np.int64)
    if signed:
        weights[-1] = -(1 << (bits - 1))
    return planes, weights


def binary_matmul(a, b, a_bits: int, b_bits: int, *, a_signed: bool = True, b_signed: bool = True) -> np.ndarray:
    """a @ b for integer matrices, computed as Σ_i Σ_j s_i t_j (A_i @ B_j) over binary planes (exact)."""
    pa, sa = bitplanes(a, a_bits, signed=a_signed)
    pb, sb = bitplanes(b, b_bits, signed=b_signed)
    out = np.zeros((np.shape(a)[0], np.shape(b)[1]), dtype=np.int64)
    for i in range(a_bits):
        for j in range(b_bits):  # b_w·b_a binary products: the popcount array's work
            out += sa[i] * sb[j] * (pa[i].astype(np.int64) @ pb[j].astype(np.int64))
    return out
