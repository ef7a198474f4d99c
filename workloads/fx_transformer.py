"""Extraction of the ops of modern transformer code: scaled-dot-product attention (causal, masked, grouped-query),
``nn.MultiheadAttention``, embedding lookups and up-sampling. Called by ``workloads.extract._Extractor``.

Counting rules (each checked against hand counts in ``tests/workloads/test_fx_transformer.py``):

- **SDPA** ``softmax(Q·Kᵀ/√d + mask)·V`` with Q (…, H, Tq, d), K (…, Hk, Tk, d), V (…, Hk, Tk, dv) becomes two
  array layers: ``<name>.qk`` = Q·Kᵀ and ``<name>.av`` = P·V, both operands activations. Causal or masked
  attention is counted as the **dense** Tq×Tk product: an array computes every score and the mask zeroes the
  unused half, so MACs = B·H·Tq·Tk·(d + dv) whatever the mask. Grouped-query attention (H = g·Hk,
  ``enable_gqa`` or K/V repeated with ``repeat_interleave``/``expand``, which are transparent views) is a GEMM
  per K/V head with the g query heads stacked as rows: gemm {batch: B·Hk, M: g·Tq, N: Tk, K: d}, so one K/V
  tile serves the whole group (MACs unchanged). Softmax and scaling are post-processing (transparent).
- **nn.MultiheadAttention** (batch_first or not) is its input projection (one linear per Q, K, V: E→E, or
  kdim/vdim→E), the two attention products per head and ``out_proj``.
- **Embedding lookup** is a DRAM read of the rows used, not a matmul: an ``embedding`` vector layer with
  weight_shape (V, D), weight_elems = tokens·D (the elements gathered), no MACs.
- **Up-sampling** (``F.interpolate``, ``nn.Upsample``) is a vector layer (op ``pool``): vector_ops = output
  elements × taps (nearest 1, linear 2, bilinear 4, bicubic 16 per output element).
- **Mixture-of-experts routing** (top-k expert selection, one-hot dispatch, scatter-add combine) is refused
  with one error: the layer graph has no data-dependent routing.
"""
from __future__ import annotations

import math
import re

from workloads.fx_ops import FUSED_MODULE


def _numel(shape) -> int:
    return int(math.prod(shape)) if shape is not None else 0


def in_fused_module(node) -> bool:
    """True for an fx node inside a norm or rotary module: element-wise post-processing, transparent."""
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return False
    entry = list(stack.values())[-1]
    cls = entry[1] if isinstance(entry, tuple) and len(entry) > 1 else entry
    name = cls.__name__ if isinstance(cls, type) else str(cls).rsplit(".", 1)[-1].rstrip("'>")
    return re.search(FUSED_MODULE, name) is not None


def _attention(ex, node, base: str, q_shape, k_shape, v_shape, srcs_q, srcs_k, srcs_v) -> str:
    """Two array layers for softmax(Q·Kᵀ)·V: ``base.qk`` and ``base.av`` (dense Tq×Tk, GQA as a GEMM per K/V head)."""
    *lead, heads, tq, d = q_shape
    kv_heads, tk, dv = k_shape[-3], k_shape[-2], v_shape[-1]
    if kv_heads < 1 or heads % kv_heads:
        ex.fail(node, f"query heads {heads} are not a multiple of key/value heads {kv_heads}")
    b = _numel(lead)
    g = heads // kv_heads
    qk = ex.add_named(node, f"{base}.qk", "matmul", srcs_q | srcs_k, in_shapes=[q_shape, k_shape],
                      out_shape=(*lead, heads, tq, tk), operands=["act", "act"], in_channels=d, out_channels=tk,
                      macs=b * heads * tq * tk * d, gemm={"batch": b * kv_heads, "M": g * tq, "N": tk, "K": d})
    return ex.add_named(node, f"{base}.av", "matmul", {qk} | srcs_v, in_shapes=[(*lead, heads, tq, tk), v_shape],
                 out_shape=(*lead, heads, tq, dv), operands=["act", "act"], in_channels=tk, out_channels=dv,
                 macs=b * heads * tq * tk * dv, gemm={"batch": b * kv_heads, "M": g * tq, "N": dv, "K": tk})


def sdpa(ex, node) -> None:
    """``F.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0, is_causal=False, scale=None,
    enable_gqa=False)`` and its ATen variants."""
    q, k, v = node.args[:3]
    shapes = [ex.shape(t) for t in (q, k, v)]
    if any(s is None or len(s) < 3 for s in shapes):
        ex.fail(node, "scaled_dot_product_attention needs q, k, v of rank ≥ 3 with known shapes")
    path = ex.module_path(node)
    base = f"{path}.{node.name}" if path else node.name
    prods = [ex.prod.get(t, frozenset()) for t in (q, k, v)]
    ex.prod[node] = frozenset([_attention(ex, node, base, *shapes, *prods)])


