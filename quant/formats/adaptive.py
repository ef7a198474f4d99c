"""Formats that pick, per tensor, per output channel or per block, the best of several fixed grids.

``dybitN`` chooses the exponent cap (and scale) of DyBit(N, cap); ``antN`` chooses among INT, flint and
PoT as ANT does (Guo et al., MICRO 2022). The choice minimises the quantisation MSE of each group.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quant._arrays import like, to_numpy
from quant.choose import choose_qparams, group_sse
from quant.errors import QuantError
from quant.scaling import Layout, QParams


@dataclass
class AdaptiveParams:
    """Per-group choice (index into ``candidates``) and the scale chosen with it."""

    choice: np.ndarray
    qparams: QParams
    candidates: tuple

    def chosen_names(self) -> np.ndarray:
        return np.array([self.candidates[i] for i in self.choice.reshape(-1)]).reshape(self.choice.shape)

    def __repr__(self) -> str:
        names, counts = np.unique(self.chosen_names(), return_counts=True)
        picks = ", ".join(f"{n}×{c}" for n, c in zip(names, counts, strict=False))
        return f"AdaptiveParams({self.qparams.layout.granularity}: {picks})"


class AdaptiveFormat:
    family = "adaptive"
    affine = False

    def __init__(self, name: str, bits: int, candidates, description: str = ""):
        self.name, self.bits, self.candidates = name, bits, tuple(candidates)
        self.description = description

    def __repr__(self) -> str:
        return f"AdaptiveFormat({self.name!r}, bits={self.bits}, candidates={[c.name for c in self.candidates]})"

    @property
    def levels(self):
        raise QuantError(f"{self.name}: the grid is chosen per tensor, channel or block from "
                         f"{[c.name for c in self.candidates]}; ask a candidate for its levels")

    def fit(self, x, *, granularity: str = "tensor", axis: int | None = None, block: int | None = None,
            method: str = "mse", percentile: float = 99.9, pow2: bool = False) -> AdaptiveParams:
        """Choose, for each scale group, the candidate (and its scale) with the least squared error. Groups
        are the whole tensor, each slice along ``axis`` (default 0) or blocks of ``block`` values along
        ``axis`` (default: the last axis, 32 values), as in ``choose_qparams``; ``pow2`` restricts the scales
        to powers of two."""
        if granularity not in ("tensor", "channel", "block"):
            raise QuantError(f"{self.name}: granularity must be 'tensor', 'channel' or 'block', got {granularity!r}")
        if block is not None and granularity != "block":
            raise QuantError(f"block: {block!r} given with granularity {granularity!r}; use granularity='block'")
        xa = to_numpy(x)
        axis = (-1 if granularity == "block" else 0) if axis is None else axis
        if granularity == "block" and block is None:
            block = self.candidates[0].default_block
        lay = Layout(tuple(xa.shape), granularity, axis, 1 if block is None else block)
        if xa.size == 0:  # an empty tensor: the first candidate at unit scale
            return AdaptiveParams(np.zeros(lay.scale_shape, np.int64), QParams(np.ones(lay.scale_shape, np.float32),
                                  lay, method=method), tuple(c.name for c in self.candidates))
        g = lay.groups(xa)
        best_err = np.full(g.shape[0], np.inf)
        choice = np.zeros(g.shape[0], np.int64)
        scale = np.ones(g.shape[0], np.float32)
        for i, cand in enumerate(self.candidates):
            qp = choose_qparams(cand, xa, method, granularity=granularity, axis=axis, block=block,
                                percentile=percentile, pow2=pow2)
            s = lay.scale_to_2d(qp.scale).reshape(-1)  # one scale per row of g, in the same order
            err = group_sse(cand, g, s)
            better = err < best_err
            best_err = np.where(better, err, best_err)
            choice = np.where(better, i, choice)
            scale = np.where(better, s, scale)
        qp = QParams(lay.groups_to_scale(scale), lay, method=method)
        return AdaptiveParams(lay.groups_to_scale(choice).astype(np.int64), qp,
                              tuple(c.name for c in self.candidates))

    def _per_candidate(self, x, params: AdaptiveParams, op: str, out_dtype):
        arr = to_numpy(x, dtype=None if op == "decode" else np.float32)
        if not isinstance(params, AdaptiveParams):
            raise QuantError(f"{self.name}: pass the AdaptiveParams returned by fit(), not {type(params).__name__}")
        lay = params.qparams.layout
        # one per-tensor choice applies to a tensor of any shape; per-channel/per-block choices to their own
        pick = np.broadcast_to(params.choice, arr.shape) if lay.granularity == "tensor" else lay.expand(params.choice)
        if pick.shape != arr.shape:
            raise QuantError(f"{self.name}: these AdaptiveParams were fit on shape {lay.shape}, got {arr.shape}")
        out = np.empty(arr.shape, out_dtype)
        for i, cand in enumerate(self.candidates):
            where = pick == i
            if where.any():
                res = getattr(cand, op)(arr, params.qparams)
                out[where] = res[where]
        return out

    def encode(self, x, params: AdaptiveParams):
        return like(self._per_candidate(x, params, "encode", np.uint8), x)

    def decode(self, codes, params: AdaptiveParams):
        return like(self._per_candidate(codes, params, "decode", np.float32), codes)

    def quantize(self, x, params: AdaptiveParams | None = None, *, granularity: str = "tensor",
                 axis: int | None = None, block: int | None = None, method: str = "mse", pow2: bool = False):
        params = params or self.fit(x, granularity=granularity, axis=axis, block=block, method=method, pow2=pow2)
        return like(self._per_candidate(x, params, "quantize", np.float32), x)

    def pack(self, codes):
        return self.candidates[0].pack(codes)

    def unpack(self, data, count):
        return self.candidates[0].unpack(data, count)


class PassThroughFormat:
    """fp32 / fp16 / bf16: 'not quantised' at that storage width; quantize rounds to it (RNE)."""

    family = "float"
    affine = False

    def __init__(self, name: str, bits: int):
        self.name, self.bits = name, bits

    def __repr__(self) -> str:
        return f"PassThroughFormat({self.name!r}, bits={self.bits})"

    @property
    def levels(self):
        raise QuantError(f"{self.name}: a {self.bits}-bit float has no small level table")

    def encode(self, x, scale=None, **_):
        raise QuantError(f"{self.name}: encode/decode are for coded formats of ≤ 8 bits; "
                         f"{self.name} tensors are stored as they are")

    decode = encode

    def quantize(self, x, scale=None, **_):
        xa = to_numpy(x)
        if self.name == "fp16":
            out = xa.astype(np.float16).astype(np.float32)
        elif self.name == "bf16":
            u = xa.view(np.uint32)
            rounded = (u + np.uint32(0x7FFF) + ((u >> 16) & 1)) & np.uint32(0xFFFF0000)
            out = np.where(np.isfinite(xa), rounded.view(np.float32), xa)
        else:
            out = xa.copy()
        return like(out, x)
