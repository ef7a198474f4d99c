"""ONNX → PyTorch: a small converter for the CNN operator set (the PP-OCR direction classifier's), so the
project's fake-quant, calibration and layer-graph extraction apply to an ONNX model.

The ONNX graph becomes a ``torch.fx.GraphModule`` whose layers are ordinary modules: ``Conv`` → ``nn.Conv2d``
(a following constant bias ``Add`` folded in), ``BatchNormalization`` → ``nn.BatchNorm2d`` (so
``quant.qmodel.fold_batchnorm`` folds it into the conv), ``MatMul`` by a constant (+ constant ``Add``) →
``nn.Linear``, the hard-swish pattern ``x·clip(x+3, 0, 6)/6`` → ``nn.Hardswish``, ``HardSigmoid(α, β)`` →
``HardSigmoid``, pools → pooling modules. Sub-graphs of constants are folded at conversion time, and the
one shape computation such exports carry (``Reshape(x, Concat(Shape(x)[0:1], c…))``) becomes
``x.reshape(x.size(0), c…)``. Any other operator fails naming the node and its op type.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np
import torch
from torch import fx, nn

from workloads.errors import WorkloadError


class HardSigmoid(nn.Hardsigmoid):
    """ONNX HardSigmoid: clip(α·x + β, 0, 1) (PaddlePaddle exports α = 0.2, β = 0.5; torch's is α = 1/6)."""

    def __init__(self, alpha: float, beta: float):
        super().__init__()
        self.alpha, self.beta = float(alpha), float(beta)

    def forward(self, x):
        return torch.clamp(x * self.alpha + self.beta, 0.0, 1.0)


@dataclass(frozen=True)
class _Shape:
    """A value derived from a tensor's shape: its dims ``start:stop`` followed by constant dims."""

    source: str
    start: int = 0
    stop: int | None = None
    tail: tuple = ()


def _attrs(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


class _Builder:
    def __init__(self, model):
        from onnx import numpy_helper

        self.model = model
        self.root = nn.Module()
        self.graph = fx.Graph()
        self.consts: dict[str, np.ndarray] = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
        self.values: dict[str, object] = {}  # ONNX value name → fx.Node, or _Shape
        self.uses: dict[str, int] = {}
        for n in model.graph.node:
            for i in n.input:
                self.uses[i] = self.uses.get(i, 0) + 1
        self.producer = {o: n for n in model.graph.node for o in n.output}
        self.skip: set[int] = set()
        self.count = 0

    def module(self, prefix: str, mod: nn.Module, *args) -> fx.Node:
        name = f"{prefix}{self.count}"
        self.count += 1
        self.root.add_module(name, mod)
        return self.graph.call_module(name, args=args)

    def const(self, name):
        return self.consts.get(name)

    def sole_consumer(self, name: str, nodes, i: int):
        """The node after index ``i`` that reads ``name``, when it is the only reader."""
        if self.uses.get(name, 0) != 1:
            return None
        for j in range(i + 1, len(nodes)):
            if name in nodes[j].input:
                return j
        return None


def onnx_to_torch(path_or_model) -> fx.GraphModule:
    """Convert an ONNX model (path or ``onnx.ModelProto``) with one image input to an fx GraphModule."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path_or_model)) if not isinstance(path_or_model, onnx.ModelProto) else path_or_model
    b = _Builder(model)
    init = set(b.consts)
    inputs = [i for i in model.graph.input if i.name not in init]
    if len(inputs) != 1:
        raise WorkloadError(f"onnx_to_torch: expected one graph input, got {[i.name for i in inputs]}")
    b.values[inputs[0].name] = b.graph.placeholder("x")
    nodes = list(model.graph.node)
    folded = set()
    for i, node in enumerate(nodes):  # constants and sub-graphs of constants first: fusions look ahead
        ins = [n for n in node.input if n]
        if node.op_type == "Constant":
            b.consts[node.output[0]] = numpy_helper.to_array(helper.get_attribute_value(node.attribute[0]))
            folded.add(i)
        elif ins and all(n in b.consts for n in ins) and node.op_type in _FOLDABLE:
            b.consts[node.output[0]] = _FOLDABLE[node.op_type](*[b.consts[n] for n in ins], **_attrs(node))
            folded.add(i)
    for i, node in enumerate(nodes):
        if i in b.skip or i in folded:
            continue
        op, a = node.op_type, _attrs(node)
        ins = list(node.input)
        out = _convert(b, nodes, i, node, op, a, ins)
        b.values[node.output[0]] = out
    outputs = [b.values[o.name] for o in model.graph.output]
    b.graph.output(outputs[0] if len(outputs) == 1 else tuple(outputs))
    gm = fx.GraphModule(b.root, b.graph, class_name="OnnxModel")
    gm.graph.lint()
    return gm.eval()


def _reshape_const(x, shape, **_):
    return np.reshape(x, [int(s) for s in shape])


_FOLDABLE = {
    "Reshape": _reshape_const,
    "Cast": lambda x, to, **_: x.astype(_onnx_np_dtype(to)),
    "Identity": lambda x, **_: x,
}


def _onnx_np_dtype(to: int):
    from onnx import helper

    return helper.tensor_dtype_to_np_dtype(to)


def _value(b: _Builder, name: str):
    if name in b.values:
        return b.values[name]
    if name in b.consts:
        c = b.consts[name]
        if c.size == 1:
            return float(c.reshape(-1)[0])
        attr = f"const_{len([k for k in b.root._buffers])}"
        b.root.register_buffer(attr, torch.from_numpy(np.ascontiguousarray(c)))
        return b.graph.get_attr(attr)
    raise WorkloadError(f"onnx_to_torch: value {name!r} is used before it is produced")


def _conv(b: _Builder, nodes, i, node, a, ins) -> fx.Node:
    w = b.const(ins[1])
    if w is None or w.ndim != 4:
        raise WorkloadError(f"onnx_to_torch: node {node.name or node.output[0]} (Conv): only 2-D convs with "
                            "constant weights are supported")
    pads = a.get("pads", [0, 0, 0, 0])
    if pads[0] != pads[2] or pads[1] != pads[3] or a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise WorkloadError(f"onnx_to_torch: node {node.output[0]} (Conv): asymmetric/auto padding {pads}")
    groups = int(a.get("group", 1))
    conv = nn.Conv2d(w.shape[1] * groups, w.shape[0], tuple(w.shape[2:]), stride=tuple(a.get("strides", [1, 1])),
                     padding=(pads[0], pads[1]), dilation=tuple(a.get("dilations", [1, 1])), groups=groups,
                     bias=True)
    conv.weight.data = torch.from_numpy(w.copy())
    bias = b.const(ins[2]).copy() if len(ins) > 2 and ins[2] else np.zeros(w.shape[0], np.float32)
    j, c = _bias_add(b, node, nodes, i, w.shape[0])
    if j is not None:
        bias = bias + c
    conv.bias.data = torch.from_numpy(bias.astype(np.float32))
    out = b.module("conv", conv, _value(b, ins[0]))
    if j is not None:
        b.values[nodes[j].output[0]] = out
    return out


def _bias_add(b: _Builder, node, nodes, i, channels: int) -> tuple:
    """A constant per-channel Add right after a conv or matmul (its only reader) is the layer's bias: (index of
    the Add, now skipped, and its constant as a vector), or (None, None)."""
    j = b.sole_consumer(node.output[0], nodes, i)
    if j is None or nodes[j].op_type != "Add":
        return None, None
    other = [n for n in nodes[j].input if n != node.output[0]]
    c = b.const(other[0]) if len(other) == 1 else None
    if c is None or c.size != channels:
        return None, None
    b.skip.add(j)
    return j, c.reshape(-1)


def _is_hardswish(b: _Builder, nodes, i) -> tuple | None:
    """Add(x, 3) → Clip(0, 6) → Mul(x, ·) → Div(6): returns (x, indices of the four nodes) or None."""
    n0 = nodes[i]
    if n0.op_type != "Add" or len(n0.input) != 2:
        return None
    x, c = n0.input
    if b.const(c) is None or b.const(c).size != 1 or float(b.const(c).reshape(-1)[0]) != 3.0:
        return None
    idx = [i]
    j = b.sole_consumer(n0.output[0], nodes, i)
    if j is None or nodes[j].op_type != "Clip":
        return None
    lo, hi = (b.const(n) for n in nodes[j].input[1:3])
    if lo is None or hi is None or float(lo) != 0.0 or float(hi) != 6.0:
        return None
    idx.append(j)
    k = b.sole_consumer(nodes[j].output[0], nodes, j)
    if k is None or nodes[k].op_type != "Mul" or x not in nodes[k].input:
        return None
    idx.append(k)
    m = b.sole_consumer(nodes[k].output[0], nodes, k)
    if m is None or nodes[m].op_type != "Div" or b.const(nodes[m].input[1]) is None \
            or float(b.const(nodes[m].input[1])) != 6.0:
        return None
    idx.append(m)
    return x, idx


def _convert(b: _Builder, nodes, i, node, op, a, ins):
    where = f"node {node.name or node.output[0]} ({op})"
    if op == "Conv":
        return _conv(b, nodes, i, node, a, ins)
    if op == "BatchNormalization":
        scale, bias, mean, var = (b.const(n) for n in ins[1:5])
        if any(v is None for v in (scale, bias, mean, var)):
            raise WorkloadError(f"onnx_to_torch: {where}: statistics must be constants")
        bn = nn.BatchNorm2d(len(scale), eps=float(a.get("epsilon", 1e-5)))
        for t, v in (("weight", scale), ("bias", bias), ("running_mean", mean), ("running_var", var)):
            getattr(bn, t).data = torch.from_numpy(v.astype(np.float32).copy())
        return b.module("bn", bn.eval(), _value(b, ins[0]))
    if op == "Add":
        hs = _is_hardswish(b, nodes, i)
        if hs is not None:
            x, idx = hs
            b.skip.update(idx[1:])
            out = b.module("hardswish", nn.Hardswish(), _value(b, x))
            b.values[nodes[idx[-1]].output[0]] = out
            return out
        return b.graph.call_function(operator.add, (_value(b, ins[0]), _value(b, ins[1])))
    if op in ("Mul", "Div", "Sub"):
        f = {"Mul": operator.mul, "Div": operator.truediv, "Sub": operator.sub}[op]
        return b.graph.call_function(f, (_value(b, ins[0]), _value(b, ins[1])))
    if op == "Relu":
        return b.module("relu", nn.ReLU(), _value(b, ins[0]))
    if op == "Clip":
        lo, hi = (b.const(n) if n else None for n in (ins + ["", ""])[1:3])
        bounds = {"min": None if lo is None else float(lo), "max": None if hi is None else float(hi)}
        return b.graph.call_function(torch.clamp, (_value(b, ins[0]),), bounds)
    if op == "HardSigmoid":
        return b.module("hardsigmoid", HardSigmoid(a.get("alpha", 0.2), a.get("beta", 0.5)), _value(b, ins[0]))
    if op == "GlobalAveragePool":
        return b.module("gap", nn.AdaptiveAvgPool2d(1), _value(b, ins[0]))
    if op in ("MaxPool", "AveragePool"):
        pads = a.get("pads", [0, 0, 0, 0])
        if pads[0] != pads[2] or pads[1] != pads[3]:
            raise WorkloadError(f"onnx_to_torch: {where}: asymmetric padding {pads}")
        cls = nn.MaxPool2d if op == "MaxPool" else nn.AvgPool2d
        return b.module("pool", cls(tuple(a["kernel_shape"]), tuple(a.get("strides", a["kernel_shape"])),
                                    (pads[0], pads[1]), ceil_mode=bool(a.get("ceil_mode", 0))), _value(b, ins[0]))
    if op == "Shape":
        return _Shape(ins[0])
    if op in ("Cast", "Identity"):
        return b.values[ins[0]] if ins[0] in b.values else _value(b, ins[0])
    if op == "Slice":
        s = b.values.get(ins[0])
        starts, ends = b.const(ins[1]), b.const(ins[2])
        axes = b.const(ins[3]) if len(ins) > 3 and ins[3] else np.array([0])
        if not isinstance(s, _Shape) or starts is None or ends is None or list(axes) != [0]:
            raise WorkloadError(f"onnx_to_torch: {where}: only slices of a shape are supported")
        return _Shape(s.source, int(starts[0]), int(ends[0]))
    if op == "Concat":
        head = b.values.get(ins[0])
        tail = [b.const(n) for n in ins[1:]]
        if not isinstance(head, _Shape) or any(t is None for t in tail):
            raise WorkloadError(f"onnx_to_torch: {where}: only shape slices followed by constants are supported")
        return _Shape(head.source, head.start, head.stop, tuple(int(v) for t in tail for v in t.reshape(-1)))
    if op in ("Reshape", "Flatten"):
        x = _value(b, ins[0])
        if op == "Flatten":
            return b.graph.call_function(torch.flatten, (x, int(a.get("axis", 1))))
        s = b.values.get(ins[1])
        if isinstance(s, _Shape) and s.start == 0 and s.stop == 1:
            src = _value(b, s.source)
            n = b.graph.call_method("size", (src, 0))
            return b.graph.call_method("reshape", (x, n, *s.tail))
        c = b.const(ins[1])
        if c is None:
            raise WorkloadError(f"onnx_to_torch: {where}: the target shape must be constant or batch + constants")
        return b.graph.call_method("reshape", (x, *[int(v) for v in c]))
    if op == "MatMul":
        w = b.const(ins[1])
        if w is None or w.ndim != 2:
            return b.graph.call_function(torch.matmul, (_value(b, ins[0]), _value(b, ins[1])))
        lin = nn.Linear(w.shape[0], w.shape[1], bias=True)
        lin.weight.data = torch.from_numpy(np.ascontiguousarray(w.T))
        j, c = _bias_add(b, node, nodes, i, w.shape[1])
        lin.bias.data = torch.from_numpy((c if j is not None else np.zeros(w.shape[1])).astype(np.float32))
        out = b.module("linear", lin, _value(b, ins[0]))
        if j is not None:
            b.values[nodes[j].output[0]] = out
        return out
    if op == "Softmax":
        return b.module("softmax", nn.Softmax(dim=int(a.get("axis", -1))), _value(b, ins[0]))
    raise WorkloadError(f"onnx_to_torch: {where}: operator {op} is not supported by this converter")
