"""Transformer encoders with explicit attention matmuls (QKᵀ and AV are activation × activation):
a ViT with DeiT-tiny shapes (Touvron et al., 2021) and a BERT-base encoder (Devlin et al., 2019)."""
from __future__ import annotations

import torch
from torch import nn


class SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)
        self.scale = self.head_dim**-0.5

    def _split(self, t, b, n):
        return t.reshape(b, n, self.heads, self.head_dim).permute(0, 2, 1, 3)

    def forward(self, x):
        b, n, d = x.shape
        q, k, v = (self._split(f(x), b, n) for f in (self.query, self.key, self.value))
        attn = torch.matmul(q, k.transpose(-2, -1)) * self.scale
        attn = attn.softmax(dim=-1)
        ctx = torch.matmul(attn, v).permute(0, 2, 1, 3).reshape(b, n, d)
        return self.out(ctx)


class EncoderLayer(nn.Module):
    def __init__(self, dim: int, heads: int, mlp: int, pre_norm: bool):
        super().__init__()
        self.pre_norm = pre_norm
        self.attn = SelfAttention(dim, heads)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.fc1, self.fc2 = nn.Linear(dim, mlp), nn.Linear(mlp, dim)
        self.act = nn.GELU()

    def forward(self, x):
        if self.pre_norm:  # ViT
            x = x + self.attn(self.norm1(x))
            return x + self.fc2(self.act(self.fc1(self.norm2(x))))
        x = self.norm1(x + self.attn(x))  # BERT (post-norm)
        return self.norm2(x + self.fc2(self.act(self.fc1(x))))


class ViT(nn.Module):
    def __init__(self, image: int = 224, patch: int = 16, dim: int = 192, depth: int = 12, heads: int = 3,
                 mlp: int = 768, num_classes: int = 1000):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, patch, patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, (image // patch) ** 2 + 1, dim))
        self.blocks = nn.Sequential(*[EncoderLayer(dim, heads, mlp, pre_norm=True) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])


class BertEncoder(nn.Module):
    """The 12-layer BERT-base encoder on already-embedded tokens: input (batch, seq_len, 768)."""

    def __init__(self, dim: int = 768, depth: int = 12, heads: int = 12, mlp: int = 3072):
        super().__init__()
        self.layers = nn.Sequential(*[EncoderLayer(dim, heads, mlp, pre_norm=False) for _ in range(depth)])

    def forward(self, x):
        return self.layers(x)


def vit_tiny(num_classes: int = 1000) -> ViT:
    return ViT(num_classes=num_classes)


def bert_base() -> BertEncoder:
    return BertEncoder()
