"""``reports/llm.md``: LLM inference on the two LLM configs, every figure beside its physical floor.

Regenerate: ``python -m archsim.llm_report --out reports`` (or ``make llm-report``; analytic engine, every decode
step simulated, a few minutes on one core).

Llama-2-7B and Qwen2.5-0.5B (shipped HF configs), prompt 2048, generate 256, batch 1 and 16, on ``edge_llm``
(LPDDR5X) and ``datacenter_llm`` (HBM3), under INT8, W4A16, W4A8 and W4A8-KV4 with INT, DyBit and MXFP4 4-bit
formats (NVFP4 too when the format registry has it).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from archsim.config import load_hw
from archsim.llm import llm
from archsim.llm.plots import time_per_token_plot
from archsim.llm.run import simulate_step
from quant.plan import PrecisionPlan

MODELS = ("llama-2-7b", "qwen2.5-0.5b")
HWS = ("edge_llm", "datacenter_llm")
PROMPT, GENERATE, BATCHES = 2048, 256, (1, 16)
SAMPLES = (2, 4, 16)  # decode contexts simulated when measuring the interpolation error


def four_bit_formats() -> list[str]:
    from quant import QuantError, get_format

    out = ["int4", "dybit4", "mxfp4"]
    try:
        get_format("nvfp4")
        out.append("nvfp4")
    except QuantError:
        pass
    return out


def plans() -> list[tuple[str, str]]:
    rows = [("INT8", "int8")]
    for f in four_bit_formats():
        rows += [(f"W4A16 {f}", f"w={f},a=bf16"), (f"W4A8 {f}", f"w={f},a=int8"),
                 (f"W4A8-KV4 {f}", f"w={f},a=int8,kv={f}")]
    return rows


def _table(results) -> list[str]:
    lines = ["| model | hw | precision | B | TTFT ms | floor | × | TPOT ms | floor | × | tokens/s | ceiling | "
             "mJ/token | DRAM MB/token | floor | KV cache MB |", "|" + "---|" * 16]
    for (model, hw, label, b), r in results:
        s = r.summary()
        lines.append(
            f"| {model} | {hw} | {label} | {b} | {s['ttft_s'] * 1e3:.4g} | {s['ttft_floor_s'] * 1e3:.4g} | "
            f"{s['ttft_s'] / s['ttft_floor_s']:.3f} | {s['tpot_s'] * 1e3:.4g} | {s['tpot_floor_s'] * 1e3:.4g} | "
            f"{s['tpot_s'] / s['tpot_floor_s']:.3f} | {s['tokens_per_s']:.4g} | {s['tokens_per_s_ceiling']:.4g} | "
            f"{s['energy_per_token_j'] * 1e3:.4g} | {s['dram_read_bytes_per_token'] / 1e6:.4g} | "
            f"{s['dram_floor_bytes_per_token'] / 1e6:.4g} | {s['kv_cache_bytes'] / 1e6:.4g} |")
    return lines


def _array_kinds(spec) -> list[str]:
    """One W4A8 decode step (context PROMPT, batch 1) under each dataflow and array microarchitecture on the fusion
    array, and on the fixed-PE and binary (bit-plane) array kinds."""
    lines = ["| hw | array kind | microarchitecture | dataflow | decode step ms | DRAM floor ms | × floor | "
             "array util |", "|---|---|---|---|---|---|---|---|"]
    plan = PrecisionPlan.uniform("w=int4,a=int8", spec.plan_layer_names())
    variants = [("fusion", m, df) for m in ("bitfusion", "systolic") for df in ("ws", "os", "is")]
    variants += [("fixed", "bitfusion", "ws"), ("binary", "bitfusion", "ws")]
    for hw_name in HWS:
        for kind, micro, df in variants:
            hw = load_hw(hw_name).with_overrides({"array.kind": kind, "array.dataflow": df,
                                                  "array.microarchitecture": micro})
            st = simulate_step(spec, plan, hw, batch=1, new=1, context=PROMPT, engine="analytic", phase="decode")
            f = st.floor_s(hw)
            per_unit = max(r.get("fusion", 0) or 0 for r in st.layers) or 1  # MACs per unit per cycle at W4A8
            util = st.totals["macs"] / (st.totals["latency_s"] * hw.array.rows * hw.array.cols * per_unit
                                        * hw.clock_mhz * 1e6)
            lines.append(f"| {hw_name} | {kind} | {micro} | {df.upper()} | {st.totals['latency_s'] * 1e3:.4g} | "
                         f"{f['dram_s'] * 1e3:.4g} | {st.totals['latency_s'] / f['dram_s']:.3f} | {util:.4f} |")
    return lines


def _targets(results) -> list[str]:
    lines = ["| model | hw | decode B=1 ÷ DRAM floor | decode bound | prefill ÷ compute floor | prefill bound |",
             "|---|---|---|---|---|---|"]
    seen = {}
    for (m, hw, _label, b), r in results:
        ph = r.phase_totals()
        d = seen.setdefault((m, hw), {"dec": [], "pre": [], "db": set(), "pb": set()})
        if b == 1:
            dec = ph["decode"]
            d["dec"].append(dec["latency_s"] / dec["dram_floor_s"])
            d["db"].add(dec["bound"])
        pre = ph["prefill"]
        d["pre"].append(pre["latency_s"] / pre["compute_floor_s"])
        d["pb"].add(pre["bound"])
    for (m, hw), d in seen.items():
        lines.append(f"| {m} | {hw} | {min(d['dec']):.3f}–{max(d['dec']):.3f} | {'/'.join(sorted(d['db']))} | "
                     f"{min(d['pre']):.3f}–{max(d['pre']):.3f} | {'/'.join(sorted(d['pb']))} |")
    return lines


def _sampling(spec) -> list[str]:
    lines = ["| hw | decode contexts simulated | decode total s | error vs every step |", "|---|---|---|---|"]
    for hw in HWS:
        every = llm(spec, PROMPT, GENERATE, hw=hw, plan="w=int4,a=int8,kv=int4").phase_totals()["decode"]
        for n in SAMPLES:
            d = llm(spec, PROMPT, GENERATE, hw=hw, plan="w=int4,a=int8,kv=int4",
                    decode_samples=n).phase_totals()["decode"]
            err = (d["latency_s"] - every["latency_s"]) / every["latency_s"]
            lines.append(f"| {hw} | {n} of {GENERATE - 1} | {d['latency_s']:.6g} | {err:+.2e} |")
        lines.append(f"| {hw} | all {GENERATE - 1} | {every['latency_s']:.6g} | 0 |")
    return lines


def build(out: Path) -> Path:
    from tqdm import tqdm

    from workloads.hf import load_spec

    out.mkdir(parents=True, exist_ok=True)
    specs = {m: load_spec(m) for m in MODELS}
    grid = [(m, hw, label, spec, b) for m in MODELS for hw in HWS for label, spec in plans() for b in BATCHES]
    results = []
    for m, hw, label, spec, b in tqdm(grid, desc="llm report", leave=False):
        results.append(((m, hw, label, b), llm(specs[m], PROMPT, GENERATE, batch=b, hw=hw, plan=spec)))
    for hw in HWS:
        sel = [r for (m, h, label, b), r in results if m == MODELS[0] and h == hw
               and label in ("INT8", "W4A8-KV4 int4")]
        time_per_token_plot(sel, out / f"llm_tpot_{hw}.png")
    text = _document(results, specs)
    path = out / "llm.md"
    path.write_text(text)
    return path


def _document(results, specs) -> str:
    hw_lines = []
    for hw_name in HWS:
        hw = load_hw(hw_name)
        bw = hw.dram_bytes_per_cycle * hw.clock_mhz * 1e6
        peak8 = hw.array.rows * hw.array.cols * 4 * hw.clock_mhz * 1e6
        hw_lines.append(f"- `{hw_name}`: {hw.description}; DRAM {bw / 1e9:.1f} GB/s, INT8 peak "
                        f"{peak8 / 1e12:.1f} TMAC/s (W4A8 ×2, W4A16 ×1), ridge point {peak8 / bw:.0f} MAC/B at INT8.")
    spec7 = specs[MODELS[0]]
    parts = [
        "# LLM inference: time to first token, time per output token, energy per token",
        "",
        "Regenerate: `python -m archsim.llm_report --out reports` (`make llm-report`). Analytic engine, every decode "
        f"step simulated; prompt {PROMPT}, generate {GENERATE} (the prefill yields the first token, then "
        f"{GENERATE - 1} decode steps at contexts {PROMPT + 1}…{PROMPT + GENERATE - 1}).",
        "",
        "Models: " + ", ".join(f"{m} ({s.params / 1e9:.2f} G parameters, {s.layers} blocks, {s.heads} heads / "
                                f"{s.kv_heads} KV heads)" for m, s in specs.items()) + ".",
        "",
        *hw_lines,
        "",
        "Every figure stands beside its **physical floor**: TTFT and TPOT beside max(compulsory DRAM bytes ÷ DRAM "
        "bandwidth, MACs ÷ peak MAC/s at each layer's precision), where the compulsory bytes are every weight (with "
        "its scales) once, the embedding rows gathered, the whole KV cache read once and the new positions written "
        "once; tokens/s beside the ceiling those floors allow; DRAM bytes per output token (decode) beside the "
        "compulsory bytes. KV cache = its size after the last token. Precisions: INT8 = `int8`; W4A16 = 4-bit "
        "weights, BF16 activations and cache; W4A8 = 4-bit weights, INT8 activations and cache; W4A8-KV4 = the "
        "cache in the same 4-bit format (per-position K scales and per-channel V scales, 32 bits each, travel with "
        "it). NVFP4 " + ("is included." if "nvfp4" in four_bit_formats() else
                         "is not in the format registry of this build, so it is not in the tables."),
        "",
        "## Results",
        "",
        *_table(results),
        "",
        *[f"![{spec7.name} decode time per token on {hw}](llm_tpot_{hw}.png)" for hw in HWS],
        "",
        "## What a decode step (GEMV) does on each array",
        "",
        "At batch 1 a decode step is a chain of matrix-vector products: every weight is used once per token, so "
        "the array can only be as fast as the weights stream in. On Bit Fusion's array (`bitfusion`, per-unit "
        "weight buffers) a weight tile streams into the units while the previous one computes, and a layer pays "
        "one fill/drain: the step runs at the DRAM's pace. The TPU-style systolic array (`systolic`) loads every "
        "weight-stationary fold (rows cycles) before streaming M = batch rows through it and drains it, so with "
        "M = 1 each fold costs ~rows + cols cycles for one row of work; output-stationary folds pay the reduction "
        "plus fill/drain per output block; input-stationary folds put output pixels (here 1) on the columns. "
        "A fixed-PE array (one 8-bit MAC per PE) and the binary bit-plane array (a·b AND+popcount products per MAC) "
        "run the same stream; at batch 1 all of them wait for the DRAM on `edge_llm`, where a fold's weights take "
        "longer to arrive than the fold takes to run. "
        f"{spec7.name}, W4A8, one decode step at context {PROMPT}, batch 1 (array util = MACs ÷ (cycles × peak at "
        "W4A8)):",
        "",
        *_array_kinds(spec7),
        "",
        "## How decode steps are simulated",
        "",
        "The analytic engine simulates every decode step by default (as in the tables above). A step's cost is "
        "affine in its context (fixed weights, one more cached position each step), so `--decode-samples S` "
        "simulates S evenly spaced contexts (first and last included) and interpolates the rest; the DES does so "
        f"with S = 16 by default. The interpolation's error, {spec7.name} W4A8-KV4, batch 1, analytic:",
        "",
        *_sampling(spec7),
        "",
        "## Targets, and where they are missed",
        "",
        "Targets: decode at batch 1 on a bandwidth-bound config within 15 % of its DRAM floor (never below); "
        "prefill within 15 % of its compute floor where compute-bound. Ranges over the precisions above:",
        "",
        *_targets(results),
        "",
        "Decode on `edge_llm` meets its target. Where a figure misses, the reasons are these (per-layer tables: "
        "`archsim llm --out DIR`):",
        "",
        "- **Reductions shorter than the array's.** Bit Fusion's mapping puts the reduction down the rows, "
        "rows × fusion deep (W4A8: 8 per unit), and a layer whose reduction is shorter leaves the rest idle. "
        "Attention's Q·Kᵀ reduces over head_dim (Llama-2 128, Qwen2.5 64): half or a quarter of `edge_llm`'s "
        "256-deep W4A8 reduction, 1/16–1/32 of `datacenter_llm`'s 2,048; Qwen2.5-0.5B's hidden size 896 fills 44 % "
        "of the latter. 4-bit operands double the floor's peak but not these layers' speed, so W4A8 and KV4 "
        "prefills sit further above their floors than INT8.",
        "- **No fused attention.** The P×P score matrix is written to DRAM by Q·Kᵀ and read back by P·V, and the "
        "residual adds and the gate multiply are vector layers through DRAM.",
        "- **Short steps on a fast memory.** A `datacenter_llm` decode step lasts 0.2–8 ms; each of its layers "
        "exposes its first tile load and the DRAM latency (100 ns) once, and the attention products once per "
        "(sequence × KV head) group, because the layer-by-layer model does not prefetch the next layer's weights "
        "during the current one. On `edge_llm` the same overheads are 1–10 % of a 4–320 ms step.",
        "",
    ]
    return "\n".join(parts)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m archsim.llm_report", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="reports")
    args = ap.parse_args(argv)
    print(f"wrote {build(Path(args.out))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
