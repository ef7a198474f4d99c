"""EBS differentiable bit-width search (Li et al., arXiv 2003.07577), on the CPU.

Each conv/linear keeps **one shared full-precision meta-weight**; its weight is the softmax-weighted mix of
that meta-weight quantised to every candidate bit width (symmetric INT, per output channel, STE), and its
input the mix of the activation quantised to every candidate (per tensor, scale from a running max).
Strengths α_w, α_a (one vector per layer each) train jointly with the weights against
CE + λ·cost, where cost is the expected BitOPs (Σ p_w(b)·p_a(b')·b·b'·MACs, normalised so uniform 8/8 = 1)
or the expected latency from the simulator's per-layer table for a chosen accelerator. After the search
the strongest candidate per layer becomes a ``PrecisionPlan`` (``int{b}``), then a short fine-tune.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from quant.plan import LayerPrecision, PrecisionPlan
from quant.qmodel import fold_batchnorm

DEFAULT_BITS = (2, 3, 4, 6, 8)


def _int_fq(x: torch.Tensor, bits: int, scale: torch.Tensor) -> torch.Tensor:
    qmax = (1 << (bits - 1)) - 1
    q = torch.clamp(torch.round(x / scale), -qmax, qmax) * scale
    return x + (q - x).detach()  # straight-through


class EBSLayer(nn.Module):
    def __init__(self, mod: nn.Module, bits=DEFAULT_BITS, macs: int = 0):
        super().__init__()
        self.mod, self.bits, self.macs = mod, tuple(bits), macs
        self.alpha_w = nn.Parameter(torch.zeros(len(bits)))
        self.alpha_a = nn.Parameter(torch.zeros(len(bits)))
        self.register_buffer("a_max", torch.tensor(0.0))

    def probs(self):
        return torch.softmax(self.alpha_w, 0), torch.softmax(self.alpha_a, 0)

    def forward(self, x):
        pw, pa = self.probs()
        w = self.mod.weight
        wmax = w.detach().abs().amax(dim=tuple(range(1, w.dim())), keepdim=True).clamp_min(1e-8)
        if self.training:
            self.a_max.copy_(torch.maximum(self.a_max * 0.9, x.detach().abs().max()) if self.a_max > 0
                             else x.detach().abs().max())
        amax = self.a_max.clamp_min(1e-8)
        w_mix = sum(p * _int_fq(w, b, wmax / ((1 << (b - 1)) - 1)) for p, b in zip(pw, self.bits, strict=True))
        x_mix = sum(p * _int_fq(x, b, amax / ((1 << (b - 1)) - 1)) for p, b in zip(pa, self.bits, strict=True))
        if isinstance(self.mod, nn.Linear):
            return nn.functional.linear(x_mix, w_mix, self.mod.bias)
        return self.mod._conv_forward(x_mix, w_mix, self.mod.bias)

    def expected_cost(self, table: torch.Tensor | None) -> torch.Tensor:
        pw, pa = self.probs()
        b = torch.tensor(self.bits, dtype=torch.float32)
        if table is None:  # expected BitOPs, in MAC·bit² units
            return self.macs * (pw @ b) * (pa @ b)
        return pw @ table @ pa  # expected latency from the simulator's table [w bits × a bits]


@dataclass
class EBSResult:
    plan: PrecisionPlan
    strengths: dict  # layer → (p_w list, p_a list)
    history: list = field(default_factory=list)  # (step, loss, ce, cost)
    seconds: float = 0.0
    model: nn.Module | None = None

    def expected_bits(self) -> float:
        """Mean over layers of E[b_w]·E[b_a] under the final strengths (a scalar to compare runs)."""
        vals = []
        for pw, pa in self.strengths.values():
            bits = np.array(DEFAULT_BITS[: len(pw)], dtype=float)
            vals.append(float(np.dot(pw, bits) * np.dot(pa, bits)))
        return float(np.mean(vals))


def wrap(model: nn.Module, input_shape, bits=DEFAULT_BITS, first_last_int8: bool = True):
    """BN-folded copy of ``model`` with every conv/linear replaced by an EBSLayer; returns (model, layers)."""
    from workloads.extract import extract_graph

    g = extract_graph(model, input_shape, method="fx")
    gm = fold_batchnorm(model)
    mods = dict(gm.named_modules())
    layers = {}
    compute = [d for d in g.compute_layers() if d["op"] in ("conv", "linear") and d["module"] in mods]
    for i, d in enumerate(compute):
        if first_last_int8 and i in (0, len(compute) - 1):
            continue
        e = EBSLayer(mods[d["module"]], bits, d["macs"])
        parent, _, leaf = d["module"].rpartition(".")
        setattr(gm.get_submodule(parent) if parent else gm, leaf, e)
        layers[d["name"]] = e
    gm.recompile()
    return gm, layers, [d["name"] for d in compute]


def latency_tables(graph, hw, names, bits=DEFAULT_BITS) -> dict:
    """Per layer, the analytic latency [w bits × a bits] on ``hw`` (seconds)."""
    from archsim.simulate import simulate

    out = {}
    grid = {}
    for bw in bits:
        for ba in bits:
            res = simulate(graph, hw, PrecisionPlan.uniform(f"w=int{bw},a=int{ba}", names), "analytic")
            for r in res.layers:
                grid.setdefault(r["name"], {})[(bw, ba)] = r["latency_s"]
    for n in names:
        out[n] = torch.tensor([[grid[n][(bw, ba)] for ba in bits] for bw in bits], dtype=torch.float32)
    return out


def ebs_search(model: nn.Module, input_shape, x: np.ndarray, y: np.ndarray, *, lam: float = 1.0,
               steps: int = 200, batch: int = 64, bits=DEFAULT_BITS, lr_w: float = 1e-4, lr_alpha: float = 0.05,
               cost: str = "bitops", hw=None, graph=None, seed: int = 0) -> EBSResult:
    """Run the differentiable search; ``cost`` is ``bitops`` or ``latency`` (needs ``hw`` and ``graph``)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    net, layers, names = wrap(model, input_shape, bits)
    tables = None
    if cost == "latency":
        if hw is None or graph is None:
            raise ValueError("cost='latency' needs hw and graph")
        tables = latency_tables(graph, hw, names, bits)
        norm = float(sum(t[-1, -1] for n, t in tables.items() if n in layers)) or 1.0
    else:
        norm = float(sum(e.macs for e in layers.values()) * max(bits) ** 2) or 1.0
    alphas = [p for e in layers.values() for p in (e.alpha_w, e.alpha_a)]
    weights = [p for n, p in net.named_parameters() if "alpha" not in n]
    opt = torch.optim.Adam([{"params": weights, "lr": lr_w}, {"params": alphas, "lr": lr_alpha}])
    hist = []
    net.train()
    for step in range(steps):
        idx = rng.integers(0, len(x), batch)
        out = net(torch.from_numpy(x[idx]))
        ce = nn.functional.cross_entropy(out, torch.from_numpy(y[idx]))
        c = sum(e.expected_cost(tables[n] if tables else None) for n, e in layers.items()) / norm
        loss = ce + lam * c
        opt.zero_grad()
        loss.backward()
        opt.step()
        hist.append((step, loss.item(), ce.item(), float(c.detach())))
    net.eval()
    plan = {}
    strengths = {}
    for n in names:
        if n in layers:
            pw, pa = (p.detach().numpy() for p in layers[n].probs())
            strengths[n] = (pw.tolist(), pa.tolist())
            plan[n] = LayerPrecision(f"int{bits[int(pw.argmax())]}", f"int{bits[int(pa.argmax())]}")
        else:
            plan[n] = LayerPrecision("int8", "int8")
    return EBSResult(PrecisionPlan(plan), strengths, hist, time.perf_counter() - t0, net)
