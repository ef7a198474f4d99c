"""Output-aware weight calibration and GPTQ-style error-compensating rounding, for every format alike.

A layer computes Y = X Wᵀ (a conv: its im2col X per group). Quantising W to Ŵ changes the output by
X (W − Ŵ)ᵀ, whose squared norm for output channel c is ΔW_c H ΔW_cᵀ with H = XᵀX, the layer's input
second moment on calibration data. Three ways to choose Ŵ (``METHODS``):

- ``mse`` — the project's default: each channel's scale (and for ``dybitN``/``antN`` its grid) minimises the
  weight's own squared error (``FakeQuantize`` as is).
- ``output`` — the same candidates, chosen by the layer-output error ΔW_c H ΔW_cᵀ instead: per channel, the
  grid and a scale among the weight-MSE scale × {2^(k/8), k = −3…3} (×{½, 1, 2} for power-of-two scale
  rules). The weight-MSE choice is among the candidates, so the output error is never larger than ``mse``'s.
  Formats whose block scales follow a fixed rule (OCP MX) have no scale to choose: ``output`` = ``mse``.
- ``gptq`` — the ``output`` scales and grids, then GPTQ rounding (Frantar et al., ICLR 2023): columns are
  rounded one at a time and each one's rounding error, weighted by the inverse Hessian's Cholesky factor, is
  fed to the columns not yet rounded (1 % diagonal damping).

Everything is vectorised over channels (and conv groups); GPTQ loops over the K input columns only. The
chosen weights are written into the layer ("baked") and its weight quantiser removed, so evaluation runs
the float kernel on grid values; activation quantisers are calibrated afterwards on the baked model.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from quant.errors import QuantError
from quant.formats import get_format
from quant.scaling import Layout, QParams

METHODS = ("mse", "output", "gptq")
_MULT = 2.0 ** (np.arange(-3, 4) / 8)  # scale refinements around the weight-MSE scale
_MULT_POW2 = np.array([0.5, 1.0, 2.0])
_DAMP = 0.01
_GPTQ_BLOCK = 128  # columns per lazy batch (the paper's B)


def layer_hessians(model: nn.Module, paths, batches, forward=None) -> dict:
    """{path: (H of shape (groups, K, K) float64, rows seen)} from the inputs of the conv/linear modules at
    ``paths`` of an FP32 ``model`` on ``batches`` (``forward(model, batch)`` runs one, default ``model(b)``)."""
    mods = {p: model.get_submodule(p) for p in paths}
    acc: dict = {}

    def hook(mod, inp, path):
        x = _im2col(mod, inp[0].detach().float()).double()  # (groups, rows, K)
        h = torch.bmm(x.transpose(1, 2), x)
        prev = acc.get(path)
        acc[path] = (h, x.shape[1]) if prev is None else (prev[0] + h, prev[1] + x.shape[1])

    hooks = [m.register_forward_pre_hook(lambda mod, inp, p=p: hook(mod, inp, p)) for p, m in mods.items()]
    try:
        with torch.no_grad():
            for b in batches:
                forward(model, b) if forward is not None else model(torch.as_tensor(b))
    finally:
        for h in hooks:
            h.remove()
    return acc


def _im2col(mod: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A layer's input as (groups, rows, K): K = in-features, or C_in/groups·kh·kw for a conv."""
    if isinstance(mod, nn.Linear):
        return x.reshape(1, -1, x.shape[-1])
    if not isinstance(mod, nn.Conv2d):
        raise QuantError(f"output-aware calibration: {type(mod).__name__} layers are not supported")
    cols = nn.functional.unfold(x, mod.kernel_size, mod.dilation, mod.padding, mod.stride)  # (N, C·kh·kw, L)
    g = mod.groups
    k = cols.shape[1] // g
    return cols.reshape(cols.shape[0], g, k, -1).permute(1, 0, 3, 2).reshape(g, -1, k)


