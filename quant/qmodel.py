"""Quantised PyTorch models: BN folding, a ``PrecisionPlan`` applied to any traceable ``nn.Module``, PTQ
calibration and a short QAT, accuracy evaluation.

Layer names are the ``LayerGraph`` names (``workloads.extract``), so one plan drives the quantiser, the
simulator and the search. Conv/Linear layers get a weight quantiser (per output channel) and an input
quantiser (per tensor); act×act matmuls (attention) get an input quantiser on both operands. MX formats
(``mxfp4``, ``mxint8``) scale each 32-value block along the reduction axis by its own maximum, at run time.
"""
from __future__ import annotations

import copy
import math

import numpy as np
import torch
from torch import fx, nn

from quant.errors import QuantError
from quant.fakequant import FakeQuantize
from quant.plan import PrecisionPlan

FIRST_LAST_POLICIES = ("same", "int8", "fp32")


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """Conv→BN pairs folded into the conv (W' = W·γ/σ, b' = β − γμ/σ); returns an fx GraphModule."""
    from torch.fx.experimental.optimization import fuse

    return fuse(copy.deepcopy(model).eval(), inplace=False)


def input_reduction_axis(module: nn.Module) -> int:
    """The axis of a layer's input that its dot products reduce over: channels (NC…) or features (…F)."""
    return -1 if isinstance(module, nn.Linear) else 1


class QuantConv(nn.Module):
    def __init__(self, conv: nn.Module, w_fmt: str, a_fmt: str, method: str = "mse", learn_scale: bool = False):
        super().__init__()
        self.conv = conv
        self.wq = FakeQuantize(w_fmt, role="weight", granularity="channel", axis=0, method=method)
        # MX blocks run along the reduction axis: input channels (NCHW) for a conv, the last axis for a linear
        self.aq = FakeQuantize(a_fmt, role="activation", method=method, learn_scale=learn_scale,
                               block_axis=input_reduction_axis(conv))

    def forward(self, x):
        w = self.wq(self.conv.weight)
        x = self.aq(x)
        if isinstance(self.conv, nn.Linear):
            return nn.functional.linear(x, w, self.conv.bias)
        return self.conv._conv_forward(x, w, self.conv.bias)


class QuantMatmul(nn.Module):
    def __init__(self, a_fmt: str, method: str = "mse", learn_scale: bool = False):
        super().__init__()
        self.aq = FakeQuantize(a_fmt, role="activation", method=method, learn_scale=learn_scale, block_axis=-1)
        self.bq = FakeQuantize(a_fmt, role="activation", method=method, learn_scale=learn_scale, block_axis=-2)

    def forward(self, a, b):
        return torch.matmul(self.aq(a), self.bq(b))


def _layer_names(model: nn.Module, input_shape) -> dict:
    """fx node name → LayerGraph layer name, for the compute layers."""
    from workloads.extract import extract_graph

    g = extract_graph(model, input_shape, method="fx")
    return {d["source"]: d["name"] for d in g.compute_layers()}, g


def quantize_model(model: nn.Module, plan: PrecisionPlan | str, input_shape, *, first_last: str = "same",
                   method: str = "mse", learn_scale: bool = False) -> fx.GraphModule:
    """Fold BN, then wrap every planned layer. Calibrate with ``calibrate`` before evaluating."""
    if first_last not in FIRST_LAST_POLICIES:
        raise QuantError(f"first_last: expected one of {', '.join(FIRST_LAST_POLICIES)}, got {first_last!r}")
    names, graph = _layer_names(model, input_shape)
    layer_names = list(names.values())
    if isinstance(plan, str):
        plan = PrecisionPlan.uniform(plan, layer_names)
    elif isinstance(plan, dict):
        plan = PrecisionPlan(plan)
    plan.validate(layer_names, what=f"model {type(model).__name__}")
    if first_last != "same" and layer_names:
        spec = "int8" if first_last == "int8" else "fp32"
        for n in (layer_names[0], layer_names[-1]):
            plan = plan.with_layer(n, spec)
    gm = fold_batchnorm(model)
    modules = dict(gm.named_modules())
    count = 0
    for node in list(gm.graph.nodes):
        if node.name not in names:
            continue
        p = plan[names[node.name]]
        if node.op == "call_module" and isinstance(modules[node.target], (nn.Conv1d, nn.Conv2d, nn.Linear)):
            q = QuantConv(modules[node.target], p.weight, p.activation, method, learn_scale)
            _set_module(gm, node.target, q)
            count += 1
        elif node.op == "call_function" and len(node.args) == 2:
            mod_name = f"qmatmul_{node.name}"
            gm.add_submodule(mod_name, QuantMatmul(p.activation, method, learn_scale))
            with gm.graph.inserting_after(node):
                new = gm.graph.call_module(mod_name, args=node.args)
            node.replace_all_uses_with(new)
            gm.graph.erase_node(node)
            count += 1
        else:
            raise QuantError(f"layer {names[node.name]!r} (fx node {node.name}) cannot be wrapped for quantisation")
    gm.graph.lint()
    gm.recompile()
    gm.quant_plan = plan
    gm.quant_layers = count
    return gm


