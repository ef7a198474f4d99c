"""Hugging Face causal LMs from a config alone: no weights, no download.

``--model hf:PATH/config.json`` or a shipped config by name (``workloads/hf_configs/``: Llama-2-7B,
Llama-3.2-1B, Qwen2.5-0.5B, Mistral-7B, with their public dimensions). The model is instantiated with
``transformers`` on the **meta** device (shapes only, no memory for weights) and

- ``load_spec`` reads the dimensions the cost model needs from its modules (one decoder block is built; the
  blocks of these architectures are identical) → ``archsim.llm.TransformerSpec``;
- ``extract_hf`` traces it with ``torch.export`` on token ids and extracts the layer graph
  (``workloads.extract``: SDPA, GQA, RMSNorm, rotary, gated MLP, embedding), on meta too.

Supported architectures: Llama, Mistral, Qwen2 (decoder-only, dense). Mixture-of-experts configs are refused
with one line; so is any other architecture, and a config missing a field the model needs.
"""
from __future__ import annotations

import json
from pathlib import Path

from workloads.errors import WorkloadError

CONFIG_DIR = Path(__file__).with_name("hf_configs")
SUPPORTED = {"LlamaForCausalLM": "llama", "MistralForCausalLM": "mistral", "Qwen2ForCausalLM": "qwen2"}
REQUIRED = ("hidden_size", "intermediate_size", "num_attention_heads", "num_hidden_layers", "vocab_size")
MOE_HINTS = ("moe", "mixtral", "expert")


def shipped_llms() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.json"))


def is_hf_model(model) -> bool:
    return isinstance(model, str) and (model.startswith("hf:") or model.lower() in shipped_llms())


def read_config(model: str) -> tuple[str, dict]:
    """(name, config dict) of ``hf:PATH`` or a shipped name, checked: architecture and required fields."""
    if not isinstance(model, str):
        raise WorkloadError(f"model: expected 'hf:PATH/config.json' or one of {', '.join(shipped_llms())}, "
                            f"got {model!r}")
    if model.startswith("hf:"):
        path = Path(model[3:])
        if path.is_dir():
            path = path / "config.json"
        name = path.parent.name if path.name == "config.json" else path.stem
    elif model.lower() in shipped_llms():
        path, name = CONFIG_DIR / f"{model.lower()}.json", model.lower()
    else:
        raise WorkloadError(f"model {model!r}: not a shipped LLM config ({', '.join(shipped_llms())}) "
                            f"nor hf:PATH/config.json")
    try:
        cfg = json.loads(path.read_text())
    except OSError as exc:
        raise WorkloadError(f"HF config {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise WorkloadError(f"HF config {path}: not valid JSON: {exc}") from None
    if not isinstance(cfg, dict):
        raise WorkloadError(f"HF config {path}: expected a JSON object")
    archs = cfg.get("architectures") or []
    arch = archs[0] if isinstance(archs, list) and archs else cfg.get("model_type")
    if not arch:
        raise WorkloadError(f"HF config {path}: missing field 'architectures' (or 'model_type')")
    if any(h in str(arch).lower() for h in MOE_HINTS) or cfg.get("num_local_experts") or cfg.get("num_experts"):
        raise WorkloadError(f"HF config {path}: {arch} is a mixture-of-experts model; MoE routing is not supported")
    if arch not in SUPPORTED and arch not in SUPPORTED.values():
        raise WorkloadError(f"HF config {path}: unknown HF architecture {arch!r} (supported: "
                            f"{', '.join(SUPPORTED)})")
    for f in REQUIRED:
        v = cfg.get(f)
        if v is None:
            raise WorkloadError(f"HF config {path}: missing field {f!r}")
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise WorkloadError(f"HF config {path}: field {f!r} must be a positive integer, got {v!r}")
    cfg = {k: v for k, v in cfg.items() if not k.startswith("_")}
    cfg["model_type"] = SUPPORTED.get(arch, arch)
    return name, cfg


def build_model(cfg: dict, *, device: str = "meta", layers: int | None = None):
    """The ``transformers`` model of a config on ``device`` (meta: no weight memory), SDPA attention."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    fields = {k: v for k, v in cfg.items() if k not in ("architectures", "model_type", "torch_dtype", "dtype")}
    if layers is not None:
        fields["num_hidden_layers"] = layers
    try:
        config = AutoConfig.for_model(cfg["model_type"], **fields)
        config._attn_implementation = "sdpa"
        with torch.device(device):
            return AutoModelForCausalLM.from_config(config).eval()
    except Exception as exc:  # transformers' own validation of a field
        raise WorkloadError(f"HF config ({cfg['model_type']}): transformers refused it: "
                            f"{type(exc).__name__}: {str(exc).splitlines()[0]}") from None


def load_spec(model: str):
    """``archsim.llm.TransformerSpec`` of a config: one block built on the meta device, its modules read."""
    from archsim.llm.spec import TransformerSpec

    name, cfg = read_config(model)
    m = build_model(cfg, layers=1)
    blk = m.model.layers[0]
    att, mlp = blk.self_attn, blk.mlp
    hd = int(getattr(att, "head_dim", cfg["hidden_size"] // cfg["num_attention_heads"]))
    return TransformerSpec(name=name, hidden=m.config.hidden_size, layers=cfg["num_hidden_layers"],
                           heads=att.q_proj.out_features // hd, kv_heads=att.k_proj.out_features // hd, head_dim=hd,
                           intermediate=mlp.down_proj.in_features, vocab=m.lm_head.out_features,
                           gated=hasattr(mlp, "gate_proj"), tied=bool(m.config.tie_word_embeddings),
                           qkv_bias=att.q_proj.bias is not None)


def extract_hf(model: str, tokens: int, *, batch: int = 1, layers: int | None = None, device: str = "meta"):
    """The layer graph of a prefill of ``tokens`` tokens (no cache), traced with torch.export."""
    import torch

    from workloads.extract import _Extractor, _quiet_torch

    name, cfg = read_config(model)
    m = build_model(cfg, device=device, layers=layers)
    ids = torch.zeros((batch, tokens), dtype=torch.long, device=device)
    try:
        with _quiet_torch():
            ep = torch.export.export(m, (), {"input_ids": ids, "use_cache": False})
    except Exception as exc:
        raise WorkloadError(f"{name}: torch.export failed: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    sig = ep.graph_signature
    params = set(sig.inputs_to_parameters) | set(sig.inputs_to_buffers)
    params |= set(getattr(sig, "inputs_to_lifted_tensor_constants", {}) or {})
    return _Extractor(ep.graph_module, name, (batch, tokens), params).run()