def weight_groups(mod: nn.Module) -> torch.Tensor:
    """The weight as (groups, C_out/groups, K), the layout ``layer_hessians`` pairs with."""
    w = mod.weight.detach().float()
    g = getattr(mod, "groups", 1)
    return w.reshape(g, w.shape[0] // g, -1)


def output_error(dw: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Per output channel ΔW_c H ΔW_cᵀ for ΔW (groups, Cg, K) and H (groups, K, K) → (groups·Cg,)."""
    d = dw.astype(np.float32)  # float32 products, float64 sums: the ranking of candidates is what matters
    h32 = h if h.dtype == np.float32 else h.astype(np.float32)
    return np.einsum("gck,gck->gc", (d @ h32).astype(np.float64), d).reshape(-1)


class _ElementQuantizer:
    """A weight's quantisation with every parameter fixed element-wise: a grid index and a scale per value,
    so any column (or any subset) can be rounded on its own, as GPTQ needs."""

    def __init__(self, grids, choice: np.ndarray, scale: np.ndarray):
        self.grids, self.choice, self.scale = grids, choice, scale.astype(np.float32)

    def __call__(self, x: np.ndarray, idx=(Ellipsis,)) -> np.ndarray:
        s, c = self.scale[idx], self.choice[idx]
        x = np.ascontiguousarray(x, np.float32)
        # the kernels' element-wise layout (a scale per value, what ``grid.quantize`` does with an element
        # QParams) called directly: GPTQ rounds one column at a time, where the wrapper's checks cost the most
        x2d = x.reshape(-1, 1)
        s2d = np.ascontiguousarray(np.broadcast_to(s, x.shape), np.float32).reshape(-1, 1)
        z2d = np.zeros_like(s2d)
        if len(self.grids) == 1:
            out = np.empty_like(x2d)
            self.grids[0]._kernel("quantize", x2d, s2d, z2d, 1, out)
            return out.reshape(x.shape)
        out = np.empty_like(x)
        tmp = np.empty_like(x2d)
        for i, grid in enumerate(self.grids):
            where = c == i
            if where.any():
                grid._kernel("quantize", x2d, s2d, z2d, 1, tmp)
                out[where] = tmp.reshape(x.shape)[where]
        return out


def _grids_and_scales(fmt_name: str, w2d: np.ndarray):
    """(grids, per-grid element-wise weight-MSE scale (C, K), fixed rule?) for a (C × K) weight, as the
    project's weight quantiser would choose them (per output channel; OCP MX: per 32 along K, by rule)."""
    f = get_format(fmt_name)
    from quant.choose import choose_qparams

    if f.family == "adaptive":
        grids = list(f.candidates)
    else:
        grids = [f]
    scales = []
    for g in grids:
        if getattr(g, "affine", False):
            raise QuantError(f"{fmt_name}: output-aware calibration needs a symmetric format (no zero point)")
        if g.scale_rule == "mx":
            qp = choose_qparams(g, w2d, "mx", granularity="block", axis=1)
        else:
            qp = choose_qparams(g, w2d, "mse", granularity="channel", axis=0)
        scales.append(np.ascontiguousarray(qp.layout.expand(qp.scale), np.float32))
    fixed = f.family != "adaptive" and f.scale_rule == "mx"
    return grids, scales, fixed


def choose_output_aware(fmt_name: str, w: np.ndarray, h: np.ndarray, *, by: str = "output"):
    """Per output channel, the grid and scale among the candidates (see the module docstring) with the least
    output error (``by="output"``) or weight error (``by="weight"``) for W (groups, Cg, K) and H (groups, K, K).
    Returns an ``_ElementQuantizer`` over the (groups·Cg, K) weight."""
    return choose_output_aware_sets(fmt_name, w, [h], by=by)[0]


def choose_output_aware_sets(fmt_name: str, w: np.ndarray, hs: list, *, by: str = "output") -> list:
    """``choose_output_aware`` for each of several calibration sets' H at once: the candidates do not depend on
    the calibration data, so each is quantised once and scored against every H. One quantiser per H."""
    gsz, cg, k = w.shape
    w2d = np.ascontiguousarray(w.reshape(gsz * cg, k), np.float32)
    grids, scales, fixed = _grids_and_scales(fmt_name, w2d)
    h32 = [h.astype(np.float32) for h in hs]
    best_err = [np.full(gsz * cg, np.inf) for _ in hs]
    best_choice = [np.zeros(gsz * cg, np.int64) for _ in hs]
    best_scale = [scales[0].copy() for _ in hs]
    for gi, (grid, s0) in enumerate(zip(grids, scales, strict=True)):
        mults = [1.0] if fixed else (_MULT_POW2 if grid.scale_rule == "pow2" else _MULT)
        per_row = bool((s0 == s0[:, :1]).all())  # a scale per channel: the kernels' fast per-row layout
        lay = Layout(w2d.shape, "channel", axis=0) if per_row else Layout(w2d.shape, "element")
        for m in mults:
            s = np.maximum(s0 * np.float32(m), np.finfo(np.float32).tiny)
            dq = w2d - grid.quantize(w2d, QParams(s[:, :1] if per_row else s, lay))
            weight_err = None if by == "output" else (dq.astype(np.float64) ** 2).sum(1)  # the same for every H
            for i, h in enumerate(h32):
                err = output_error(dq.reshape(gsz, cg, k), h) if weight_err is None else weight_err
                better = err < best_err[i]
                best_err[i] = np.where(better, err, best_err[i])
                best_choice[i] = np.where(better, gi, best_choice[i])
                best_scale[i] = np.where(better[:, None], s, best_scale[i])
    return [_ElementQuantizer(grids, np.broadcast_to(c[:, None], w2d.shape).copy(), sc)
            for c, sc in zip(best_choice, best_scale, strict=True)]


def gptq(w: np.ndarray, h: np.ndarray, quantizer: _ElementQuantizer) -> np.ndarray:
    """GPTQ rounding of W (groups, Cg, K) with H (groups, K, K) and fixed element-wise parameters; returns the
    quantised weight (groups, Cg, K). Columns whose input is always 0 are rounded as they are."""
    gsz, cg, k = w.shape
    hh = torch.from_numpy(h.copy())
    wt = torch.from_numpy(w.astype(np.float64).copy())
    diag = torch.diagonal(hh, dim1=-2, dim2=-1)
    dead = diag == 0
    diag[dead] = 1.0
    damp = _DAMP * diag.mean(-1, keepdim=True)
    diag += damp
    hinv = torch.cholesky_inverse(torch.linalg.cholesky(hh))
    u = torch.linalg.cholesky(hinv, upper=True)  # (groups, K, K)
    q = np.empty((gsz, cg, k), np.float32)
    scale = quantizer.scale.reshape(gsz, cg, k)
    choice = quantizer.choice.reshape(gsz, cg, k)
    for b0 in range(0, k, _GPTQ_BLOCK):  # lazy batch updates (GPTQ §3, step 2): a block's columns one by one,
        b1 = min(b0 + _GPTQ_BLOCK, k)    # then the columns after it in one matrix product
        errs = torch.empty((gsz, cg, b1 - b0), dtype=torch.float64)
        for j in range(b0, b1):
            col = wt[:, :, j].numpy().astype(np.float32)
            qc = _ElementQuantizer(quantizer.grids, choice[:, :, j], scale[:, :, j])(col)
            q[:, :, j] = qc
            err = (wt[:, :, j] - torch.from_numpy(qc).double()) / u[:, j, j][:, None]
            errs[:, :, j - b0] = err
            if j + 1 < b1:
                wt[:, :, j + 1:b1] -= err[:, :, None] * u[:, j, None, j + 1:b1]
        if b1 < k:
            wt[:, :, b1:] -= torch.bmm(errs, u[:, b0:b1, b1:])
    return q


def bake_weights(qmodel: nn.Module, model_fp32: nn.Module, batches, method: str, forward=None,
                 hessians: dict | None = None) -> dict:
    """Choose every wrapped layer's quantised weight by ``method`` (``output`` or ``gptq``), write it into the
    layer and drop its weight quantiser. ``model_fp32`` is the BN-folded FP32 model ``qmodel`` was made from
    (same module paths); ``hessians`` (from ``layer_hessians`` on the same batches) skips recomputing them.
    A format the calibration cannot handle (an affine one) keeps its weight-MSE quantiser, said in the result.
    Returns {layer path: what was done}."""
    if method not in METHODS:
        raise QuantError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
    targets = _targets(qmodel)
    if method == "mse" or not targets:
        return {p: "mse" for p in targets}
    hs = hessians if hessians is not None else layer_hessians(model_fp32, list(targets), batches, forward)
    weights, done = choose_weights(qmodel, method, [hs])[0]
    write_weights(qmodel, weights)
    return done


def _targets(qmodel: nn.Module) -> dict:
    from quant.qmodel import QuantConv

    return {p: m for p, m in qmodel.named_modules() if isinstance(m, QuantConv) and not m.wq.passthrough}


def choose_weights(qmodel: nn.Module, method: str, hessian_sets: list) -> list:
    """``bake_weights``' choice without writing it, for each calibration set's layer Hessians at once (the
    candidate grids and scales are quantised once for all sets): [({path: weight tensor}, {path: what was
    done})], one per set."""
    if method not in ("output", "gptq"):
        raise QuantError(f"method: expected output or gptq, got {method!r}")
    out = [({}, {}) for _ in hessian_sets]
    for path, qc in _targets(qmodel).items():
        if any(path not in hs for hs in hessian_sets):  # never reached by the calibration data: keep weight MSE
            for _, done in out:
                done[path] = "mse (no calibration input)"
            continue
        hs = [hs[path][0].numpy() / max(hs[path][1], 1) for hs in hessian_sets]
        w = weight_groups(qc.conv).numpy()
        try:
            quants = choose_output_aware_sets(qc.wq.fmt_name, w, hs)
        except QuantError as exc:
            for _, done in out:
                done[path] = f"mse ({exc})"
            continue
        for (weights, done), h, quant in zip(out, hs, quants, strict=True):
            wq = gptq(w, h, quant) if method == "gptq" else quant(w.reshape(-1, w.shape[-1])).reshape(w.shape)
            weights[path] = torch.from_numpy(wq.reshape(qc.conv.weight.shape).astype(np.float32))
            done[path] = method
    return out


def write_weights(qmodel: nn.Module, weights: dict) -> None:
    """Write chosen weights {path: tensor} into ``qmodel``'s layers and drop their weight quantisers."""
    for path, w in weights.items():
        qc = qmodel.get_submodule(path)
        qc.conv.weight.data = w
        qc.wq = nn.Identity()
