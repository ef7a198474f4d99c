"""Accuracy proxies per layer: weight/activation RMSE and SQNR per candidate format, and an
output-perturbation sensitivity table (HAWQ-style additive proxy) cached on disk for the search.

``sensitivity_table`` quantises one layer at a time (weights and input activations in the candidate
format, everything else FP32) and records the relative MSE of the model's output on a small batch. The
error proxy of a whole plan is the sum over layers. For zoo models without trained weights the table is
computed on their initialised weights and random inputs — a structural proxy, not an accuracy.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from quant.choose import choose_qparams
from quant.formats import get_format
from quant.qmodel import fold_batchnorm, input_reduction_axis, sqnr_db

CACHE_DIR = Path.home() / ".cache" / "dybit-archsim"


_SAMPLE = 1 << 16
_TABLE_VERSION = 4  # bump when the quantisation behind a table changes (2: MX blocks along the reduction
# axis; 3: MSE scale search above clip ratio 1; 4: MX conv weights blocked along C_in·kh·kw)


def _quant(fmt_name: str, x: np.ndarray, role: str, reduction_axis: int = 1) -> np.ndarray:
    """Quantise with MSE-chosen scales; large activation tensors choose their scale on a 64 K sample. MX
    formats scale blocks along ``reduction_axis`` (input channels / features) by the OCP MX rule."""
    f = get_format(fmt_name)
    if f.family == "float":
        return f.quantize(x)
    blockwise = getattr(f, "default_granularity", "") == "block"  # MX, NVFP4, mxdybitN …: own block rule
    if role == "activation" and x.size > _SAMPLE:
        sample = np.random.default_rng(0).choice(x.reshape(-1), _SAMPLE, replace=False)
        if f.family == "adaptive" and not blockwise:
            p = f.fit(sample, granularity="tensor")
            chosen = f.candidates[int(np.asarray(p.choice).reshape(-1)[0])]
            return chosen.quantize(x, float(p.qparams.scale))
        if not blockwise:
            return f.quantize(x, choose_qparams(f, sample, "mse"))
    if f.family == "adaptive" and not blockwise:
        return f.quantize(x, granularity="channel" if role == "weight" else "tensor", axis=0)
    gran = "block" if blockwise else ("channel" if role == "weight" else "tensor")
    if gran == "block" and role == "weight" and x.ndim > 2:  # blocks along the whole reduction C_in·kh·kw
        return _quant(fmt_name, x.reshape(x.shape[0], -1), role).reshape(x.shape)
    return f.quantize(x, choose_qparams(f, x, "mse" if f.scale_rule != "mx" else "mx", granularity=gran,
                                        axis=0 if gran == "channel" else reduction_axis))


def _compute_modules(model: nn.Module, graph) -> dict:
    """layer name → (module, kind) for conv/linear layers (after BN folding)."""
    mods = dict(model.named_modules())
    out = {}
    for d in graph.compute_layers():
        if d["op"] in ("conv", "linear") and d["module"] in mods:
            out[d["name"]] = mods[d["module"]]
    return out


def layer_errors(model: nn.Module, input_shape, formats, x: torch.Tensor | None = None) -> dict:
    """{layer: {format: {w_rmse, w_sqnr_db, a_rmse, a_sqnr_db}}} for conv/linear layers."""
    from workloads.extract import extract_graph

    graph = extract_graph(model, input_shape, method="fx")
    folded = fold_batchnorm(model)
    mods = _compute_modules(folded, graph)
    acts = {}
    hooks = [m.register_forward_hook(lambda mod, inp, out, n=n: acts.__setitem__(n, inp[0].detach().numpy()))
             for n, m in mods.items()]
    x = x if x is not None else torch.randn(4, *input_shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        folded(x)
    for h in hooks:
        h.remove()
    res = {}
    for n, m in mods.items():
        w = m.weight.detach().numpy()
        a = acts[n]
        res[n] = {}
        for f in formats:
            qw, qa = _quant(f, w, "weight"), _quant(f, a, "activation", input_reduction_axis(m))
            res[n][f] = {"w_rmse": float(np.sqrt(((qw - w) ** 2).mean())), "w_sqnr_db": sqnr_db(w, qw),
                         "a_rmse": float(np.sqrt(((qa - a) ** 2).mean())), "a_sqnr_db": sqnr_db(a, qa)}
    return res


def sensitivity_table(model: nn.Module, input_shape, formats, *, x: torch.Tensor | None = None, name: str = "",
                      cache: bool = True, progress: bool = False) -> dict:
    """{layer: {format: relative output MSE when only that layer is quantised}} (conv/linear layers).

    act × act matmuls have no weights; their entry quantises both operands of the matmul."""
    from workloads.extract import extract_graph

    formats = list(formats)
    x = x if x is not None else torch.randn(4, *input_shape, generator=torch.Generator().manual_seed(0))
    key = _cache_key(model, input_shape, formats, x)
    path = CACHE_DIR / f"sens-{name or type(model).__name__}-{key}.json"
    if cache and path.exists():
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):  # a truncated or corrupt cache file: recompute and rewrite it
            pass
    graph = extract_graph(model, input_shape, method="fx")
    # measured on a float32 copy: the proxy compares formats, and a bf16/fp16 model's weights are exact in it
    folded = fold_batchnorm(model).float().eval()
    mods = _compute_modules(folded, graph)
    x = x.float()
    with torch.no_grad():
        ref = folded(x).numpy().astype(np.float64)
    denom = float((ref**2).mean()) or 1.0
    table = {}
    from tqdm import tqdm

    for n, m in tqdm(mods.items(), desc="sensitivity", disable=not progress):
        w0 = m.weight.detach().clone()
        table[n] = {}
        for f in formats:
            m.weight.data = torch.from_numpy(_quant(f, w0.numpy(), "weight"))
            h = m.register_forward_pre_hook(lambda mod, inp, f=f: (torch.from_numpy(_quant(
                f, inp[0].numpy(), "activation", input_reduction_axis(mod))),))
            with torch.no_grad():
                out = folded(x).numpy().astype(np.float64)
            h.remove()
            m.weight.data = w0.clone()
            table[n][f] = float(((out - ref) ** 2).mean() / denom)
    if cache:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")  # written whole, then renamed: readers never see half
        tmp.write_text(json.dumps(table))
        os.replace(tmp, path)
    return table


def _raw_bytes(t: torch.Tensor) -> bytes:
    """A tensor's bytes whatever its dtype (bf16 has no NumPy view)."""
    return t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def _cache_key(model, input_shape, formats, x) -> str:
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):  # every byte: two models differing late in a tensor differ
        h.update(k.encode())
        h.update(_raw_bytes(v))
    h.update(repr((tuple(input_shape), tuple(formats), _TABLE_VERSION)).encode())
    h.update(_raw_bytes(x))
    return h.hexdigest()[:16]
