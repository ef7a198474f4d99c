"""Scale selection: ``max``, ``percentile`` and MSE-optimal clipping, per tensor / channel / block.

Vectorised over groups: the MSE search quantises the whole grouped tensor once per candidate scale (a loop
over 41 clip ratios 0.2–1 plus a few to many ratios above 1 for formats whose precision tapers toward
their maximum, see ``mse_ratios``; never over elements) and keeps, per group, the scale with the lowest
error.
Power-of-two formats (AdaptivFloat, OCP MX) search over exponents instead. An all-zero group gets
scale 1 (any scale represents it exactly).
"""
from __future__ import annotations

import math

import numpy as np

from quant._arrays import to_numpy
from quant.errors import QuantError
from quant.scaling import Layout, QParams

METHODS = ("max", "percentile", "mse", "mx")
MSE_RATIOS = np.linspace(0.2, 1.0, 41, dtype=np.float32)


def choose_qparams(fmt, x, method: str | None = None, *, granularity: str | None = None, axis: int | None = None,
                   block: int | None = None, percentile: float = 99.9, pow2: bool = False) -> QParams:
    """Pick the scale (and zero point for affine formats) of ``x`` for ``fmt``. ``pow2=True`` restricts the
    scales to powers of two (E8M0 scales, shift-only rescaling), as the format's own rule does for
    ``adaptivfloat`` and the MX formats. For an adaptive format (``dybitN``, ``antN``) this is ``fmt.fit``: the
    per-group choice of grid with its scales (``AdaptiveParams``), which its ``quantize``/``encode`` take."""
    if getattr(fmt, "family", "") == "adaptive":
        return fmt.fit(x, granularity=granularity or "tensor", axis=axis, block=block, method=method or "mse",
                       percentile=percentile, pow2=pow2)
    xa = to_numpy(x)
    if not np.isfinite(xa).all():
        bad = int((~np.isfinite(xa)).sum())
        raise QuantError(f"x: {bad} non-finite value(s); cannot choose a {fmt.name} scale for NaN/Inf")
    gran = granularity or ("block" if block is not None else fmt.default_granularity)
    if block is not None and gran != "block":
        raise QuantError(f"block: {block!r} given with granularity {gran!r}; use granularity='block'")
    if axis is None:
        axis = -1 if gran == "block" else 0
    lay = Layout(tuple(xa.shape), gran, axis, fmt.default_block if block is None else block)
    method = method or ("mx" if fmt.scale_rule == "mx" else "max")
    if method not in METHODS:
        raise QuantError(f"method: {method!r} is not one of {', '.join(METHODS)}")
    if not 0 < percentile <= 100:
        raise QuantError(f"percentile: must be in (0, 100], got {percentile}")
    if pow2 and fmt.affine:
        raise QuantError(f"pow2: {fmt.name} is affine (scale and zero point); power-of-two scales are for "
                         f"symmetric formats")
    if xa.size == 0:  # an empty tensor: any scale will do
        ones = np.ones(lay.scale_shape, np.float32)
        return QParams(ones, lay, zero_point=np.zeros_like(ones) if fmt.affine else None, method=method)
    g = lay.groups(xa)
    if method == "mx" and hasattr(fmt, "block_qparams"):  # a format's own block-scale rule (NVFP4, intNgG …)
        return fmt.block_qparams(g, lay)
    if fmt.affine:
        scale, zp = _affine(fmt, g, method, percentile)
        return QParams(lay.groups_to_scale(scale), lay, zero_point=lay.groups_to_scale(zp), method=method)
    scale = _symmetric(fmt, g, method, percentile, pow2)
    return QParams(lay.groups_to_scale(scale), lay, method=method)


def quantize_groups(fmt, g: np.ndarray, scale: np.ndarray, zp: np.ndarray | None = None) -> np.ndarray:
    """Quantise a (G × M) group view with one scale per row."""
    g = np.ascontiguousarray(g, np.float32)
    s2d = np.ascontiguousarray(scale, np.float32).reshape(-1, 1)
    z2d = np.zeros_like(s2d) if zp is None else np.ascontiguousarray(zp, np.float32).reshape(-1, 1)
    out = np.empty_like(g)
    fmt._kernel("quantize", g, s2d, z2d, max(g.shape[1], 1), out)
    return out


def group_sse(fmt, g, scale, zp=None) -> np.ndarray:
    """Sum of squared quantisation errors of each row of a (G × M) group view, float64."""
    from quant.formats import _kernels as K  # quant.formats imports this module

    g = np.ascontiguousarray(g, np.float32)
    out = np.empty(g.shape[0], np.float64)
    K.row_sq_err(quantize_groups(fmt, g, scale, zp), g, out)  # fused: no difference array, no float64 copy
    return out


_TINY = np.finfo(np.float32).tiny  # the smallest normal float32
_FMAX = float(np.finfo(np.float32).max)


def _amax(g: np.ndarray, method: str, percentile: float) -> np.ndarray:
    a = np.abs(g)
    if method == "percentile":
        return np.percentile(a, percentile, axis=1).astype(np.float32)
    return a.max(axis=1)


def _pow2_ceil(v: np.ndarray) -> np.ndarray:
    return np.exp2(np.ceil(np.log2(v))).astype(np.float32)


