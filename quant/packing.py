"""Bit-packing of n-bit codes into a byte stream (MSB first) and back, for any n in 1..8 and any length."""
from __future__ import annotations

import numpy as np

from quant._arrays import to_numpy
from quant.errors import QuantError


def _check_bits(bits: int) -> None:
    if not isinstance(bits, (int, np.integer)) or not 1 <= bits <= 8:
        raise QuantError(f"bits: must be an integer in 1..8, got {bits!r}")


def packed_nbytes(count: int, bits: int) -> int:
    return (count * bits + 7) // 8


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
    unpacked = np.unpackbits(c.astype(np.uint8)[:, None], axis=1)[:, 8 - bits:]
    return np.packbits(unpacked.reshape(-1))


def unpack(data, bits: int, count: int) -> np.ndarray:
    """Inverse of ``pack``: the first ``count`` codes as uint8."""
    _check_bits(bits)
    d = to_numpy(data, what="data", dtype=None).reshape(-1)
    if not np.issubdtype(d.dtype, np.integer) or (d.size and (d.min() < 0 or d.max() > 255)):
        raise QuantError(f"data: expected bytes (integers in 0..255), got dtype {d.dtype}"
                         + (f", range [{d.min()}, {d.max()}]" if d.size and np.issubdtype(d.dtype, np.number) else ""))
    d = d.astype(np.uint8, copy=False)
    need = packed_nbytes(count, bits)
    if count < 0 or d.size < need:
        raise QuantError(f"data: {count} codes of {bits} bits need {need} bytes, got {d.size}")
    if bits == 8:
        return d[:count].copy()
    stream = np.unpackbits(d[:need])[: count * bits].reshape(count, bits)
    weights = (1 << np.arange(bits - 1, -1, -1)).astype(np.uint8)
    return (stream * weights).sum(axis=1, dtype=np.uint16).astype(np.uint8)
