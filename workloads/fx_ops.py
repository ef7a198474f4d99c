"""The extractor's op vocabulary: which normalised op names are compute layers, vector layers or transparent,
and how an fx node (call_module, call_method, call_function, ATen op) gets its normalised name."""
from __future__ import annotations

import operator

from torch import fx, nn

CONV = {"conv1d", "conv2d", "convolution", "_convolution"}
LINEAR = {"linear", "addmm"}
MATMUL = {"matmul", "bmm", "mm"}
POOL = {"max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
        "adaptive_max_pool2d", "_adaptive_avg_pool2d", "max_pool2d_with_indices", "mean"}
ADD = {"add", "add_", "iadd", "sub", "sub_", "rsub"}
MUL = {"mul", "mul_", "imul"}
CAT = {"cat", "concat", "concatenate"}
SDPA = {"scaled_dot_product_attention", "_scaled_dot_product_flash_attention_for_cpu",
        "_scaled_dot_product_efficient_attention", "_scaled_dot_product_flash_attention"}
EMBED = {"embedding"}
UPSAMPLE = {"interpolate", "upsample", "upsample_nearest2d", "upsample_bilinear2d", "upsample_bicubic2d",
            "upsample_nearest1d", "upsample_linear1d", "_upsample_nearest_exact2d", "_upsample_bilinear2d_aa"}
MHA = {"multihead_attention"}
INDEX_MATH = {"cumsum", "cumprod"}  # transparent only on integer/bool tensors (position ids from a padding mask)
MOE = {"topk", "one_hot", "bincount", "histc", "scatter_add", "index_add", "index_add_"}
# modules whose internal ops are element-wise post-processing fused with the producing layer (norms, rotary
# tables): matched on the class name of the innermost module (fx and torch.export record it per node)
FUSED_MODULE = r"(RMSNorm|LayerNorm|GroupNorm|Norm|RotaryEmbedding|Rotary\w*)$"
BN = {"batch_norm", "_native_batch_norm_legit_no_training", "native_batch_norm", "_native_batch_norm_legit"}
PASS = {
    # activations and element-wise unary ops (run by the post-processing unit, fused with the layer before)
    "relu", "relu_", "relu6", "gelu", "silu", "hardswish", "hardsigmoid", "sigmoid", "tanh", "hardtanh",
    "hardtanh_", "leaky_relu", "elu", "prelu", "softmax", "_softmax", "log_softmax", "layer_norm",
    "native_layer_norm", "group_norm", "dropout", "identity", "clamp", "clamp_min", "clip", "neg", "exp", "sqrt",
    "rsqrt", "pow", "truediv", "div", "floordiv", "abs", "erf", "scaled_dot_product_attention_disabled",
    # shape and view ops
    "flatten", "unflatten", "reshape", "view", "_unsafe_view", "permute", "transpose", "t", "contiguous",
    "expand", "expand_as", "getitem", "getattr", "size", "chunk", "split", "split_with_sizes", "unsqueeze",
    "squeeze", "clone", "to", "float", "type_as", "detach", "alias", "slice", "select", "unbind", "repeat",
    "_assert_tensor_metadata", "sym_size", "zeros_like", "ones_like", "masked_fill", "where", "dim",
    # grouped-query attention's K/V head repetition (a view or an address pattern, no arithmetic)
    "repeat_interleave",
    # norms, rotary and masks: element-wise post-processing, or computed from positions only
    "rms_norm", "_fused_rms_norm", "cos", "sin", "arange", "eq", "ne", "le", "lt", "ge", "gt",
    "__and__", "__or__", "and_", "or_", "logical_and", "logical_or", "logical_not", "diff", "new_ones",
    "new_zeros", "full", "full_like", "ones", "zeros", "triu", "tril", "index", "float_power", "type",
    "masked_fill_", "bool", "long", "int", "lift_fresh_copy", "copy", "_to_copy", "empty", "mean_norm",
    "scalar_tensor", "new_empty", "outer", "_log_api_usage_once", "wrap_with_set_grad_enabled",
}
MODULE_KINDS = [
    ((nn.Conv1d, nn.Conv2d), "conv2d"), (nn.Linear, "linear"),
    ((nn.BatchNorm1d, nn.BatchNorm2d), "batch_norm"),
    ((nn.MaxPool1d, nn.MaxPool2d), "max_pool2d"), ((nn.AvgPool1d, nn.AvgPool2d), "avg_pool2d"),
    ((nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d), "adaptive_avg_pool2d"),
    (nn.AdaptiveMaxPool2d, "adaptive_max_pool2d"),
    ((nn.ReLU, nn.ReLU6, nn.GELU, nn.SiLU, nn.Hardswish, nn.Hardsigmoid, nn.Sigmoid, nn.Tanh, nn.Hardtanh,
      nn.LeakyReLU, nn.ELU, nn.PReLU, nn.Softmax, nn.LayerNorm, nn.GroupNorm, nn.Dropout, nn.Identity, nn.Flatten,
      nn.Unflatten), "relu"),
    (nn.RMSNorm, "rms_norm"), (nn.Embedding, "embedding"), (nn.Upsample, "upsample"),
    (nn.MultiheadAttention, "multihead_attention"),
]


def op_kind(node: fx.Node, modules: dict) -> str:
    """The normalised op name of an fx node: module type, method, ATen op or Python operator, so the
    symbolic-trace graph and the torch.export graph are classified by the same tables."""
    if node.op == "call_module":
        mod = modules[node.target]
        for types, k in MODULE_KINDS:
            if isinstance(mod, types):
                return k
        return f"module:{type(mod).__name__}"
    t = node.target
    if node.op == "call_method":
        return str(t)
    if hasattr(t, "_schema"):
        return t._schema.name.split("::")[-1]
    if t in (operator.add, operator.iadd):
        return "add"
    if t in (operator.sub, operator.isub):
        return "sub"
    if t in (operator.mul, operator.imul):
        return "mul"
    if t is operator.matmul:
        return "matmul"
    if t is operator.getitem:
        return "getitem"
    if t in (operator.truediv, operator.floordiv, operator.neg, operator.pow):
        return "truediv"
    return getattr(t, "__name__", str(t))
