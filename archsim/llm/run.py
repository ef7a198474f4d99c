"""LLM inference on an accelerator: a prefill of P tokens, then decode steps at a growing context, batch B.

``llm(model, prompt, generate, batch=1, hw=…, plan=…, engine=…)`` simulates

- **prefill**: one step with t = P new tokens per sequence and a context of P positions; it ends with the
  logits of the first generated token, so its latency is the time to first token (TTFT);
- **decode**: G − 1 steps of one token each, at contexts P + 1 … P + G − 1 (each step appends its position to
  the cache and reads the whole cache); TPOT is their mean latency.

A step is simulated block by block: every decoder block with the same precisions costs the same, so one
block per distinct precision signature is simulated (``archsim.simulate`` on ``spec.block_graph``) and
multiplied by the number of blocks that share it, plus the embedding gather and LM head (``spec.ends_graph``).
In the analytic engine this equals simulating the whole step graph (layer latencies add; tested against a
hand-built graph of all blocks); in the DES it leaves out the overlap of one block's first loads with the
previous block's last stores (at most one layer's DRAM latency per block boundary).

Decode steps: the analytic engine simulates every step by default; ``decode_samples=S`` simulates S contexts
evenly spaced over the decode range (the first and last included) and interpolates the others linearly (a
step's cost is affine in its context: weights are fixed, the cache read grows by one position). The DES
defaults to S = ``DES_DECODE_SAMPLES`` (16). The error this makes is measured in the tests and in
``reports/llm.md``.

Physical floors per step: **DRAM** = compulsory bytes ÷ DRAM bandwidth, the compulsory bytes being every
weight (with its per-channel scales) once, the embedding rows gathered, the whole KV cache read once and the
new positions written once; **compute** = Σ layer MACs ÷ (rows · cols · MACs per unit per cycle at the
layer's precision · clock). Neither is ever beaten (tested).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from archsim.config import Accelerator, load_hw
from archsim.errors import SimError
from archsim.llm.spec import TransformerSpec, block_graph, ends_graph
from archsim.precision import operand_cost
from archsim.simulate import ENGINES, simulate
from quant.errors import QuantError
from quant.plan import LayerPrecision, PrecisionPlan

DES_DECODE_SAMPLES = 16  # the DES's default: 16 decode contexts simulated, the others interpolated (see above)
SUMMED = ("latency_s", "energy_j", "dram_read_bytes", "dram_write_bytes", "macs", "dram_floor_bytes",
          "compute_floor_s", "kv_read_bytes", "kv_write_bytes", "weight_bytes")


@dataclass
class StepResult:
    """One inference step (all blocks + ends): totals and, for the report, the layers of one block + ends."""
    phase: str
    new_tokens: int
    context: int
    totals: dict
    layers: list = field(default_factory=list, repr=False)
    simulated: bool = True  # False: interpolated between simulated contexts

    def floor_s(self, hw: Accelerator) -> dict:
        dram = self.totals["dram_floor_bytes"] / (hw.dram_bytes_per_cycle * hw.clock_mhz * 1e6)
        return {"dram_s": dram, "compute_s": self.totals["compute_floor_s"],
                "floor_s": max(dram, self.totals["compute_floor_s"])}


def _resolve_plan(spec: TransformerSpec, plan) -> PrecisionPlan:
    names = spec.plan_layer_names()
    try:
        if plan is None:
            plan = "int8"
        if isinstance(plan, str):
            plan = PrecisionPlan.uniform(plan, names)
        elif not isinstance(plan, PrecisionPlan):
            raise SimError(f"plan: expected a PrecisionPlan or a spec string, got {type(plan).__name__}")
        plan.validate(names, what=f"model {spec.name!r}")
    except QuantError as exc:
        raise SimError(str(exc)) from None
    if not spec.attention:
        with_kv = [n for n, p in plan.items() if p.kv is not None]
        if with_kv:
            raise SimError(f"plan: a KV-cache format (kv={plan[with_kv[0]].kv}) is given but model {spec.name!r} "
                           f"has no attention layers (no KV cache)")
    return plan


def _kv_formats(spec, plan, i) -> tuple[str, str] | None:
    if not spec.attention:
        return None
    p = f"layers.{i}.self_attn."
    return plan[p + "qk"].kv_format, plan[p + "av"].kv_format


def _sim_plan(g, plan: PrecisionPlan, kv) -> PrecisionPlan:
    """The simulator's plan for a step graph: the attention products' stationary operand is the cache."""
    out = {}
    for d in g.compute_layers():
        p = plan[d["name"]]
        if d["name"].endswith("self_attn.qk"):
            p = LayerPrecision(kv[0], p.activation)
        elif d["name"].endswith("self_attn.av"):
            p = LayerPrecision(kv[1], p.activation)
        out[d["name"]] = LayerPrecision(p.weight, p.activation)
    return PrecisionPlan(out)


def _weight_bits(fmt: str, k: int) -> float:
    """Bits per weight element in DRAM with the per-output-channel scale bits spread over the K it serves."""
    c = operand_cost(fmt)
    return c.storage_bits + c.channel_bits / k


def _floors(g, plan_sim: PrecisionPlan, hw: Accelerator, records: list) -> dict:
    """Compulsory DRAM bytes (weights/cache once, cache appends once, embedding rows) and the compute floor."""
    w = kv_r = kv_w = 0.0
    for d in g.layers():
        if d["op"] == "embedding":
            w += d["weight_elems"] * d["weight_bits"] / 8
            continue
        if d.get("store_format"):
            kv_w += d["act_out_elems"] * operand_cost(d["store_format"]).storage_bits / 8
        if d["op"] in ("linear", "matmul"):
            gm = d["gemm"]
            b = gm["batch"] * gm["K"] * gm["N"] * _weight_bits(plan_sim[d["name"]].weight, gm["K"]) / 8
            if d["op"] == "matmul":
                kv_r += b
            else:
                w += b
    clock = hw.clock_mhz * 1e6
    compute = sum(r["macs"] / (hw.array.rows * hw.array.cols * max(r.get("fusion", 1), 1) * clock)
                  for r in records if r["macs"])
    return {"weight_bytes": w, "kv_read_bytes": kv_r, "kv_write_bytes": kv_w,
            "dram_floor_bytes": w + kv_r + kv_w, "compute_floor_s": compute}


def _part(g, plan, kv, hw, engine) -> tuple[dict, list]:
    ps = _sim_plan(g, plan, kv)
    r = simulate(g, hw, ps, engine)
    t = r.total
    tot = {k: float(t[k]) for k in ("latency_s", "energy_j", "dram_read_bytes", "dram_write_bytes", "macs")}
    tot.update(_floors(g, ps, hw, r.layers))
    return tot, r.layers


def simulate_step(spec: TransformerSpec, plan: PrecisionPlan, hw: Accelerator, *, batch: int, new: int,
                  context: int, engine: str, phase: str) -> StepResult:
    """One step: each distinct block simulated once × the blocks sharing it, plus the embedding and LM head."""
    groups: dict = {}
    for i in range(spec.layers):
        sig = tuple(str(plan[n]) for n in spec.block_layer_names(i))
        groups.setdefault(sig, []).append(i)
    totals = dict.fromkeys(SUMMED, 0.0)
    layers = []
    for idx in groups.values():
        kv = _kv_formats(spec, plan, idx[0])
        tot, recs = _part(block_graph(spec, idx[0], batch, new, context, kv), plan, kv, hw, engine)
        for k in SUMMED:
            totals[k] += tot[k] * len(idx)
        if not layers:
            layers = recs
    embed_bits = operand_cost(plan["embed_tokens"].weight).storage_bits
    act = plan[spec.block_layer_names(0)[0]].activation
    tot, recs = _part(ends_graph(spec, batch, new, embed_bits, act), plan, None, hw, engine)
    for k in SUMMED:
        totals[k] += tot[k]
    return StepResult(phase, new, context, totals, [recs[0], *layers, *recs[1:]])


def _check_int(name, v, low):
    if not isinstance(v, int) or isinstance(v, bool) or v < low:
        raise SimError(f"{name}: must be an integer ≥ {low}, got {v!r}")


def llm(model, prompt: int, generate: int, *, batch: int = 1, hw="edge_llm", plan="int8", engine: str = "analytic",
        decode_samples: int | None = None):
    """Simulate a prefill of ``prompt`` tokens and ``generate`` output tokens (batch ``batch``).

    ``model``: a ``TransformerSpec``, a shipped config name (``llama-2-7b``, …) or ``hf:PATH/config.json``
    (read with ``transformers`` on the meta device: no weights, no download). Returns an ``LLMResult``."""
    from archsim.llm.result import LLMResult

    t0 = time.perf_counter()
    _check_int("prompt", prompt, 1)
    _check_int("generate", generate, 1)
    _check_int("batch", batch, 1)
    if decode_samples is not None:
        _check_int("decode_samples", decode_samples, 2)
    if engine not in ENGINES:
        raise SimError(f"engine: {engine!r} is not one of {', '.join(ENGINES)}")
    if not isinstance(model, TransformerSpec):
        from workloads.hf import load_spec  # torch and transformers only for a config to read

        model = load_spec(model)
    hw = hw if isinstance(hw, Accelerator) else load_hw(hw)
    plan = _resolve_plan(model, plan)
    if decode_samples is None and engine == "des":
        decode_samples = DES_DECODE_SAMPLES
    prefill = simulate_step(model, plan, hw, batch=batch, new=prompt, context=prompt, engine=engine,
                            phase="prefill")
    contexts = list(range(prompt + 1, prompt + generate))
    decode = _decode_steps(model, plan, hw, batch, contexts, engine, decode_samples)
    return LLMResult(spec=model, hw=hw, plan=plan, engine=engine, prompt=prompt, generate=generate, batch=batch,
                     prefill=prefill, decode=decode, decode_samples=decode_samples, wall_s=time.perf_counter() - t0)


def _decode_steps(spec, plan, hw, batch, contexts, engine, samples) -> list[StepResult]:
    if not contexts:
        return []
    if samples is None or samples >= len(contexts):
        return [simulate_step(spec, plan, hw, batch=batch, new=1, context=c, engine=engine, phase="decode")
                for c in contexts]
    picks = sorted({contexts[round(i * (len(contexts) - 1) / (samples - 1))] for i in range(samples)})
    sim = {c: simulate_step(spec, plan, hw, batch=batch, new=1, context=c, engine=engine, phase="decode")
           for c in picks}
    xs = np.array(picks, dtype=float)
    out = []
    for c in contexts:
        if c in sim:
            out.append(sim[c])
            continue
        tot = {k: float(np.interp(c, xs, [sim[p].totals[k] for p in picks])) for k in SUMMED}
        lo = max(p for p in picks if p < c)
        out.append(StepResult("decode", 1, c, tot, sim[lo].layers, simulated=False))
    return out


def kv_cache_bytes(spec: TransformerSpec, plan: PrecisionPlan, batch: int, positions: int) -> float:
    """Bytes the KV cache holds for ``positions`` positions of ``batch`` sequences (elements at the cache format's
    stored bits; the per-position scales that travel with it are counted in the traffic, not here)."""
    if not spec.attention:
        return 0.0
    per = 0.0
    for i in range(spec.layers):
        k, v = _kv_formats(spec, plan, i)
        per += spec.kv_heads * spec.head_dim * (operand_cost(k).storage_bits + operand_cost(v).storage_bits) / 8
    return per * batch * positions

