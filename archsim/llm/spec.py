"""A decoder-only transformer in the numbers that set its cost, and the layer graph of one inference step.

``TransformerSpec`` comes from a Hugging Face config (``workloads.hf.load_spec``: the model is built on the meta
device and its modules' shapes are read) or is written by hand. ``step_graph`` turns it into a ``LayerGraph``
of one step — a prefill of P tokens or a decode step of one token — at batch B and a context of C cached
positions. Per decoder block (names as Hugging Face's Llama, Mistral and Qwen2 modules):

| layer                         | op        | GEMM (batch × M×K·K×N)                 | operands                     |
|-------------------------------|-----------|----------------------------------------|------------------------------|
| self_attn.q_proj              | linear    | 1 × (B·t)×D · D×(H·d)                  | act, weight                  |
| self_attn.k_proj / v_proj     | linear    | 1 × (B·t)×D · D×(Hk·d)                 | act, weight; output → cache  |
| self_attn.qk                  | matmul    | (B·Hk) × (g·t)×d · d×C                 | act, **K cache** (DRAM)      |
| self_attn.av                  | matmul    | (B·Hk) × (g·t)×C · C×d                 | act, **V cache** (DRAM)      |
| self_attn.o_proj              | linear    | 1 × (B·t)×(H·d) · (H·d)×D              | act, weight                  |
| attn_residual                 | add       | B·t·D element adds                     |                              |
| mlp.gate_proj, mlp.up_proj    | linear    | 1 × (B·t)×D · D×F (gate only if gated) | act, weight                  |
| mlp.act_mul                   | mul       | B·t·F (gated MLPs: act(gate)·up)       |                              |
| mlp.down_proj                 | linear    | 1 × (B·t)×F · F×D                      | act, weight                  |
| mlp_residual                  | add       | B·t·D element adds                     |                              |

t = new tokens (P in prefill, 1 in decode), g = H/Hk query heads per K/V head (GQA/MQA: one K/V tile serves
the group). The KV cache is a tensor class of its own: k_proj/v_proj write their output (the appended
positions) to DRAM at the cache's format (``store_format``), and the attention products read the whole cache
of C positions (the new ones included) as their stationary operand, at that format — every step, in prefill
too (the cache is written, then read). Causal attention is counted dense: prefill computes the full P×P
score matrix (an array computes it; the mask zeroes half). Norms, rotary, softmax, SiLU/GELU and scaling are
post-processing fused with the layer before (no graph node). Outside the blocks: ``embed_tokens`` gathers
B·t rows of the table from DRAM (an ``embedding`` vector layer at the weight format, no MACs) and
``lm_head`` computes the logits of the last position of each sequence (M = B; a tied head reads the
embedding table as its weight, so the parameters are counted once but read by both).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from archsim.errors import SimError
from workloads.graph import LayerGraph

BLOCK_LINEARS = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                 "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")
ATTENTION = ("self_attn.qk", "self_attn.av")


@dataclass(frozen=True)
class TransformerSpec:
    name: str
    hidden: int  # D
    layers: int  # decoder blocks
    heads: int  # H query heads (0: a block without attention)
    kv_heads: int  # Hk key/value heads (GQA: H/Hk query heads share one)
    head_dim: int  # d
    intermediate: int  # F, MLP hidden width
    vocab: int  # V
    gated: bool = True  # gate_proj·act ⊙ up_proj (SwiGLU/GeGLU) vs a plain up → act → down MLP
    tied: bool = False  # lm_head shares the embedding table
    qkv_bias: bool = False  # Qwen2 has q/k/v biases

    def __post_init__(self):
        for f in ("hidden", "layers", "intermediate", "vocab"):
            v = getattr(self, f)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise SimError(f"model {self.name!r}: {f} must be a positive integer, got {v!r}")
        if self.heads:
            if self.kv_heads < 1 or self.heads % self.kv_heads or self.head_dim < 1:
                raise SimError(f"model {self.name!r}: heads {self.heads} must be a multiple of kv_heads "
                               f"{self.kv_heads} (≥ 1) and head_dim ≥ 1, got head_dim {self.head_dim}")

    @property
    def attention(self) -> bool:
        return self.heads > 0

    def to_dict(self) -> dict:
        return asdict(self)

    def block_layer_names(self, i: int) -> list[str]:
        """The array layers of block ``i`` (the names a precision plan uses)."""
        out = []
        for n in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.qk", "self_attn.av",
                  "self_attn.o_proj") if self.attention else ():
            out.append(f"layers.{i}.{n}")
        out += [f"layers.{i}.mlp.{n}" for n in (("gate_proj",) if self.gated else ()) + ("up_proj", "down_proj")]
        return out

    def plan_layer_names(self) -> list[str]:
        """Every name a precision plan may (and a complete one must) give: ``embed_tokens`` (the table's weight
        format), each block's array layers, ``lm_head``."""
        return ["embed_tokens"] + [n for i in range(self.layers) for n in self.block_layer_names(i)] + ["lm_head"]

    @property
    def params(self) -> int:
        """Parameters (norm weights excluded): embedding, blocks, and lm_head unless tied."""
        d, h, hk, hd, f = self.hidden, self.heads, self.kv_heads, self.head_dim, self.intermediate
        attn = d * h * hd * 2 + d * hk * hd * 2 + ((h + 2 * hk) * hd if self.qkv_bias else 0) if h else 0
        mlp = d * f * (3 if self.gated else 2)
        return self.vocab * d * (1 if self.tied else 2) + self.layers * (attn + mlp)

    def kv_elems_per_token(self) -> int:
        """K and V elements one position adds to the cache, all blocks."""
        return 2 * self.layers * self.kv_heads * self.head_dim if self.attention else 0


