"""``LLMResult``: TTFT, TPOT, tokens/s, energy and DRAM bytes per token, each beside its physical floor; JSON,
Markdown (per-layer tables of one prefill and one decode step) and plots (time per token against context,
roofline position of each phase)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from archsim.llm.run import SUMMED, StepResult, kv_cache_bytes
from archsim.llm.spec import TransformerSpec


def _sum(steps: list[StepResult]) -> dict:
    return {k: sum(s.totals[k] for s in steps) for k in SUMMED}


@dataclass
class LLMResult:
    spec: TransformerSpec
    hw: object
    plan: object
    engine: str
    prompt: int
    generate: int
    batch: int
    prefill: StepResult
    decode: list = field(default_factory=list)
    decode_samples: int | None = None
    wall_s: float = 0.0

    # ------------------------------------------------------------------ figures
    def phase_totals(self) -> dict:
        out = {}
        for name, steps in (("prefill", [self.prefill]), ("decode", self.decode)):
            t = _sum(steps)
            dram = t["dram_floor_bytes"] / (self.hw.dram_bytes_per_cycle * self.hw.clock_mhz * 1e6)
            t.update(steps=len(steps), dram_floor_s=dram, floor_s=max(dram, t["compute_floor_s"]),
                     bound="memory" if dram >= t["compute_floor_s"] else "compute")
            t["over_floor"] = t["latency_s"] / t["floor_s"] if t["floor_s"] else None
            out[name] = t
        return out

    def summary(self) -> dict:
        ph = self.phase_totals()
        pre, dec = ph["prefill"], ph["decode"]
        n_dec = len(self.decode)
        total_s = pre["latency_s"] + dec["latency_s"]
        tokens = self.batch * self.generate
        return {
            "model": self.spec.name, "hw": self.hw.name, "engine": self.engine, "plan": _plan_label(self.plan),
            "prompt": self.prompt, "generate": self.generate, "batch": self.batch,
            "ttft_s": pre["latency_s"], "ttft_floor_s": pre["floor_s"],
            "tpot_s": dec["latency_s"] / n_dec if n_dec else None,
            "tpot_floor_s": dec["floor_s"] / n_dec if n_dec else None,
            "tokens_per_s": tokens / total_s,
            "tokens_per_s_ceiling": tokens / (pre["floor_s"] + dec["floor_s"]),
            "energy_per_token_j": (pre["energy_j"] + dec["energy_j"]) / tokens,
            "dram_read_bytes_per_token": (dec["dram_read_bytes"] / (n_dec * self.batch) if n_dec
                                          else pre["dram_read_bytes"] / self.batch),
            "dram_floor_bytes_per_token": (dec["dram_floor_bytes"] / (n_dec * self.batch) if n_dec
                                           else pre["dram_floor_bytes"] / self.batch),
            "kv_cache_bytes": kv_cache_bytes(self.spec, self.plan, self.batch, self.prompt + self.generate - 1),
            "params": self.spec.params,
            "total_latency_s": total_s, "total_energy_j": pre["energy_j"] + dec["energy_j"],
            "decode_samples": self.decode_samples,
            "phases": ph, "wall_s": self.wall_s,
        }

    def to_json(self, indent=1) -> str:
        return json.dumps(self.summary(), indent=indent)

    # ------------------------------------------------------------------ report
    def to_markdown(self) -> str:
        s = self.summary()
        ph = s["phases"]
        lines = [f"# {s['model']} on {s['hw']}: prompt {s['prompt']}, generate {s['generate']}, batch {s['batch']}",
                 "", f"Plan `{s['plan']}`, engine {s['engine']}; decode steps "
                 + ("all simulated." if not s["decode_samples"] else
                    f"sampled at {s['decode_samples']} contexts, others interpolated."), "",
                 "| figure | value | physical floor | ÷ floor |", "|---|---|---|---|"]

        def row(name, v, f, unit, scale=1.0):
            ratio = f"{v / f:.3f}" if f else "—"
            lines.append(f"| {name} | {v * scale:.4g} {unit} | {f * scale:.4g} {unit} | {ratio} |")

        row("TTFT", s["ttft_s"], s["ttft_floor_s"], "ms", 1e3)
        if s["tpot_s"] is not None:
            row("TPOT (mean)", s["tpot_s"], s["tpot_floor_s"], "ms", 1e3)
        lines.append(f"| tokens/s | {s['tokens_per_s']:.4g} | ≤ {s['tokens_per_s_ceiling']:.4g} | "
                     f"{s['tokens_per_s'] / s['tokens_per_s_ceiling']:.3f} |")
        lines.append(f"| energy / token | {s['energy_per_token_j'] * 1e3:.4g} mJ | | |")
        row("DRAM read / token (decode)", s["dram_read_bytes_per_token"], s["dram_floor_bytes_per_token"], "MB",
            1e-6)
        lines.append(f"| KV cache at the end | {s['kv_cache_bytes'] / 1e6:.4g} MB | | |")
        lines += ["", "## Phases (roofline position)", "",
                  "| phase | steps | latency | DRAM floor | compute floor | bound | ÷ floor | MACs | DRAM read | "
                  "intensity (MAC/B) |", "|---|---|---|---|---|---|---|---|---|---|"]
        for name, t in ph.items():
            if not t["steps"]:
                continue
            inten = t["macs"] / max(t["dram_read_bytes"] + t["dram_write_bytes"], 1)
            lines.append(f"| {name} | {t['steps']} | {t['latency_s'] * 1e3:.4g} ms | {t['dram_floor_s'] * 1e3:.4g} ms"
                         f" | {t['compute_floor_s'] * 1e3:.4g} ms | {t['bound']} | {t['over_floor']:.3f} | "
                         f"{t['macs'] / 1e9:.4g} G | {t['dram_read_bytes'] / 1e6:.4g} MB | {inten:.3g} |")
        for title, step in (("One prefill step", self.prefill), ("One decode step", self.decode[0] if self.decode
                                                                  else None)):
            if step is None:
                continue
            lines += ["", f"## {title} (context {step.context}; one decoder block + embedding and LM head)", "",
                      "| layer | op | MACs | cycles | bound | util | DRAM read | DRAM write | w | a |",
                      "|---|---|---|---|---|---|---|---|---|---|"]
            for r in step.layers:
                lines.append(f"| {r['name']} | {r['op']} | {r['macs']:,} | {r['cycles']:,.0f} | {r['bound']} | "
                             f"{r['utilization']:.3f} | {r['dram_read_bytes']:,} | {r['dram_write_bytes']:,} | "
                             f"{r['w_format']} | {r['a_format']} |")
        return "\n".join(lines) + "\n"

    def save(self, out) -> Path:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "llm.json").write_text(self.to_json())
        (out / "llm.md").write_text(self.to_markdown() + "\n![time per token](time_per_token.png)\n"
                                    "![roofline](roofline.png)\n")
        from archsim.llm.plots import roofline_plot, time_per_token_plot

        time_per_token_plot([self], out / "time_per_token.png")
        roofline_plot(self, out / "roofline.png")
        return out


def _plan_label(plan) -> str:
    specs = {str(p) for _, p in plan.items()}
    return specs.pop() if len(specs) == 1 else f"per-layer ({len(plan)} layers)"
