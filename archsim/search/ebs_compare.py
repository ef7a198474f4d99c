"""reports/ebs.md: EBS vs evolutionary search vs greedy bit-lowering on the Fashion-MNIST CNN.

    python -m archsim.search.ebs_compare --out reports

Same model, accelerator (``default``) and error budget: EBS (latency-table cost on the fusion array) picks
a plan; its error proxy is the budget for NSGA-II (precision-only, latency × error proxy) and for greedy
bit-lowering. Candidates: INT 2/3/4/6/8 for all three (EBS decomposes integers). Every plan is then
calibrated and fine-tuned the same way (PTQ + 100 QAT steps) and simulated (DES) on the fusion array and
on the binary bit-plane array.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

BITS = (2, 3, 4, 6, 8)


def run(out: Path, *, steps: int = 300, lam: float = 0.5, generations: int = 12, pop: int = 20,
        test_limit: int | None = None) -> Path:
    import numpy as np
    import torch

    from archsim import load_hw, simulate
    from archsim.search.baselines import greedy_lowering
    from archsim.search.evaluate import EvalContext, error_proxy
    from archsim.search.evaluator import Evaluator
    from archsim.search.run import run_search
    from archsim.search.space import SearchSpace
    from quant.ebs import ebs_search
    from quant.qmodel import calibrate, evaluate, qat, quantize_model
    from quant.sensitivity import sensitivity_table
    from workloads import load_workload
    from workloads.data import load_fashion_mnist
    from workloads.train import load_trained

    torch.set_num_threads(2)
    fmts = tuple(f"int{b}" for b in BITS)
    graph = load_workload("fashion_cnn")
    names = [d["name"] for d in graph.compute_layers()]
    hw_f = load_hw("default")
    hw_b = hw_f.with_overrides({"array.kind": "binary"})
    xtr, ytr = load_fashion_mnist("train", limit=8192)
    xte, yte = load_fashion_mnist("test", limit=test_limit)
    base = load_trained("fashion_cnn")
    fp32 = evaluate(base, xte, yte)
    sens = sensitivity_table(base, (1, 28, 28), fmts, x=torch.from_numpy(xtr[:8]), name="fashion_cnn")

    t0 = time.perf_counter()
    ebs = ebs_search(load_trained("fashion_cnn"), (1, 28, 28), xtr, ytr, lam=lam, steps=steps, cost="latency",
                     hw=hw_f, graph=graph)
    ebs_cost = {"wall_s": time.perf_counter() - t0, "evaluations": f"{steps} training steps × 64 images"}
    budget = error_proxy(ebs.plan, graph, sens)

    space = SearchSpace(names, formats=fmts, hw_base=hw_f, hw_genes={})
    ctx = EvalContext(graph.to_dict(), space, sens, ("latency", "error"), max_error=budget)
    t0 = time.perf_counter()
    res = run_search(ctx, generations=generations, pop=pop, seed=0, baselines=False, des_front=False, progress=False)
    nsga_cost = {"wall_s": time.perf_counter() - t0, "evaluations": res.n_evals}
    ok = [a for a in res.archive if a["values"]["error"] <= budget * (1 + 1e-9)]
    nsga_plan = space.decode(min(ok, key=lambda a: a["values"]["latency"])["genome"])[0]

    t0 = time.perf_counter()
    ev = Evaluator(ctx)
    greedy_lowering(ctx, res.n_evals, evaluator=ev)
    g_ok = [(h, r) for h, r in ev.cache.items() if r["values"]["error"] <= budget * (1 + 1e-9)]
    greedy_cost = {"wall_s": time.perf_counter() - t0, "evaluations": ev.n_new}
    best_h = min(g_ok, key=lambda t: t[1]["values"]["latency"])[0]
    greedy_plan = space.decode(ev.genomes[best_h])[0]
    rows = []
    for label, plan, cost in (("EBS (differentiable)", ebs.plan, ebs_cost), ("NSGA-II (evolutionary)", nsga_plan,
                                                                                nsga_cost),
                              ("greedy bit-lowering", greedy_plan, greedy_cost)):
        q = quantize_model(load_trained("fashion_cnn"), plan, (1, 28, 28))
        calibrate(q, [xtr[i:i + 128] for i in range(0, 512, 128)])
        ptq = evaluate(q, xte, yte)
        qat(q, xtr, ytr, steps=100, lr=1e-4)
        ft = evaluate(q, xte, yte)
        sims = {k: simulate(graph, hw, plan, "des") for k, hw in (("fusion", hw_f), ("binary", hw_b))}
        rows.append({"label": label, "plan": {n: str(p) for n, p in plan.items()}, "ptq": ptq, "finetuned": ft,
                     "proxy": error_proxy(plan, graph, sens),
                     **{f"{k}_latency_s": s.total["latency_s"] for k, s in sims.items()},
                     **{f"{k}_energy_j": s.total["energy_j"] for k, s in sims.items()}, "cost": cost})
    int8 = {k: simulate(graph, hw, "int8", "des").total for k, hw in (("fusion", hw_f), ("binary", hw_b))}
    out.mkdir(parents=True, exist_ok=True)
    (out / "ebs.json").write_text(json.dumps({"fp32": fp32, "budget": budget, "rows": rows,
                                              "ebs_strengths": ebs.strengths}, indent=1))
    lines = ["# EBS vs evolutionary search vs greedy bit-lowering (Fashion-MNIST CNN)", "",
             "Regenerate with `python -m archsim.search.ebs_compare --out reports`.", "",
             f"Candidates INT {'/'.join(map(str, BITS))} for weights and activations; first and last layers INT8 "
             f"for EBS, free for the others. EBS: {steps} steps, λ = {lam}, cost = expected latency from the "
             "simulator's per-layer table on the fusion array. The error budget for NSGA-II and greedy is the "
             f"EBS plan's error proxy ({budget:.4g}). Every plan: PTQ calibration on 512 images, then 100 QAT "
             f"steps; accuracy on {len(xte)} Fashion-MNIST test images (FP32 {fp32:.2%}). Latency/energy from "
             "the DES on the `default` fusion array and on the same accelerator with `array.kind: binary` "
             f"(INT8: fusion {int8['fusion']['latency_s'] * 1e3:.3f} ms, binary "
             f"{int8['binary']['latency_s'] * 1e3:.3f} ms).", "",
             "| method | plan (w/a per layer) | error proxy | PTQ acc. | fine-tuned acc. | fusion latency | fusion "
             "energy | binary latency | binary energy | search cost |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        plan = " · ".join(r["plan"].values())
        lines.append(f"| {r['label']} | {plan} | {r['proxy']:.4g} | {r['ptq']:.2%} | {r['finetuned']:.2%} | "
                     f"{r['fusion_latency_s'] * 1e6:.1f} µs | {r['fusion_energy_j'] * 1e6:.1f} µJ | "
                     f"{r['binary_latency_s'] * 1e6:.1f} µs | {r['binary_energy_j'] * 1e6:.1f} µJ | "
                     f"{r['cost']['wall_s']:.1f} s, {r['cost']['evaluations']} |")
    lines += ["", "EBS final strengths (softmax over INT " + "/".join(map(str, BITS)) + "):", ""]
    for n, (pw, pa) in ebs.strengths.items():
        lines.append(f"- {n}: weights {np.round(pw, 2).tolist()}, activations {np.round(pa, 2).tolist()}")
    path = out / "ebs.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="reports", type=Path)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--lam", type=float, default=0.5)
    args = ap.parse_args(argv)
    print(f"wrote {run(args.out, steps=args.steps, lam=args.lam)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
