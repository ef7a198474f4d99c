"""ONNX file → ``LayerGraph`` with the ``onnx`` package and its shape inference (no onnxruntime needed).

Weights may be initializers or Constant nodes (paddle2onnx writes them as Constants); both count as the
weight operand. Ops are mapped like the fx extractor: Conv/Gemm/MatMul are compute layers, pooling and
tensor-tensor Add/Sub/Mul/Concat are vector layers, BatchNormalization folds into the conv before it, and
shape/activation ops are transparent. Any other op is an error naming the ONNX node and its op type.
"""
from __future__ import annotations

import math
from pathlib import Path

from workloads.errors import WorkloadError
from workloads.graph import LayerGraph

PASS = {"Relu", "Clip", "HardSigmoid", "HardSwish", "Sigmoid", "Tanh", "LeakyRelu", "PRelu", "Elu", "Gelu",
        "Softmax", "LogSoftmax", "Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "Shape", "Gather",
        "Slice", "Cast", "Identity", "Dropout", "Div", "Pow", "Sqrt", "Erf", "Exp", "Neg", "Expand",
        "LayerNormalization", "ReduceMax", "Pad", "Split", "Tile", "Range", "ConstantOfShape", "Equal", "Where"}
ELTWISE = {"Add": "add", "Sub": "add", "Mul": "mul"}
POOL = {"MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "ReduceMean"}


def _numel(shape) -> int:
    return int(math.prod(shape)) if shape is not None else 0


def load_onnx_graph(path: str | Path, input_shape=None, *, batch: int = 1, name: str | None = None) -> LayerGraph:
    """Layer graph of an ONNX model; ``input_shape`` (without batch) fixes dynamic input dimensions."""
    import onnx
    from onnx import numpy_helper, shape_inference

    path = Path(path)
    try:
        model = onnx.load(str(path))
    except Exception as exc:
        raise WorkloadError(f"{path}: not a readable ONNX model ({type(exc).__name__}: {exc})") from None
    graph = model.graph
    inits = {i.name: tuple(i.dims) for i in graph.initializer}
    consts = {}
    for node in graph.node:
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value":
                    consts[node.output[0]] = tuple(numpy_helper.to_array(a.t).shape)
    weights = {**inits, **consts}
    real_inputs = [i for i in graph.input if i.name not in inits]
    if len(real_inputs) != 1:
        raise WorkloadError(f"{path}: expected one model input, found {[i.name for i in real_inputs]}")
    inp = real_inputs[0]
    dims = inp.type.tensor_type.shape.dim
    if input_shape is not None:
        full = (batch, *[int(s) for s in input_shape])
        if len(full) != len(dims):
            raise WorkloadError(f"{path}: input {inp.name!r} has rank {len(dims)}, input_shape gives {len(full)} "
                                f"dimensions with the batch")
        for d, v in zip(dims, full, strict=True):
            d.ClearField("dim_param")
            d.dim_value = v
    full = tuple(d.dim_value for d in dims)
    if any(v <= 0 for v in full):
        raise WorkloadError(f"{path}: input {inp.name!r} has dynamic dimensions {full}; pass input_shape")
    inferred = shape_inference.infer_shapes(model, data_prop=True)  # folds Shape→Slice→Reshape chains
    shapes = {inp.name: full, **weights}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output):
        d = vi.type.tensor_type.shape.dim
        if d and all(x.HasField("dim_value") for x in d):
            shapes[vi.name] = tuple(x.dim_value for x in d)

    produced = [o for n in graph.node if n.op_type != "Constant" for o in n.output if o]
    if any(o not in shapes for o in produced):  # data-dependent shapes: run the graph once on zeros
        shapes.update(_shapes_by_evaluation(model, inp.name, full, produced))

    g = LayerGraph(name=name or path.stem, input_shape=full)
    g.add_layer("input", "input", out_shape=full, source=inp.name)
    prod = {inp.name: frozenset(["input"])}
    is_weight = set(weights)
    meta: set = set()  # tensor shapes computed at run time (Shape → Slice → Concat …): not data

    def ins(node):
        return [t for t in node.input if t]

    def add(node, op, acts, **attrs):
        base = node.name or f"{node.op_type}_{len(g.graph)}"
        nm, i = base, 2
        while nm in g.graph:
            nm, i = f"{base}#{i}", i + 1
        srcs = sorted({p for a in acts for p in prod.get(a, ())}, key=lambda n: g.graph.nodes[n]["index"])
        out = shapes.get(node.output[0])
        if out is None:
            raise WorkloadError(f"ONNX node {base!r} ({node.op_type}): output shape unknown after shape inference")
        in_shapes = [shapes.get(a, ()) for a in acts]
        g.add_layer(nm, op, srcs, source=node.name, out_shape=out, in_shapes=in_shapes,
                    act_in_elems=sum(_numel(s) for s in in_shapes), act_out_elems=_numel(out), **attrs)
        prod[node.output[0]] = frozenset([nm])

    for node in graph.node:
        op, inputs = node.op_type, ins(node)
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if op == "Constant":
            continue
        if op == "Shape" or (inputs and all(t in meta or t in is_weight for t in inputs)
                             and any(t in meta for t in inputs)):
            meta.update(node.output)
            continue
        if all(t in is_weight for t in inputs) and inputs:
            is_weight.update(node.output)  # computed from weights only
            continue
        if op == "Conv":
            x, w = inputs[0], inputs[1]
            ws, xs, out = weights.get(w) or shapes.get(w), shapes.get(x), shapes.get(node.output[0])
            if ws is None or xs is None or out is None:
                raise WorkloadError(f"ONNX node {node.name!r} (Conv): shapes unknown")
            k = tuple(attrs.get("kernel_shape", ws[2:]))
            groups = int(attrs.get("group", 1))
            pads = attrs.get("pads", [0] * 2 * len(k))
            add(node, "conv", [x], weight_shape=ws, operands=["act", "weight"], kernel=k,
                stride=tuple(attrs.get("strides", [1] * len(k))), padding=tuple(pads[: len(k)]),
                dilation=tuple(attrs.get("dilations", [1] * len(k))), groups=groups, in_channels=xs[1],
                out_channels=ws[0], macs=_numel(out) * _numel(ws[1:]), weight_elems=_numel(ws), bias=len(inputs) > 2,
                gemm={"batch": groups, "M": _numel(out) // out[1], "N": ws[0] // groups, "K": _numel(ws[1:])})
        elif op in ("Gemm", "MatMul"):
            a, b = inputs[0], inputs[1]
            sa, sb = shapes.get(a), shapes.get(b)
            if sa is None or sb is None:
                raise WorkloadError(f"ONNX node {node.name!r} ({op}): operand shapes unknown")
            if op == "Gemm" and attrs.get("transB", 0):
                sb = (sb[1], sb[0])
            roles = ["weight" if t in is_weight else "act" for t in (a, b)]
            m_, k_, n_ = sa[-2] if len(sa) > 1 else 1, sa[-1], sb[-1]
            out = shapes.get(node.output[0], ())
            batch = _numel(out[:-2]) if len(out) > 2 else 1
            acts = [t for t, r in zip((a, b), roles, strict=True) if r == "act"]
            kind = "linear" if roles == ["act", "weight"] and len(sb) == 2 else "matmul"
            add(node, kind, acts, operands=roles, weight_shape=sb if roles[1] == "weight" else None,
                weight_elems=_numel(sb) if roles[1] == "weight" else 0, in_channels=k_, out_channels=n_,
                macs=batch * m_ * n_ * k_, bias=op == "Gemm" and len(inputs) > 2,
                gemm={"batch": batch, "M": m_, "N": n_, "K": k_})
        elif op in POOL:
            xs, out = shapes.get(inputs[0]), shapes.get(node.output[0])
            if op.startswith("Global") or op == "ReduceMean":
                kernel = tuple(xs[2:]) if len(xs) > 2 else (xs[-1],)
                stride = (1,) * len(kernel)
            else:
                kernel = tuple(attrs["kernel_shape"])
                stride = tuple(attrs.get("strides", [1] * len(kernel)))
            add(node, "pool", [inputs[0]], operands=["act"], kernel=kernel, stride=stride,
                in_channels=xs[1], out_channels=out[1], vector_ops=_numel(out) * _numel(kernel))
        elif op in ELTWISE:
            tens = [t for t in inputs if _numel(shapes.get(t, (1,))) > 1]
            if len(tens) < 2:
                prod[node.output[0]] = frozenset(p for t in inputs for p in prod.get(t, ()))
                continue
            roles = ["weight" if t in is_weight else "act" for t in inputs]
            acts = [t for t, r in zip(inputs, roles, strict=True) if r == "act"]
            bias = _bias_of(g, prod, op, acts, [t for t, r in zip(inputs, roles, strict=True) if r == "weight"],
                            shapes)
            if bias is not None:  # conv/gemm output + per-channel weight: that layer's bias
                g.graph.nodes[bias]["bias"] = True
                prod[node.output[0]] = frozenset([bias])
                continue
            add(node, ELTWISE[op], acts, operands=roles, vector_ops=_numel(shapes.get(node.output[0])),
                weight_elems=sum(_numel(shapes.get(t)) for t, r in zip(inputs, roles, strict=True) if r == "weight"))
        elif op == "Concat":
            roles = ["weight" if t in is_weight else "act" for t in inputs]
            add(node, "concat", [t for t, r in zip(inputs, roles, strict=True) if r == "act"], operands=roles)
        elif op == "BatchNormalization":
            src = inputs[0]
            layers = prod.get(src, frozenset())
            if len(layers) == 1:
                d = g.graph.nodes[next(iter(layers))]
                if d["op"] in ("conv", "linear"):
                    d["bn_folded"], d["bias"] = True, True
            prod[node.output[0]] = layers
        elif op in PASS:
            for o in node.output:
                prod[o] = frozenset(p for t in inputs if t not in is_weight and t not in meta
                                    for p in prod.get(t, ()))
        else:
            raise WorkloadError(f"cannot represent ONNX node {node.name!r} (op type {op}) in {path.name}")
    return g


def _shapes_by_evaluation(model, input_name: str, full: tuple, names: list) -> dict:
    """Shapes of every intermediate tensor from one run of onnx's reference evaluator on zeros."""
    import numpy as np
    import onnx
    from onnx.reference import ReferenceEvaluator

    m = onnx.ModelProto()
    m.CopyFrom(model)
    del m.graph.output[:]
    m.graph.output.extend(onnx.helper.make_empty_tensor_value_info(n) for n in names)
    try:
        values = ReferenceEvaluator(m).run(None, {input_name: np.zeros(full, np.float32)})
    except Exception as exc:
        raise WorkloadError(f"ONNX shape inference left shapes unknown and evaluating the graph failed: "
                            f"{type(exc).__name__}: {exc}") from None
    return {n: tuple(np.shape(v)) for n, v in zip(names, values, strict=True)}


def _bias_of(g, prod, op, acts, weights, shapes):
    """The conv/linear layer whose output this Add adds a per-output-channel weight to, else None."""
    if op != "Add" or len(acts) != 1 or len(weights) != 1:
        return None
    layers = prod.get(acts[0], frozenset())
    if len(layers) != 1:
        return None
    (layer,) = layers
    d = g.graph.nodes[layer]
    if d["op"] in ("conv", "linear") and _numel(shapes.get(weights[0])) == d["out_channels"] \
            and d["source"] and not d["bias"]:
        return layer
    return None
