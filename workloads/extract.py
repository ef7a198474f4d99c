"""PyTorch model → ``LayerGraph`` with torch.fx (symbolic trace + shape propagation; torch.export fallback).

Every fx node is classified once by a normalised op name (module type, function name or ATen op name), so
the symbolic-trace graph and the torch.export graph go through the same code. Compute layers (conv,
linear, matmul) and vector layers (pool, add, mul, concat) become graph nodes; shape/view ops,
activations, normalisation and dropout are transparent: their producers connect straight to their
consumers. BatchNorm after a conv/linear is folded into it (``bn_folded``). Anything else is an error
that names the fx node, its target and its module path.
"""
from __future__ import annotations

import contextlib
import io
import logging
import math
import time

import torch
from torch import fx, nn

from workloads import fx_transformer as tf
from workloads.errors import WorkloadError
from workloads.fx_ops import (
    ADD,
    BN,
    CAT,
    CONV,
    EMBED,
    INDEX_MATH,
    LINEAR,
    MATMUL,
    MHA,
    MOE,
    MUL,
    PASS,
    POOL,
    SDPA,
    UPSAMPLE,
    op_kind,
)
from workloads.graph import LayerGraph


def _pair(v, n=2):
    if isinstance(v, (list, tuple)):
        return tuple(int(x) for x in v) if len(v) == n else tuple(int(v[0]) for _ in range(n))
    return (int(v),) * n


def _numel(shape) -> int:
    return int(math.prod(shape)) if shape is not None else 0