def _lin(g, name, src, rows, k, n, *, bias=False, store_format=None):
    return g.add_layer(name, "linear", [s for s in src if s], in_shapes=[(rows, k)], weight_shape=(n, k),
                       out_shape=(rows, n), operands=["act", "weight"], in_channels=k, out_channels=n,
                       macs=rows * k * n, weight_elems=n * k + (n if bias else 0), act_in_elems=rows * k,
                       act_out_elems=rows * n, gemm={"batch": 1, "M": rows, "N": n, "K": k}, bias=bias,
                       store_format=store_format)


def _vec(g, name, op, srcs, elems, n_in):
    return g.add_layer(name, op, [s for s in srcs if s], in_shapes=[(elems,)] * n_in, out_shape=(elems,),
                       operands=["act"] * n_in, vector_ops=elems, act_in_elems=elems * n_in, act_out_elems=elems)


def block_graph(spec: TransformerSpec, i: int, batch: int, new: int, context: int, kv: tuple[str, str] | None,
                g: LayerGraph | None = None, src: str | None = None) -> LayerGraph:
    """Append decoder block ``i`` of one step to ``g`` (a new graph if None); ``kv`` = (K, V cache formats)."""
    if g is None:
        g = LayerGraph(name=f"{spec.name}.block{i}", input_shape=(batch, new, spec.hidden))
    rows, d, p = batch * new, spec.hidden, f"layers.{i}."
    x = src
    if spec.attention:
        h, hk, hd = spec.heads, spec.kv_heads, spec.head_dim
        grp, bk = h // hk, batch * hk
        q = _lin(g, p + "self_attn.q_proj", [x], rows, d, h * hd, bias=spec.qkv_bias)
        _lin(g, p + "self_attn.k_proj", [x], rows, d, hk * hd, bias=spec.qkv_bias, store_format=kv[0])
        _lin(g, p + "self_attn.v_proj", [x], rows, d, hk * hd, bias=spec.qkv_bias, store_format=kv[1])
        qk = g.add_layer(p + "self_attn.qk", "matmul", [q], in_shapes=[(bk, grp * new, hd)],
                         weight_shape=(bk, hd, context), out_shape=(bk, grp * new, context),
                         operands=["act", "weight"], in_channels=hd, out_channels=context,
                         macs=bk * grp * new * context * hd, weight_elems=bk * context * hd,
                         act_in_elems=rows * h * hd, act_out_elems=bk * grp * new * context,
                         gemm={"batch": bk, "M": grp * new, "N": context, "K": hd})
        av = g.add_layer(p + "self_attn.av", "matmul", [qk], in_shapes=[(bk, grp * new, context)],
                         weight_shape=(bk, context, hd), out_shape=(bk, grp * new, hd),
                         operands=["act", "weight"], in_channels=context, out_channels=hd,
                         macs=bk * grp * new * context * hd, weight_elems=bk * context * hd,
                         act_in_elems=bk * grp * new * context, act_out_elems=rows * h * hd,
                         gemm={"batch": bk, "M": grp * new, "N": hd, "K": context})
        o = _lin(g, p + "self_attn.o_proj", [av], rows, h * hd, d)
        x = _vec(g, p + "attn_residual", "add", [o, x], rows * d, 2)
    f = spec.intermediate
    up = _lin(g, p + "mlp.up_proj", [x], rows, d, f)
    if spec.gated:
        gate = _lin(g, p + "mlp.gate_proj", [x], rows, d, f)
        up = _vec(g, p + "mlp.act_mul", "mul", [gate, up], rows * f, 2)
    down = _lin(g, p + "mlp.down_proj", [up], rows, f, d)
    _vec(g, p + "mlp_residual", "add", [down, x], rows * d, 2)
    return g


def ends_graph(spec: TransformerSpec, batch: int, new: int, embed_bits: float, act_format: str) -> LayerGraph:
    """The embedding gather (B·t rows at ``embed_bits`` per element) and the LM head on the last positions."""
    g = LayerGraph(name=f"{spec.name}.ends", input_shape=(batch, new))
    d, rows = spec.hidden, batch * new
    g.add_layer("embed_tokens", "embedding", [], in_shapes=[(batch, new)], weight_shape=(spec.vocab, d),
                out_shape=(batch, new, d), operands=["act", "weight"], in_channels=spec.vocab, out_channels=d,
                weight_elems=rows * d, weight_bits=embed_bits, act_in_elems=0, act_out_elems=rows * d,
                store_format=act_format)
    _lin(g, "lm_head", [], batch, d, spec.vocab)
    return g
