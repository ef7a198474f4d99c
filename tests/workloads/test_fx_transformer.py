"""Modern transformer code → layer graph, against hand counts: SDPA (causal, masked, GQA), repeat_interleave,
nn.MultiheadAttention, RMSNorm, rotary, gated MLP, embedding, tied head, interpolate, MoE refusal."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from workloads.errors import WorkloadError
from workloads.extract import extract_graph

D, H, KVH, FF, T = 64, 4, 2, 128, 16
HD = D // H


def rope(x, pos):
    inv = 1.0 / (10000 ** (torch.arange(0, HD, 2).float() / HD))
    ang = torch.outer(pos.float(), inv)
    cos, sin = torch.cat([ang.cos(), ang.cos()], -1), torch.cat([ang.sin(), ang.sin()], -1)
    x1, x2 = x[..., : HD // 2], x[..., HD // 2:]
    return x * cos + torch.cat([-x2, x1], -1) * sin


class Block(nn.Module):
    def __init__(self, gqa="repeat", causal=True, mask=False):
        super().__init__()
        self.gqa, self.causal, self.mask = gqa, causal, mask
        self.q = nn.Linear(D, D, bias=False)
        self.k = nn.Linear(D, KVH * HD, bias=False)
        self.v = nn.Linear(D, KVH * HD, bias=False)
        self.o = nn.Linear(D, D, bias=False)
        self.n1, self.n2 = nn.RMSNorm(D), nn.LayerNorm(D)
        self.g, self.u, self.dn = nn.Linear(D, FF, bias=False), nn.Linear(D, FF, bias=False), nn.Linear(FF, D, False)

    def forward(self, x):
        b, t, _ = x.shape
        y = self.n1(x)
        pos = torch.arange(t)
        q = rope(self.q(y).view(b, t, H, HD).transpose(1, 2), pos)
        k = rope(self.k(y).view(b, t, KVH, HD).transpose(1, 2), pos)
        v = self.v(y).view(b, t, KVH, HD).transpose(1, 2)
        kw = {}
        if self.gqa == "repeat":
            k, v = k.repeat_interleave(H // KVH, dim=1), v.repeat_interleave(H // KVH, dim=1)
        elif self.gqa == "expand":
            k = k[:, :, None].expand(b, KVH, H // KVH, t, HD).reshape(b, H, t, HD)
            v = v[:, :, None].expand(b, KVH, H // KVH, t, HD).reshape(b, H, t, HD)
        else:
            kw["enable_gqa"] = True
        if self.mask:
            kw["attn_mask"] = torch.ones(t, t, dtype=torch.bool).tril()
        a = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal and not self.mask, **kw)
        x = x + self.o(a.transpose(1, 2).reshape(b, t, D))
        y = self.n2(x)
        return x + self.dn(F.gelu(self.g(y)) * self.u(y))


def hand_block_macs(b, t):
    proj = b * t * (D * D * 2 + D * KVH * HD * 2)
    attn = 2 * b * H * t * t * HD  # dense t×t (causal counted dense)
    mlp = 3 * b * t * D * FF
    return proj + attn + mlp


@pytest.mark.parametrize("gqa", ["repeat", "expand", "enable_gqa"])
@pytest.mark.parametrize("mask", [False, True])
def test_llama_block_macs_by_hand(gqa, mask):
    g = extract_graph(Block(gqa, mask=mask), (T, D), batch=2)
    assert g.total_macs == hand_block_macs(2, T)
    ops = g.op_counts()
    assert ops == {"linear": 7, "matmul": 2, "add": 2, "mul": 1}  # norms, rotary, softmax, GELU fused
    qk = next(d for d in g.layers() if d["name"].endswith(".qk"))
    if gqa == "enable_gqa":  # one GEMM per K/V head, the group's query heads as rows
        assert qk["gemm"] == {"batch": 2 * KVH, "M": (H // KVH) * T, "N": T, "K": HD}
    else:
        assert qk["gemm"] == {"batch": 2 * H, "M": T, "N": T, "K": HD}
    av = next(d for d in g.layers() if d["name"].endswith(".av"))
    preds = sorted(g.graph.predecessors(av["name"]))  # the scores and V (named 'v' or, via export, 'v.linear_2')
    assert len(preds) == 2 and qk["name"] in preds and any(p.split(".")[0] == "v" for p in preds)


def test_multihead_attention_by_hand():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = nn.MultiheadAttention(D, H, batch_first=True)

        def forward(self, x):
            return self.mha(x, x, x, need_weights=False)[0]

    g = extract_graph(M(), (T, D), batch=3)
    rows = 3 * T
    assert g.total_macs == 4 * rows * D * D + 2 * 3 * H * T * T * HD
    assert g.op_counts() == {"linear": 4, "matmul": 2}
    assert g.total_weight_elems == 4 * D * D + 4 * D


def test_embedding_is_a_gather_and_tied_head():
    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(100, D)
            self.head = nn.Linear(D, 100, bias=False)
            self.head.weight = self.emb.weight  # tied

        def forward(self, ids):
            return self.head(self.emb(ids))

    from workloads.extract import _Extractor

    gm = torch.fx.symbolic_trace(LM())
    from torch.fx.passes.shape_prop import ShapeProp

    ShapeProp(gm).propagate(torch.zeros(2, T, dtype=torch.long))
    g = _Extractor(gm, "lm", (2, T)).run()
    emb = g["emb"]
    assert emb["op"] == "embedding" and emb["macs"] == 0
    assert emb["weight_elems"] == 2 * T * D and emb["weight_shape"] == (100, D)
    assert g["head"]["macs"] == 2 * T * D * 100


def test_interpolate_and_moe():
    class Up(nn.Module):
        def forward(self, x):
            return F.interpolate(x, scale_factor=2, mode="bilinear")

    g = extract_graph(Up(), (3, 8, 8))
    (d,) = g.layers()
    assert d["op"] == "pool" and d["vector_ops"] == 3 * 16 * 16 * 4

    class MoE(nn.Module):
        def __init__(self):
            super().__init__()
            self.router = nn.Linear(D, 4)

        def forward(self, x):
            return torch.topk(self.router(x), 2, dim=-1).values

    with pytest.raises(WorkloadError, match="mixture-of-experts"):
        extract_graph(MoE(), (T, D))