class _Extractor:
    def __init__(self, gm: fx.GraphModule, name: str, input_shape: tuple, params: set | None = None):
        self.gm, self.modules = gm, dict(gm.named_modules())
        self.params = params or set()  # placeholder names that are parameters/buffers (torch.export)
        self.g = LayerGraph(name=name, input_shape=input_shape)
        self.prod: dict = {}  # fx node → frozenset of graph layers producing it
        self.weight: dict = {}  # fx node → parameter elements behind it, for nodes derived only from weights
        self.const: set = set()  # metadata values (sizes, dims): neither data nor weights
        self.names: set = set()

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def shape(node):
        if not isinstance(node, fx.Node):
            return None
        tm = node.meta.get("tensor_meta")
        if tm is not None and hasattr(tm, "shape"):
            return tuple(int(s) for s in tm.shape)
        val = node.meta.get("val")
        if val is not None and hasattr(val, "shape"):
            return tuple(int(s) for s in val.shape)
        return None

    @staticmethod
    def floating(node) -> bool:
        """The fx node's result is a floating-point tensor (data), not integer/bool index arithmetic."""
        tm = node.meta.get("tensor_meta")
        dtype = getattr(tm, "dtype", None) or getattr(node.meta.get("val"), "dtype", None)
        return dtype is None or dtype.is_floating_point

    def module_path(self, node) -> str:
        if node.op == "call_module":
            return str(node.target)
        stack = node.meta.get("nn_module_stack") or {}
        if stack:
            path = list(stack.values())[-1]
            path = path[0] if isinstance(path, tuple) else path
            return str(path).replace("L['self'].", "").replace("L__self___", "")
        return ""

    def kind(self, node) -> str:
        return op_kind(node, self.modules)

    def tensor_inputs(self, node) -> list:
        found = []
        fx.node.map_arg((node.args, node.kwargs), lambda n: found.append(n))
        return found

    def unique(self, base: str) -> str:
        name, i = base, 2
        while name in self.names:
            name, i = f"{base}#{i}", i + 1
        self.names.add(name)
        return name

    def fail(self, node, why: str):
        path = self.module_path(node)
        raise WorkloadError(f"cannot represent fx node {node.name!r} (op {node.op}, target {node.target!r}"
                            f"{', module ' + repr(path) if path else ''}): {why}")

    def add(self, node, op: str, act_inputs: list, **attrs) -> None:
        path = self.module_path(node)
        name = self.unique(path if node.op == "call_module" and path else
                           (f"{path}.{node.name}" if path else node.name))
        srcs = sorted({p for a in act_inputs for p in self.prod.get(a, ())},
                      key=lambda n: self.g.graph.nodes[n]["index"])
        out = self.shape(node)
        in_shapes = [self.shape(a) for a in act_inputs]
        self.g.add_layer(name, op, srcs, module=path, source=node.name, out_shape=out, in_shapes=in_shapes,
                         act_in_elems=sum(_numel(s) for s in in_shapes), act_out_elems=_numel(out), **attrs)
        self.prod[node] = frozenset([name])

    def add_named(self, node, name: str, op: str, srcs, **attrs) -> str:
        """One graph layer from part of an fx node (attention products, MHA projections): explicit name (made
        unique), producers and shapes. Returns the layer's name."""
        name = self.unique(name)
        srcs = sorted(srcs, key=lambda n: self.g.graph.nodes[n]["index"])
        attrs.setdefault("act_in_elems", sum(_numel(s) for s in attrs.get("in_shapes", [])))
        self.g.add_layer(name, op, srcs, module=self.module_path(node), source=node.name,
                         act_out_elems=_numel(attrs.get("out_shape")), **attrs)
        self.prod[node] = frozenset([name])
        return name

    def passthrough(self, node) -> None:
        ins = [a for a in self.tensor_inputs(node) if a not in self.const]
        if not ins and self.tensor_inputs(node):
            self.const.add(node)
        self.prod[node] = frozenset(p for a in ins for p in self.prod.get(a, ()))
        if ins and all(a in self.weight for a in ins):
            self.weight[node] = sum(self.weight[a] for a in ins)

    def tensor_operands(self, node) -> list:
        return [a for a in self.tensor_inputs(node) if a not in self.const]

    def roles(self, nodes) -> list:
        return ["weight" if n in self.weight else "act" for n in nodes]

    # ------------------------------------------------------------------ walk
    def run(self) -> LayerGraph:
        for node in self.gm.graph.nodes:
            if node.op == "output":
                continue
            if node.op == "placeholder":
                if node.name in self.params:
                    self.weight[node] = _numel(self.shape(node))
                    self.prod[node] = frozenset()
                else:
                    name = self.unique("input" if "input" not in self.names else node.name)
                    self.g.add_layer(name, "input", out_shape=self.shape(node) or (), source=node.name)
                    self.prod[node] = frozenset([name])
                continue
            if node.op == "get_attr":
                self.weight[node] = _numel(self.shape(node))
                self.prod[node] = frozenset()
                continue
            self.visit(node, self.kind(node))
        return self.g

    def visit(self, node, k: str) -> None:
        if k in MOE:
            self.fail(node, f"mixture-of-experts routing ({k}: data-dependent expert selection) is not supported")
        if node.op != "call_module" and k not in SDPA and tf.in_fused_module(node):
            return self.passthrough(node)  # inside a norm / rotary module: fused post-processing
        tin = self.tensor_inputs(node)
        if tin and node.op != "call_module" and not any(self.prod.get(a) for a in tin) and \
                any((a in self.const and self.shape(a) is not None) or self.positional(a) for a in tin):
            self.passthrough(node)  # computed from positions (and constants) only: rotary tables, masks
            self.weight.pop(node, None)
            return None
        if k in SDPA:
            return tf.sdpa(self, node)
        if k in MHA:
            return tf.multihead_attention(self, node)
        if k in EMBED:
            return tf.embedding(self, node)
        if k in UPSAMPLE:
            return tf.upsample(self, node)
        if k == "rms_norm":
            return self.passthrough(node)
        if k in INDEX_MATH and not self.floating(node):
            return self.passthrough(node)  # position ids counted from a mask: index arithmetic, not data
        if k in CONV:
            return self.conv(node)
        if k in LINEAR:
            return self.linear(node, k)
        if k in MATMUL:
            return self.matmul(node)
        if k in POOL:
            return self.pool(node, k)
        if k in ADD or k in MUL:
            return self.eltwise(node, "add" if k in ADD else "mul")
        if k in CAT:
            return self.concat(node)
        if k in BN:
            src = self.tensor_inputs(node)[0]
            layers = self.prod.get(src, frozenset())
            if len(layers) == 1:
                (layer,) = layers
                d = self.g.graph.nodes[layer]
                if d["op"] in ("conv", "linear") and d["source"] == src.name:
                    d["bn_folded"] = True
                    d["bias"] = True
            self.prod[node] = layers
            return None
        if k in ("size", "getattr", "dim", "sym_size") and self.shape(node) is None:
            self.const.add(node)  # x.shape / x.size(): metadata, not a data dependency
            self.prod[node] = frozenset()
            return None
        if k in PASS or k == "relu":
            return self.passthrough(node)
        if self.shape(node) is None and node.op != "call_module":
            return self.passthrough(node)  # non-tensor results (sizes, tuples of metadata)
        self.fail(node, f"unsupported op {k!r}")

    # ------------------------------------------------------------------ layers
    def conv(self, node) -> None:
        if node.op == "call_module":
            m = self.modules[node.target]
            x, w_shape, has_bias = node.args[0], tuple(m.weight.shape), m.bias is not None
            stride, pad, dil, groups = m.stride, m.padding, m.dilation, m.groups
            wnode = None
        else:
            args = list(node.args) + [None] * 9
            kw = node.kwargs
            x, wnode, bias = args[0], args[1], kw.get("bias", args[2])
            w_shape, has_bias = self.shape(wnode), bias is not None
            if self.kind(node) in ("convolution", "_convolution"):
                stride, pad, dil, groups = args[3], args[4], args[5], args[8]
                if args[6]:
                    self.fail(node, "transposed convolution is not supported")
            else:
                stride, pad, dil, groups = (kw.get(k, args[i] if args[i] is not None else d) for k, i, d in
                                            (("stride", 3, 1), ("padding", 4, 0), ("dilation", 5, 1), ("groups", 6, 1)))
        xs, out = self.shape(x), self.shape(node)
        if xs is None or out is None or w_shape is None:
            self.fail(node, "shapes unknown after propagation")
        if len(xs) == 3:  # conv1d as a 1×k conv2d
            xs, out, w_shape = (xs[0], xs[1], 1, xs[2]), (out[0], out[1], 1, out[2]), (*w_shape[:2], 1, w_shape[2])
            stride, dil = (1, _pair(stride, 1)[0]), (1, _pair(dil, 1)[0])
            pad = (0, _pair(pad, 1)[0]) if not isinstance(pad, str) else pad
        n, c, _h, _w = xs
        k_out, cpg, kh, kw_ = w_shape
        groups = int(groups)
        stride, dil = _pair(stride), _pair(dil)
        if isinstance(pad, str):  # 'same' / 'valid': the effective padding
            pad = tuple(max(0, ((o - 1) * s + d * (k - 1) + 1 - i) // 2)
                        for o, s, d, k, i in zip(out[2:], stride, dil, (kh, kw_), xs[2:], strict=True))
        ho, wo = out[2], out[3]
        macs = n * k_out * ho * wo * cpg * kh * kw_
        self.add(node, "conv", [x], weight_shape=w_shape, operands=["act", "weight"], kernel=(kh, kw_),
                 stride=stride, padding=_pair(pad), dilation=dil, groups=groups, in_channels=c, out_channels=k_out,
                 macs=macs, weight_elems=_numel(w_shape), bias=has_bias,
                 gemm={"batch": groups, "M": n * ho * wo, "N": k_out // groups, "K": cpg * kh * kw_})

    def linear(self, node, k: str) -> None:
        if node.op == "call_module":
            m = self.modules[node.target]
            x, w_shape, has_bias = node.args[0], tuple(m.weight.shape), m.bias is not None
        elif k == "addmm":  # addmm(bias, x, w.T)
            x, wt = node.args[1], self.shape(node.args[2])
            w_shape, has_bias = (wt[1], wt[0]), True
        else:
            x, w_shape = node.args[0], self.shape(node.args[1])
            has_bias = (node.args[2] if len(node.args) > 2 else node.kwargs.get("bias")) is not None
        xs = self.shape(x)
        if xs is None or w_shape is None:
            self.fail(node, "shapes unknown after propagation")
        n_out, n_in = w_shape
        m_rows = _numel(xs) // n_in
        self.add(node, "linear", [x], weight_shape=w_shape, operands=["act", "weight"], in_channels=n_in,
                 out_channels=n_out, macs=m_rows * n_in * n_out, weight_elems=_numel(w_shape), bias=has_bias,
                 gemm={"batch": 1, "M": m_rows, "N": n_out, "K": n_in})

    def matmul(self, node) -> None:
        a, b = node.args[0], node.args[1]
        sa, sb, out = self.shape(a), self.shape(b), self.shape(node)
        if sa is None or sb is None or out is None or len(sa) < 2 or len(sb) < 2:
            self.fail(node, "matmul needs operands of rank ≥ 2 with known shapes")
        roles = self.roles([a, b])
        m_, k_, n_ = sa[-2], sa[-1], sb[-1]
        batch = _numel(out[:-2])
        acts = [x for x, r in zip((a, b), roles, strict=True) if r == "act"]
        weight = next((x for x, r in zip((a, b), roles, strict=True) if r == "weight"), None)
        self.add(node, "matmul", acts, operands=roles, weight_shape=self.shape(weight) if weight is not None else None,
                 weight_elems=self.weight.get(weight, 0) if weight is not None else 0, in_channels=k_, out_channels=n_,
                 macs=batch * m_ * n_ * k_, gemm={"batch": batch, "M": m_, "N": n_, "K": k_})

    def pool(self, node, k: str) -> None:
        x = self.tensor_inputs(node)[0]
        xs, out = self.shape(x), self.shape(node)
        if xs is None or out is None:
            self.fail(node, "shapes unknown after propagation")
        if k == "mean":
            dims = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
            dims = [dims] if isinstance(dims, int) else list(dims or range(len(xs)))
            window = _numel([xs[d] for d in dims])
            kernel, stride = (window, 1), (1, 1)
        elif node.op == "call_module" and hasattr(self.modules[node.target], "kernel_size"):
            m = self.modules[node.target]
            kernel, stride = _pair(m.kernel_size), _pair(m.stride if m.stride else m.kernel_size)
            window = _numel(kernel)
        else:  # adaptive / functional: the window that maps the input onto the output
            sp_in, sp_out = (xs[2:] if len(xs) >= 3 else xs[-1:]), (out[2:] if len(out) >= 3 else out[-1:])
            kernel = tuple(-(-i // max(o, 1)) for i, o in zip(sp_in, sp_out, strict=False))
            kernel = _pair(kernel if len(kernel) == 2 else (1, *kernel))
            stride = tuple(i // max(o, 1) for i, o in zip(sp_in, sp_out, strict=False))
            stride = _pair(stride if len(stride) == 2 else (1, *stride))
            window = _numel(kernel)
        self.add(node, "pool", [x], operands=["act"], kernel=kernel, stride=stride,
                 in_channels=xs[1] if len(xs) > 1 else 0, out_channels=out[1] if len(out) > 1 else 0,
                 vector_ops=_numel(out) * window)

    def positional(self, node) -> bool:
        """A tensor derived from no layer and no weight (rotary cos/sin tables, masks built from positions):
        computed once, a constant to the layers that use it."""
        return (not self.prod.get(node) and node not in self.weight and node not in self.const
                and self.shape(node) is not None)

    def same_producer(self, ins) -> bool:
        """Every activation operand comes from the same producing layers (rotary's q·cos + rotate(q)·sin):
        element-wise post-processing of that producer's output, fused with it."""
        acts = [a for a in ins if a not in self.weight]
        prods = {self.prod.get(a, frozenset()) for a in acts}
        return len(acts) == len(ins) > 1 and len(prods) == 1 and bool(next(iter(prods)))

    def eltwise(self, node, op: str) -> None:
        ins = [a for a in self.tensor_operands(node) if self.shape(a) is not None]
        big = [a for a in ins if _numel(self.shape(a)) > 1 and not self.positional(a)]
        if len(big) < 2 or self.same_producer(big):  # x + scalar, x·scale, x·cos: fused post-processing
            return self.passthrough(node)
        roles = self.roles(ins)
        if all(r == "weight" for r in roles):
            return self.passthrough(node)
        acts = [a for a, r in zip(ins, roles, strict=True) if r == "act"]
        w = [a for a, r in zip(ins, roles, strict=True) if r == "weight"]
        self.add(node, op, acts, operands=roles, weight_shape=self.shape(w[0]) if w else None,
                 weight_elems=sum(self.weight[a] for a in w), vector_ops=_numel(self.shape(node)))

    def concat(self, node) -> None:
        ins = self.tensor_operands(node)
        if len(ins) > 1 and self.same_producer(ins):  # rotate_half: cat(-x2, x1), a permutation of one output
            (src,) = self.prod[ins[0]] if len(self.prod[ins[0]]) == 1 else (None,)
            if src is not None and self.g.graph.nodes[src]["act_out_elems"] == _numel(self.shape(node)):
                return self.passthrough(node)
        roles = self.roles(ins)
        acts = [a for a, r in zip(ins, roles, strict=True) if r == "act"]
        w = [a for a, r in zip(ins, roles, strict=True) if r == "weight"]
        self.add(node, "concat", acts, operands=roles, weight_elems=sum(self.weight[a] for a in w))


def _check_input_shape(input_shape, batch: int) -> tuple:
    if not isinstance(batch, int) or batch < 1:
        raise WorkloadError(f"batch: must be a positive integer, got {batch!r}")
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        raise WorkloadError(f"input_shape: expected a tuple of positive integers, got {input_shape!r}") from None
    if not shape or any(s < 1 for s in shape):
        raise WorkloadError(f"input_shape: expected a tuple of positive integers, got {input_shape!r}")
    return (batch, *shape)


def model_dtype(model: nn.Module, default=torch.float32):
    """The dtype of a model's floating parameters (``default`` when it has none): bf16/fp16 models take inputs
    of it."""
    return next((p.dtype for p in model.parameters() if p.is_floating_point()), default)


@contextlib.contextmanager
def _quiet_torch():
    """torch.export writes warnings and whole graph dumps to stderr when it fails; the one-line error that
    names the failure is ours to print."""
    log = logging.getLogger("torch")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        log.setLevel(level)


def extract_graph(model: nn.Module, input_shape, *, batch: int = 1, name: str | None = None,
                  method: str = "auto") -> LayerGraph:
    """Trace ``model`` on an input of shape (batch, *input_shape) and return its layer graph.

    ``method``: ``"fx"`` (symbolic trace), ``"export"`` (torch.export) or ``"auto"`` (fx, then export).
    """
    if not isinstance(model, nn.Module):
        raise WorkloadError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    if method not in ("auto", "fx", "export"):
        raise WorkloadError(f"method: expected 'auto', 'fx' or 'export', got {method!r}")
    full = _check_input_shape(input_shape, batch)
    name = name or type(model).__name__
    model = model.eval()
    x = torch.randn(full, dtype=model_dtype(model))
    with torch.no_grad():
        try:
            model(x)
        except Exception as exc:  # the model rejects this input: say so, not a trace error deep inside
            raise WorkloadError(f"{name}: running the model on an input of shape {full} failed: "
                                f"{type(exc).__name__}: {exc}") from None
    errors = []
    if method in ("auto", "fx"):
        try:
            gm = fx.symbolic_trace(model)
        except Exception as exc:
            errors.append(f"torch.fx symbolic_trace: {type(exc).__name__}: {str(exc).splitlines()[0]}")
        else:
            from torch.fx.passes.shape_prop import ShapeProp

            with torch.no_grad():
                ShapeProp(gm).propagate(x)
            return _Extractor(gm, name, full).run()
    if method in ("auto", "export"):
        try:
            with _quiet_torch():
                ep = torch.export.export(model, (x,))
        except Exception as exc:
            errors.append(f"torch.export: {type(exc).__name__}: {str(exc).splitlines()[0]}")
        else:
            sig = ep.graph_signature
            params = set(sig.inputs_to_parameters) | set(sig.inputs_to_buffers)
            params |= set(getattr(sig, "inputs_to_lifted_tensor_constants", {}) or {})
            return _Extractor(ep.graph_module, name, full, params).run()
    raise WorkloadError(f"{name}: cannot trace the model. " + "; ".join(errors))


def timed_extract(model, input_shape, **kw) -> tuple[LayerGraph, float]:
    t0 = time.perf_counter()
    g = extract_graph(model, input_shape, **kw)
    return g, time.perf_counter() - t0
