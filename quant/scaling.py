"""Scale granularity (per tensor / per channel on any axis / per block / per element) and ``QParams``.

Every codec kernel sees a tensor as a 2-D grouped view (see ``quant.formats._kernels``); ``Layout`` is
the one place that turns a user's shape + granularity into that view and back.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from quant._arrays import to_numpy
from quant.errors import QuantError

GRANULARITIES = ("tensor", "channel", "block", "element")


@dataclass(frozen=True)
class Layout:
    """How scales map onto a tensor of ``shape``."""

    shape: tuple
    granularity: str = "tensor"
    axis: int = 0
    block: int = 32

    def __post_init__(self):
        if self.granularity not in GRANULARITIES:
            raise QuantError(f"granularity: {self.granularity!r} is not one of {', '.join(GRANULARITIES)}")
        if self.granularity in ("channel", "block"):
            nd = len(self.shape)
            if nd == 0 or not -nd <= self.axis < nd:
                raise QuantError(f"axis: {self.axis} is out of range for a tensor of shape {self.shape}")
            object.__setattr__(self, "axis", self.axis % nd)
        if self.granularity == "block" and (not isinstance(self.block, (int, np.integer)) or self.block < 1):
            raise QuantError(f"block: block size must be a positive integer, got {self.block!r}")

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def scale_shape(self) -> tuple:
        """Shape of the compact scale array users see (broadcastable for tensor/channel)."""
        if self.granularity == "tensor":
            return ()
        if self.granularity == "element":
            return tuple(self.shape)
        if self.granularity == "channel":
            return tuple(n if i == self.axis else 1 for i, n in enumerate(self.shape))
        n = self.shape[self.axis]
        nb = -(-n // self.block)
        return tuple(nb if i == self.axis else s for i, s in enumerate(self.shape))

    def to_2d(self, x: np.ndarray) -> tuple[np.ndarray, int]:
        """(R × D view of x, block) for the kernels; a copy only for blocks along a non-last axis."""
        n = self.size
        if self.granularity == "tensor":
            return x.reshape(1, n), max(n, 1)
        if self.granularity == "element":
            return x.reshape(n, 1), 1
        a = self.axis
        inner = int(np.prod(self.shape[a + 1:], dtype=np.int64))
        if self.granularity == "channel":
            return x.reshape(-1, inner) if n else x.reshape(0, 1), max(inner, 1)
        moved = np.ascontiguousarray(np.moveaxis(x, a, -1))
        return moved.reshape(-1, self.shape[a]) if n else moved.reshape(0, 1), self.block

    def from_2d(self, y2d: np.ndarray) -> np.ndarray:
        if self.granularity == "block":
            moved_shape = tuple(s for i, s in enumerate(self.shape) if i != self.axis) + (self.shape[self.axis],)
            return np.moveaxis(y2d.reshape(moved_shape), -1, self.axis)
        return y2d.reshape(self.shape)

    def scale_to_2d(self, s: np.ndarray) -> np.ndarray:
        """Compact scale (``scale_shape``) → (Rs × NB) float32 matching ``to_2d``."""
        s = np.asarray(s, dtype=np.float32)
        if self.granularity == "tensor":
            return s.reshape(1, 1)
        if self.granularity == "element":
            return s.reshape(-1, 1)
        if self.granularity == "channel":
            return np.ascontiguousarray(s.reshape(-1, 1))
        return np.ascontiguousarray(np.moveaxis(s, self.axis, -1)).reshape(-1, s.shape[self.axis])

    def expand(self, compact: np.ndarray) -> np.ndarray:
        """A per-group array in compact form (``scale_shape``) → one value per element of the tensor."""
        compact = np.asarray(compact)
        if self.granularity == "block":
            full = np.repeat(compact, self.block, axis=self.axis)
            compact = np.take(full, np.arange(self.shape[self.axis]), axis=self.axis)
        return np.broadcast_to(compact, self.shape)

    def groups(self, x: np.ndarray) -> np.ndarray:
        """(G × M) array with one row per scale group, for statistics; blocks are zero-padded."""
        if self.granularity == "tensor":
            return x.reshape(1, -1)
        if self.granularity == "element":
            return x.reshape(-1, 1)
        if self.granularity == "channel":
            return np.moveaxis(x, self.axis, 0).reshape(self.shape[self.axis], -1)
        x2d, b = self.to_2d(x)
        d = x2d.shape[1]
        nb = -(-d // b)
        pad = nb * b - d
        if pad:
            x2d = np.concatenate([x2d, np.zeros((x2d.shape[0], pad), x2d.dtype)], axis=1)
        return x2d.reshape(-1, b)

    def groups_to_scale(self, g: np.ndarray) -> np.ndarray:
        """Per-group values (G,) in ``groups`` order → compact scale array (``scale_shape``)."""
        g = np.asarray(g, dtype=np.float32)
        if self.granularity == "block":
            moved = tuple(s for i, s in enumerate(self.scale_shape) if i != self.axis)
            moved += (self.scale_shape[self.axis],)
            return np.ascontiguousarray(np.moveaxis(g.reshape(moved), -1, self.axis))
        return g.reshape(self.scale_shape)


@dataclass
class QParams:
    """Scale (and zero point, for affine formats) of one quantised tensor, in compact form."""

    scale: np.ndarray
    layout: Layout
    zero_point: np.ndarray | None = None
    method: str = "given"
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        self.scale = np.asarray(self.scale, dtype=np.float32).reshape(self.layout.scale_shape)
        check_scale(self.scale)
        if self.zero_point is not None:
            self.zero_point = np.asarray(self.zero_point, dtype=np.float32).reshape(self.layout.scale_shape)

    def kernel_args(self) -> tuple[np.ndarray, np.ndarray]:
        s2d = self.layout.scale_to_2d(self.scale)
        z2d = np.zeros_like(s2d) if self.zero_point is None else self.layout.scale_to_2d(self.zero_point)
        return s2d, z2d

    def __repr__(self) -> str:
        lay = self.layout
        where = {"channel": f", axis={lay.axis}", "block": f", axis={lay.axis}, block={lay.block}"}
        return (f"QParams({lay.granularity}{where.get(lay.granularity, '')}, method={self.method!r}, "
                f"scale shape={self.scale.shape}, scale range=[{self.scale.min():.4g}, {self.scale.max():.4g}]"
                f"{', affine' if self.zero_point is not None else ''})") if self.scale.size else "QParams(empty)"


def check_scale(scale: np.ndarray) -> None:
    bad = ~(np.isfinite(scale) & (scale > 0))
    if bad.any():
        first = np.argwhere(bad)[0]
        val = scale[tuple(first)] if scale.ndim else scale[()]
        where = f" at index {tuple(int(i) for i in first)}" if scale.ndim else ""
        raise QuantError(f"scale: must be finite and > 0, got {float(val)!r}{where} "
                         f"({int(bad.sum())} bad value(s))")


def as_qparams(scale, shape: tuple) -> QParams:
    """Accept a QParams, a scalar, or an array broadcastable to ``shape`` (channel or element-wise)."""
    if isinstance(scale, QParams):
        if scale.layout.granularity == "tensor" and tuple(scale.layout.shape) != tuple(shape):
            return QParams(scale.scale, Layout(tuple(shape)), scale.zero_point, scale.method)
        if tuple(scale.layout.shape) != tuple(shape):
            raise QuantError(f"scale: QParams were made for shape {scale.layout.shape}, tensor has shape {shape}")
        return scale
    if scale is None:
        raise QuantError("scale: required (pass a number, an array or QParams from choose_qparams)")
    s = to_numpy(scale, what="scale")
    if s.size == 1:
        return QParams(s.reshape(()), Layout(tuple(shape)))
    if s.ndim == len(shape):
        wide = [i for i, (a, b) in enumerate(zip(s.shape, shape, strict=False)) if a != 1]
        if len(wide) == 1 and s.shape[wide[0]] == shape[wide[0]]:
            return QParams(s, Layout(tuple(shape), "channel", axis=wide[0]))
    try:
        full = np.broadcast_to(s, shape)
    except ValueError:
        raise QuantError(f"scale: shape {s.shape} does not broadcast to the tensor's shape {tuple(shape)}") from None
    return QParams(np.ascontiguousarray(full), Layout(tuple(shape), "element"))
