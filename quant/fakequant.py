"""PyTorch fake-quantisation with any format of the format library.

``FakeQuantize`` quantises a tensor with a ``quant.formats`` format in the forward pass (the bit-exact codec)
and passes gradients straight through inside the clip range, zero outside (STE). Its scale is calibrated
from observed data (``max``/``percentile``/``mse``) or, with ``learn_scale=True``, learnt (LSQ-style
gradient). Per tensor, per channel (weights: output channels) or per block (weights; block-scaled formats —
MX, NVFP4, mx/nvdybit, (u)intNgG — always, with scales from each tensor at run time).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from quant._arrays import to_numpy
from quant.choose import choose_qparams
from quant.errors import QuantError
from quant.formats import get_format
from quant.scaling import Layout, QParams

_SAMPLE = 1 << 16  # activation values kept for calibration (reservoir per quantiser)


class _STEQuant(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale, fq):
        q = fq._quantize_numpy(to_numpy(x), scale.detach().cpu().numpy())
        q_t = torch.from_numpy(q).to(device=x.device, dtype=x.dtype)  # the model computes in its own dtype
        s = fq.broadcast_scale(scale.detach(), x.shape)
        lo, hi = fq.clip_range(s, x.shape)
        inside = (x >= lo) & (x <= hi)
        ctx.save_for_backward(inside, x, q_t, s)
        ctx.learn = scale.requires_grad
        ctx.fq = fq
        return q_t

    @staticmethod
    def backward(ctx, grad):
        inside, x, q, s = ctx.saved_tensors
        gx = grad * inside.to(grad.dtype)
        gs = None
        if ctx.learn:  # LSQ: d q / d s = (q − x)/s inside the range, the clip level outside
            g = grad * torch.where(inside, (q - x) / s, q / s)
            gs = ctx.fq.sum_per_scale(g)
            gs = gs / np.sqrt(max(x.numel() / max(gs.numel(), 1), 1) * ctx.fq.max_level)
        return gx, gs, None


class FakeQuantize(nn.Module):
    """Quantiser of one tensor role (a layer's weight, or its input activations)."""

    def __init__(self, fmt: str, *, role: str = "activation", granularity: str = "tensor", axis: int = 0,
                 method: str = "mse", percentile: float = 99.99, learn_scale: bool = False,
                 block_axis: int | None = None):
        """``axis``: the channel axis of per-channel scales. ``block_axis``: the axis MX blocks run along,
        the dot product's reduction axis (default 1 for weights, the input channels; −1 for activations)."""
        super().__init__()
        self.fmt_name = get_format(fmt).name
        f = get_format(fmt)
        self.passthrough = f.family == "float"
        self.adaptive = f.family == "adaptive"
        # MX formats (OCP MX v1.0): each block's scale is derived from that block's own maximum, at run time,
        # for weights and activations alike; there is nothing to calibrate, and no free scale to learn (so
        # learn_scale, a request for the model's free scales, leaves them as they are)
        # (and so do the other block-scaled formats: nvfp4, mxdybitN, nvdybitN, intNgG, each by its own rule)
        self.dynamic = not self.passthrough and getattr(f, "scale_rule", "") == "mx"
        if self.dynamic:
            learn_scale = False
            if block_axis is None:
                block_axis = 1 if role == "weight" else -1
            granularity, axis, method = "block", block_axis, "mx"
        self.role, self.granularity, self.axis, self.method = role, granularity, axis, method
        self.percentile, self.learn_scale = percentile, learn_scale
        self.calibrating = False
        self._sample: list[np.ndarray] = []
        self._seen = 0
        self._adaptive_params = None
        self.register_buffer("scale", torch.ones(()))
        self.frozen = self.passthrough or self.dynamic

    def extra_repr(self) -> str:
        return f"{self.fmt_name}, {self.role}, {self.granularity}, method={self.method}, frozen={self.frozen}"

    @property
    def fmt(self):
        return get_format(self.fmt_name)

    @property
    def max_level(self) -> float:
        f = self.fmt
        return float(max(c.max_level for c in f.candidates)) if self.adaptive else f.max_level

    @property
    def layout(self) -> Layout | None:
        """How the (compact) scale maps onto the tensor, once frozen."""
        qp = self._adaptive_params.qparams if self._adaptive_params is not None else getattr(self, "_qp", None)
        return None if qp is None else qp.layout

    def broadcast_scale(self, scale: torch.Tensor, shape) -> torch.Tensor:
        """The compact scale as a tensor that broadcasts against the quantised tensor: per-block scales are
        repeated ``block`` times along their axis (tensor and channel scales broadcast as they are)."""
        lay = self.layout
        if lay is None or lay.granularity != "block" or tuple(shape) != tuple(lay.shape):
            return scale
        return scale.repeat_interleave(lay.block, dim=lay.axis).narrow(lay.axis, 0, lay.shape[lay.axis])

    def sum_per_scale(self, g: torch.Tensor) -> torch.Tensor:
        """Sum an element-wise tensor over each scale group, in the compact scale's shape."""
        s = self.scale
        lay = self.layout
        if lay is not None and lay.granularity == "block" and tuple(g.shape) == tuple(lay.shape):
            n, b, nb = lay.shape[lay.axis], lay.block, s.shape[lay.axis]
            moved = torch.nn.functional.pad(g.movedim(lay.axis, -1), (0, nb * b - n))
            return moved.reshape(*moved.shape[:-1], nb, b).sum(-1).movedim(-1, lay.axis)
        red = [i for i in range(g.dim()) if s.dim() == 0 or s.shape[i] == 1]
        return (g.sum(dim=red, keepdim=s.dim() > 0) if red else g).reshape(s.shape)

    def clip_range(self, s: torch.Tensor, shape):
        """(lo, hi) outside which the STE passes no gradient on a tensor of ``shape``: the format's extreme
        levels times ``s`` (the scale as ``broadcast_scale`` maps it onto the tensor), for adaptive formats
        those of the grid each group chose."""
        f = self.fmt
        p = self._adaptive_params
        if self.adaptive and p is not None and tuple(shape) == tuple(p.qparams.layout.shape):
            level = np.array([c.max_level for c in f.candidates], np.float32)[p.qparams.layout.expand(p.choice)]
            hi = torch.from_numpy(np.ascontiguousarray(level)).to(s.device) * s
            return -hi, hi
        if self.adaptive:
            lo, hi = -self.max_level, self.max_level
        else:
            lo, hi = float(f.levels.min()), float(f.levels.max())
        zp = self._zero_point(shape, s.device)  # affine formats: the codes mean (level − zero point)·s
        return (lo - zp) * s, (hi - zp) * s

    def _zero_point(self, shape, device):
        qp = getattr(self, "_qp", None)
        if not self.fmt.affine or qp is None or qp.zero_point is None:
            return 0.0
        return self.broadcast_scale(torch.from_numpy(np.asarray(qp.zero_point, np.float32)).to(device), shape)

    # ------------------------------------------------------------------ calibration
    def observe(self, x: torch.Tensor) -> None:
        a = to_numpy(x)
        if self.role == "weight":
            self._sample = [a]
            return
        flat = a.reshape(-1)
        if flat.size > _SAMPLE // 4:
            idx = np.random.default_rng(self._seen).choice(flat.size, _SAMPLE // 4, replace=False)
            flat = flat[idx]
        self._sample.append(flat)
        self._seen += 1
        kept = sum(s.size for s in self._sample)
        while kept > _SAMPLE and len(self._sample) > 1:
            kept -= self._sample.pop(0).size

    def freeze(self, x: torch.Tensor | None = None) -> None:
        """Choose the scale from what was observed (or from ``x``, e.g. the weight)."""
        if self.passthrough or self.dynamic:
            self.frozen = True
            return
        data = to_numpy(x) if x is not None else (
            self._sample[0] if self.role == "weight" else np.concatenate(self._sample) if self._sample else None)
        if data is None:
            raise QuantError(f"{self.fmt_name} {self.role} quantiser: no calibration data was observed")
        gran = self.granularity if self.role == "weight" else "tensor"
        if self.adaptive:
            self._adaptive_params = self.fmt.fit(data, granularity=gran, axis=self.axis, method="mse")
            scale = torch.from_numpy(np.asarray(self._adaptive_params.qparams.scale, np.float32))
        else:
            qp = choose_qparams(self.fmt, data, self.method, granularity=gran, axis=self.axis,
                                percentile=self.percentile)
            self._qp = qp
            scale = torch.from_numpy(np.asarray(qp.scale, np.float32))
        if self.learn_scale:
            self.scale = nn.Parameter(scale.clone())
        else:
            self.scale = scale.clone()
        self._sample = []
        self.frozen = True

    # ------------------------------------------------------------------ forward
    def _quantize_numpy(self, x: np.ndarray, scale: np.ndarray) -> np.ndarray:
        f = self.fmt
        if self.adaptive:
            p = self._adaptive_params
            if x.shape != tuple(p.qparams.layout.shape):  # activations: a per-tensor choice applied to any shape
                chosen = f.candidates[int(np.asarray(p.choice).reshape(-1)[0])]
                return chosen.quantize(x, float(np.asarray(scale).reshape(-1)[0]))
            qp = QParams(scale, p.qparams.layout, method="adaptive")
            from quant.formats.adaptive import AdaptiveParams

            return f.quantize(x, AdaptiveParams(p.choice, qp, p.candidates))
        qp = getattr(self, "_qp", None)
        if qp is not None and qp.layout.shape == x.shape:
            qp = QParams(scale, qp.layout, qp.zero_point, qp.method)
        elif qp is not None and qp.layout.granularity == "tensor":
            qp = QParams(scale.reshape(()), Layout(x.shape), qp.zero_point, qp.method)
        else:
            qp = scale
        return f.quantize(x, qp)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.passthrough:  # fp32 activations are the tensor itself (fp16/bf16 round to their width)
            return x if self.fmt_name == "fp32" and x.dtype == torch.float32 else self.fmt.quantize(x)
        if self.calibrating:
            if not self.dynamic:
                self.observe(x)
            return x
        if not (self.frozen or self.dynamic):
            if self.role == "weight":
                self.freeze(x)
            else:
                raise QuantError(f"{self.fmt_name} activation quantiser used before calibration "
                                 f"(run calibrate() on some batches first)")
        if not torch.isfinite(x.sum()) and not torch.isfinite(x).all():  # a finite sum: one pass, no mask
            raise QuantError(f"{self.fmt_name} {self.role} quantiser: input has NaN/Inf")
        if self.dynamic:
            return self._forward_mx(x)
        if not self._needs_grad(x):  # inference: the codec's values, without the STE's clip masks
            q = self._quantize_numpy(to_numpy(x), self.scale.detach().cpu().numpy())
            return torch.from_numpy(q).to(device=x.device, dtype=x.dtype)
        return _STEQuant.apply(x, self.scale, self)

    def _needs_grad(self, x: torch.Tensor) -> bool:
        return torch.is_grad_enabled() and (x.requires_grad or self.scale.requires_grad)

    def _forward_mx(self, x: torch.Tensor) -> torch.Tensor:
        """Block formats: this tensor's own block scales (a function of x, not module state): OCP MX's E8M0,
        NVFP4's E4M3 + FP32, intNgG's FP16 (``quant.formats.blockscaled``). A conv weight is
        blocked along its flattened reduction C_in/groups · kh · kw (so a depthwise kernel's taps share a
        block instead of each getting its own scale); anything else along ``axis``."""
        flat = self.role == "weight" and x.dim() > 2 and self.axis == 1
        view = x.reshape(x.shape[0], -1) if flat else x
        if not self._needs_grad(x):  # inference: scale rule and rounding in one pass (same values)
            from quant.formats.blockscaled import quantize_dynamic

            done = quantize_dynamic(self.fmt, to_numpy(view), self.axis)
            if done is not None:
                q, params = done
                if self.adaptive:
                    self._adaptive_params, params = params, params.qparams
                self._qp = params
                return torch.from_numpy(q).to(device=x.device, dtype=x.dtype).reshape(x.shape)
        qp = choose_qparams(self.fmt, to_numpy(view), "mx", granularity="block", axis=self.axis)
        if self.adaptive:  # mxdybitN / nvdybitN: a cap and its scale per block (AdaptiveParams)
            self._adaptive_params, qp = qp, qp.qparams
        self._qp = qp
        scale = torch.from_numpy(np.asarray(qp.scale, np.float32)).to(x.device)
        return _STEQuant.apply(view, scale, self).reshape(x.shape)