def _set_module(root: nn.Module, path: str, new: nn.Module) -> None:
    parent_path, _, leaf = path.rpartition(".")
    parent = root.get_submodule(parent_path) if parent_path else root
    setattr(parent, leaf, new)


def quantizers(model: nn.Module):
    return [m for m in model.modules() if isinstance(m, FakeQuantize)]


def _as_input(model: nn.Module, batch) -> torch.Tensor:
    """A batch (array or tensor) in the model's floating dtype (bf16/fp16 models get bf16/fp16 inputs)."""
    from workloads.extract import model_dtype

    t = torch.as_tensor(batch)
    dtype = model_dtype(model, default=None)
    return t.to(dtype) if dtype is not None and t.is_floating_point() else t


def calibrate(model: nn.Module, batches, forward=None) -> nn.Module:
    """PTQ: run calibration batches observing activations, then freeze every scale. ``forward(model, batch)``
    runs one batch when a plain ``model(batch)`` cannot (e.g. MiniLM, whose batch carries a padding mask)."""
    batches = list(batches)
    if not batches or all(len(b) == 0 for b in batches):
        raise QuantError("calibrate: no calibration images (pass at least one non-empty batch)")
    run = forward or (lambda m, b: m(_as_input(m, b)))
    qs = quantizers(model)
    for q in qs:
        q.calibrating = q.role == "activation"
        q._sample, q._seen, q.frozen = [], 0, q.passthrough
    model.eval()
    with torch.no_grad():
        for xb in batches:
            run(model, xb)
    for q in qs:
        q.calibrating = False
        if q.role == "activation":
            q.freeze()
    with torch.no_grad():  # weight quantisers freeze on their first use
        run(model, batches[0])
    return model


def _check_labelled(what: str, x, y) -> None:
    if len(x) == 0 or len(x) != len(y):
        raise QuantError(f"{what}: need as many labels as images, at least one; got {len(x)} images, "
                         f"{len(y)} labels")


def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray, batch: int = 500) -> float:
    """Top-1 accuracy of ``model`` on images ``x`` with labels ``y``."""
    _check_labelled("evaluate", x, y)
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out = model(_as_input(model, x[i:i + batch]))
            correct += int((out.argmax(1).numpy() == y[i:i + batch]).sum())
    return correct / len(x)


def qat(model: nn.Module, x: np.ndarray, y: np.ndarray, *, steps: int = 100, batch: int = 64, lr: float = 1e-4,
        seed: int = 0) -> list[float]:
    """Short quantisation-aware fine-tuning with the STE; returns the loss per step."""
    for name, value, low in (("steps", steps, 0), ("batch", batch, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise QuantError(f"qat: {name} must be an integer ≥ {low}, got {value!r}")
    if isinstance(lr, bool) or not isinstance(lr, int | float) or not (np.isfinite(lr) and lr > 0):
        raise QuantError(f"qat: lr must be a finite number > 0, got {lr!r}")
    if steps:
        _check_labelled("qat", x, y)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    model.train()
    losses = []
    for _ in range(steps):
        idx = rng.integers(0, len(x), batch)
        out = model(_as_input(model, x[idx]))
        loss = nn.functional.cross_entropy(out.float(), torch.from_numpy(y[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        for q in quantizers(model):  # weights changed: re-choose their scales next forward
            if q.role == "weight" and not q.passthrough:
                q.frozen = False
        losses.append(loss.item())
    model.eval()
    return losses


def sqnr_db(x: np.ndarray, q: np.ndarray) -> float:
    err = float(((x.astype(np.float64) - q) ** 2).sum())
    sig = float((x.astype(np.float64) ** 2).sum())
    return math.inf if err == 0 else 10 * math.log10(sig / err)
