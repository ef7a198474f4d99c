"""Bit-packing of n-bit codes into a byte stream (MSB first) and back, for any n in 1..8 and any length.

Eight n-bit codes are exactly n bytes, so both directions work on groups of 8 codes held in one 64-bit
word (compiled; the stream is zero-padded to whole groups and cut back to ⌈count·n/8⌉ bytes).
"""
from __future__ import annotations

import numba as nb
import numpy as np

from quant._arrays import to_numpy
from quant.errors import QuantError


def _check_bits(bits: int) -> None:
    if not isinstance(bits, (int, np.integer)) or not 1 <= bits <= 8:
        raise QuantError(f"bits: must be an integer in 1..8, got {bits!r}")


def packed_nbytes(count: int, bits: int) -> int:
    return (count * bits + 7) // 8


@nb.njit(cache=True, nogil=True, boundscheck=False)
def _pack_groups(codes, bits, out):
    nbits = np.uint64(bits)
    for g in range(codes.shape[0] // 8):
        word = np.uint64(0)
        for j in range(8):
            word = (word << nbits) | np.uint64(codes[8 * g + j])
        for k in range(bits):
            out[bits * g + k] = np.uint8((word >> np.uint64(8 * (bits - 1 - k))) & np.uint64(0xFF))


@nb.njit(cache=True, nogil=True, boundscheck=False)
def _unpack_groups(data, bits, out):
    nbits, mask = np.uint64(bits), np.uint64((1 << bits) - 1)
    for g in range(out.shape[0] // 8):
        word = np.uint64(0)
        for k in range(bits):
            word = (word << np.uint64(8)) | np.uint64(data[bits * g + k])
        for j in range(8):
            out[8 * g + 7 - j] = np.uint8((word >> (nbits * np.uint64(j))) & mask)


def pack(codes, bits: int) -> np.ndarray:
    """Flatten ``codes`` (C order) and pack ``bits`` bits of each into uint8, zero-padded at the end."""
    _check_bits(bits)
    c = to_numpy(codes, what="codes", dtype=None).reshape(-1)
    if not np.issubdtype(c.dtype, np.integer):
        raise QuantError(f"codes: expected integers, got dtype {c.dtype}")
    if c.size and (c.min() < 0 or c.max() >= (1 << bits)):
        raise QuantError(f"codes: values must be in 0..{(1 << bits) - 1} for {bits}-bit packing, "
                         f"got range [{int(c.min())}, {int(c.max())}]")
    if bits == 8:
        return c.astype(np.uint8)
    groups = -(-c.size // 8)
    padded = np.zeros(groups * 8, np.uint8)
    padded[:c.size] = c
    out = np.empty(groups * bits, np.uint8)
    _pack_groups(padded, bits, out)
    return out[:packed_nbytes(c.size, bits)]


def unpack(data, bits: int, count: int) -> np.ndarray:
    """Inverse of ``pack``: the first ``count`` codes as uint8."""
    _check_bits(bits)
    d = to_numpy(data, what="data", dtype=None).reshape(-1)
    if not np.issubdtype(d.dtype, np.integer) or (d.size and (d.min() < 0 or d.max() > 255)):
        raise QuantError(f"data: expected bytes (integers in 0..255), got dtype {d.dtype}"
                         + (f", range [{d.min()}, {d.max()}]" if d.size and np.issubdtype(d.dtype, np.number) else ""))
    d = d.astype(np.uint8, copy=False)
    if not isinstance(count, (int, np.integer)) or count < 0:
        raise QuantError(f"count: must be a non-negative integer, got {count!r}")
    need = packed_nbytes(count, bits)
    if d.size < need:
        raise QuantError(f"data: {count} codes of {bits} bits need {need} bytes, got {d.size}")
    if bits == 8:
        return d[:count].copy()
    groups = -(-count // 8)
    padded = np.zeros(groups * bits, np.uint8)
    padded[:need] = d[:need]
    out = np.empty(groups * 8, np.uint8)
    _unpack_groups(padded, bits, out)
    return out[:count]