def _symmetric(fmt, g, method, percentile, pow2=False) -> np.ndarray:
    with np.errstate(over="ignore", divide="ignore"):  # amax near float32's limits: the scale is clipped below
        return _symmetric_scale(fmt, g, method, percentile, pow2)


def _symmetric_scale(fmt, g, method, percentile, pow2) -> np.ndarray:
    amax = _amax(g, "percentile" if method == "percentile" else "max", percentile)
    if method == "mx":
        return mx_scale(fmt, amax.astype(np.float32))
    zero = amax == 0
    amax = np.where(zero, fmt.max_level, amax).astype(np.float32)
    pow2_rule = pow2 or fmt.scale_rule in ("pow2", "mx")
    if pow2_rule:
        scale = np.maximum(_pow2_ceil(amax / fmt.max_level), _TINY)
        if method == "mse":  # 2^-3..1 times the smallest power of two that covers amax, and above for tapers
            cands = [np.maximum(scale * np.float32(2.0) ** -k, _TINY) for k in range(-int(np.log2(_taper(fmt))), 4)]
            errs = np.stack([group_sse(fmt, g, c) for c in cands])
            scale = np.stack(cands)[errs.argmin(0), np.arange(len(scale))]
    else:
        scale = (amax / np.float32(fmt.max_level)).astype(np.float32)
        if method == "mse":
            scale = _mse_search(fmt, g, scale)
    # a scale below the smallest normal float32 (an all-subnormal group) is one no FTZ datapath can hold;
    # one whose largest level × scale passes float32's maximum would dequantise to inf: cap it (saturate)
    cap = min(_FMAX / float(fmt.max_level), _FMAX)  # float64: float32's log2 of it can round up a power
    if pow2_rule:
        cap = 2.0 ** math.floor(math.log2(cap))
    scale = np.clip(scale, _TINY, np.float32(cap))
    return np.where(zero, np.float32(1.0), scale).astype(np.float32)


def mx_scale(fmt, amax: np.ndarray) -> np.ndarray:
    """OCP MX v1.0 §6.3: X = 2^(floor(log2 amax) − emax_elem) per group of largest magnitude ``amax``,
    clipped to 2^−126 … the largest power of two that keeps the top level finite; an all-zero group 1."""
    zero = amax == 0
    emax_elem = np.floor(np.log2(fmt.max_level))
    with np.errstate(divide="ignore"):
        scale = np.exp2(np.floor(np.log2(np.where(zero, fmt.max_level, amax).astype(np.float32))) - emax_elem).astype(
            np.float32)
    cap = 2.0 ** math.floor(math.log2(min(_FMAX / float(fmt.max_level), _FMAX)))
    scale = np.clip(scale, _TINY, np.float32(cap))
    return np.where(zero, np.float32(1.0), scale).astype(np.float32)


def mse_ratios(fmt) -> np.ndarray:
    """Candidate scales of the MSE search, relative to amax / max level: the clip ratios 0.2–1.0 and, above 1,
    quarter-octaves up to max level / median positive level. Those leave the top levels unused, which pays
    for formats whose precision tapers off toward their maximum (posits: posit8es1's best scale maps amax
    near 4, not to its maxpos 4096); for uniform grids they add a few candidates that do not win."""
    up = np.exp2(np.arange(1, int(np.floor(4 * np.log2(_taper(fmt)))) + 1) / 4).astype(np.float32)
    return np.concatenate([MSE_RATIOS, up])


def _taper(fmt) -> float:
    """max level / median positive level (≥ 1): how far above its bulk a format's grid reaches."""
    pos = fmt.levels[fmt.levels > 0]
    return max(float(fmt.max_level / np.median(pos)), 1.0) if pos.size else 1.0


def _mse_search(fmt, g, scale_max) -> np.ndarray:
    best_err = np.full(len(scale_max), np.inf)
    best = scale_max.copy()
    for r in mse_ratios(fmt):
        cand = np.maximum(scale_max * r, _TINY)
        err = group_sse(fmt, g, cand)
        better = err < best_err
        best_err = np.where(better, err, best_err)
        best = np.where(better, cand, best)
    return best


def _affine(fmt, g, method, percentile):
    qmin, qmax = float(fmt.levels.min()), float(fmt.levels.max())
    if method == "percentile":
        lo = np.percentile(g, 100 - percentile, axis=1)
        hi = np.percentile(g, percentile, axis=1)
    else:
        lo, hi = g.min(axis=1), g.max(axis=1)
    lo, hi = np.minimum(lo, 0).astype(np.float32), np.maximum(hi, 0).astype(np.float32)
    cap = _FMAX / (qmax - qmin)  # (q − zp)·scale spans at most (qmax − qmin)·scale: keep it finite

    def params(ratio):
        span = (hi.astype(np.float64) - lo) * ratio  # float64: hi − lo may pass float32's maximum
        scale = np.where(span > 0, np.clip(span / (qmax - qmin), _TINY, cap), 1.0).astype(np.float32)
        zp = np.clip(np.rint(qmin - lo * np.float32(ratio) / scale), qmin, qmax).astype(np.float32)
        return scale, zp

    if method != "mse":
        return params(1.0)
    best_err, best = np.full(len(lo), np.inf), params(1.0)
    for r in MSE_RATIOS:
        s, z = params(r)
        err = group_sse(fmt, g, s, z)
        better = err < best_err
        best_err = np.where(better, err, best_err)
        best = (np.where(better, s, best[0]), np.where(better, z, best[1]))
    return best
