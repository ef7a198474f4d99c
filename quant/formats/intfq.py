"""Arithmetic INT fake-quant, (clip(rint(x/s + zp), qmin, qmax) − zp)·s: the speed reference for DyBit.

Gives the same result as ``get_format("intN").quantize`` (symmetric, narrow range) or, with
``unsigned=True`` and a zero point, ``get_format("uintN")``; it exists so that the codec benchmark can hold
DyBit against the cheapest possible INT quantiser.
"""
from __future__ import annotations

import numpy as np

from quant._arrays import like, to_numpy
from quant.errors import QuantError
from quant.formats import _kernels as K
from quant.formats.base import NumberFormat, check_kernel_flag
from quant.scaling import QParams, as_qparams


def int_fake_quant(x, scale, bits: int, *, zero_point=None, unsigned: bool = False):
    if not isinstance(bits, (int, np.integer)) or not 2 <= bits <= 8:
        raise QuantError(f"bits: must be an integer in 2..8, got {bits!r}")
    xa = to_numpy(x)
    qp = as_qparams(scale, xa.shape)
    if zero_point is not None:
        qp = QParams(qp.scale, qp.layout, zero_point=zero_point)
    qmin, qmax = (0, (1 << bits) - 1) if unsigned else (-((1 << (bits - 1)) - 1), (1 << (bits - 1)) - 1)
    x2d, block = qp.layout.to_2d(xa)
    s2d, z2d = qp.kernel_args()
    out = np.empty(x2d.shape, np.float32)
    check_kernel_flag(K.int_fake_quant(x2d, s2d, z2d, block, np.float32(qmin), np.float32(qmax), out), xa, f"int{bits}")
    return like(qp.layout.from_2d(out), x)


class IntFormat(NumberFormat):
    """INT formats: encode through the exact LUT codec, quantize through the arithmetic kernel."""

    family = "int"

    def _kernel(self, op, x2d, s2d, z2d, block, out) -> int:
        if op != "quantize":
            return super()._kernel(op, x2d, s2d, z2d, block, out)
        return K.int_fake_quant(x2d, s2d, z2d, block, np.float32(self.levels.min()), np.float32(self.levels.max()),
                                out)