def multihead_attention(ex, node) -> None:
    """A call to an ``nn.MultiheadAttention`` module (symbolic trace keeps it as one leaf)."""
    m = ex.modules[node.target]
    args = list(node.args) + [node.kwargs.get(k) for k in ("query", "key", "value")][len(node.args):]
    q, k, v = (args + [None] * 3)[:3]
    shapes = [ex.shape(t) for t in (q, k, v)]
    if any(s is None or len(s) != 3 for s in shapes):
        ex.fail(node, "nn.MultiheadAttention needs query, key, value of rank 3 with known shapes")
    if not m.batch_first:  # (T, B, E) → (B, T, E)
        shapes = [(s[1], s[0], s[2]) for s in shapes]
    (b, tq, e), (_, tk, kd), (_, _, vd) = shapes
    h = m.num_heads
    path = str(node.target)
    names = {}
    for part, t, shape, feat in (("q", q, shapes[0], e), ("k", k, shapes[1], kd), ("v", v, shapes[2], vd)):
        rows = shape[0] * shape[1]
        names[part] = ex.add_named(node, f"{path}.in_proj_{part}", "linear", ex.prod.get(t, frozenset()),
                                   in_shapes=[shape], out_shape=(shape[0], shape[1], e), weight_shape=(e, feat),
                                   operands=["act", "weight"], in_channels=feat, out_channels=e, macs=rows * feat * e,
                                   weight_elems=e * feat + (e if m.in_proj_bias is not None else 0),
                                   bias=m.in_proj_bias is not None, gemm={"batch": 1, "M": rows, "N": e, "K": feat})
    hd = e // h
    av = _attention(ex, node, f"{path}.attn", (b, h, tq, hd), (b, h, tk, hd), (b, h, tk, hd),
                    frozenset([names["q"]]), frozenset([names["k"]]), frozenset([names["v"]]))
    has_bias = m.out_proj.bias is not None
    out = ex.add_named(node, f"{path}.out_proj", "linear", {av}, in_shapes=[(b, tq, e)],
                       out_shape=(b, tq, e), weight_shape=(e, e), operands=["act", "weight"], in_channels=e,
                       out_channels=e, macs=b * tq * e * e, weight_elems=e * e + (e if has_bias else 0), bias=has_bias,
                       gemm={"batch": 1, "M": b * tq, "N": e, "K": e})
    ex.prod[node] = frozenset([out])  # getitem 0 is the output; the averaged attention weights are not modelled


def embedding(ex, node) -> None:
    """``F.embedding(ids, weight)`` / ``aten.embedding(weight, ids)`` / ``nn.Embedding``: a gather from DRAM."""
    if node.op == "call_module":
        ids, table = node.args[0], tuple(ex.modules[node.target].weight.shape)
    elif ex.kind(node) == "embedding" and node.op == "call_function" and hasattr(node.target, "_schema"):
        table, ids = ex.shape(node.args[0]), node.args[1]  # aten.embedding(weight, indices)
    else:
        ids, table = node.args[0], ex.shape(node.args[1])
    out = ex.shape(node)
    if out is None or table is None:
        ex.fail(node, "embedding: shapes unknown after propagation")
    n_ids = _numel(ex.shape(ids))
    ex.add_named(node, ex.module_path(node) or node.name, "embedding", ex.prod.get(ids, frozenset()),
                 in_shapes=[ex.shape(ids)], out_shape=out, weight_shape=table, operands=["act", "weight"],
                 in_channels=table[0], out_channels=table[1], weight_elems=n_ids * table[1], vector_ops=0)


_TAPS = {"nearest": 1, "nearest-exact": 1, "area": 1, "linear": 2, "bilinear": 4, "bicubic": 16, "trilinear": 8}


def upsample(ex, node) -> None:
    x = ex.tensor_inputs(node)[0]
    out = ex.shape(node)
    if out is None or ex.shape(x) is None:
        ex.fail(node, "interpolate: shapes unknown after propagation")
    k = ex.kind(node)
    if node.op == "call_module":
        mode = ex.modules[node.target].mode
    elif k == "interpolate":
        mode = node.kwargs.get("mode", node.args[3] if len(node.args) > 3 else "nearest")
    else:
        mode = next((m for m in ("bicubic", "bilinear", "linear", "nearest") if m in k), "nearest")
    ex.add_named(node, ex.module_path(node) if node.op == "call_module" else node.name, "pool",
                 ex.prod.get(x, frozenset()), in_shapes=[ex.shape(x)], out_shape=out, operands=["act"],
                 in_channels=out[1] if len(out) > 1 else 0, out_channels=out[1] if len(out) > 1 else 0,
                 vector_ops=_numel(out) * _TAPS.get(mode, 1))
