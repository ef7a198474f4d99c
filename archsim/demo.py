"""The main job (``archsim demo`` / ``make demo``): quantise → simulate → co-search → a report a person reads.

On the embedded defaults: the Fashion-MNIST CNN (trained weights committed) and ResNet-18 are quantised
with INT8, DyBit-4 and a searched mixed plan, simulated on the default (Bit Fusion edge) accelerator and on
the INT8 baseline array, and a short co-search of precision and hardware runs on the CNN. Everything lands
in ``reports/demo/`` with the command that regenerates each piece; ``archsim report reports/demo``
rebuilds the Markdown and plots from the saved JSON without simulating again.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

DEMO_FORMATS = ("int8", "dybit6", "dybit4", "dybit3", "int4")


def _log(msg: str) -> None:
    print(f"[demo] {msg}", file=sys.stderr, flush=True)


def run_demo(out: str | Path = "reports/demo", *, quick: bool = False) -> Path:
    import torch
    from tqdm import tqdm

    from archsim import load_hw
    from archsim.search import EvalContext, EvalStore, SearchSpace, run_search, write_outputs
    from archsim.search.evaluate import error_proxy
    from quant.plan import PrecisionPlan
    from quant.qmodel import calibrate, evaluate, quantize_model
    from quant.sensitivity import sensitivity_table
    from workloads import load_workload
    from workloads.data import load_fashion_mnist
    from workloads.train import load_trained
    from workloads.zoo import get_model

    t_start = time.perf_counter()
    out = Path(out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(2)
    default, int8_hw = load_hw("default"), load_hw("int8_systolic")
    n_test = 2000 if quick else 10000
    gens, pop = (4, 12) if quick else (20, 24)
    summary = {"models": {}, "commands": {}, "quick": quick}

    # ---------------------------------------------------------------- the CNN: accuracy + precision search
    _log("Fashion-MNIST CNN: sensitivity, precision search, PTQ accuracy")
    cnn_graph = load_workload("fashion_cnn")
    cnn_layers = [d["name"] for d in cnn_graph.compute_layers()]
    cnn = load_trained("fashion_cnn")
    xte, yte = load_fashion_mnist("test", limit=n_test)
    xtr, _ = load_fashion_mnist("train", limit=512)
    sens_cnn = sensitivity_table(cnn, (1, 28, 28), DEMO_FORMATS, x=torch.from_numpy(xtr[:8]), name="fashion_cnn")
    # constraint: half the error proxy of uniform DyBit-4 (between uniform DyBit-4 and INT8)
    limit_cnn = 0.5 * error_proxy(PrecisionPlan.uniform("dybit4", cnn_layers), cnn_graph, sens_cnn)
    mixed_cnn = _precision_search(cnn_graph, cnn_layers, sens_cnn, default, limit_cnn, gens, pop)
    plans_cnn = {"INT8": "int8", "DyBit-4": "dybit4", "searched mix": mixed_cnn}
    acc = {"FP32": evaluate(cnn, xte, yte)}
    for label, plan in tqdm(plans_cnn.items(), desc="PTQ accuracy", file=sys.stderr):
        q = quantize_model(cnn, plan, (1, 28, 28))
        calibrate(q, [xtr[i:i + 128] for i in range(0, 512, 128)])
        acc[label] = evaluate(q, xte, yte)
    summary["models"]["fashion_cnn"] = _simulate_plans(cnn_graph, plans_cnn, default, int8_hw, out, sens_cnn,
                                                       accuracy=acc)
    summary["models"]["fashion_cnn"]["error_limit"] = limit_cnn

    # ---------------------------------------------------------------- ResNet-18: proxy error + precision search
    _log("ResNet-18: sensitivity on initialised weights, precision search, simulation")
    r18_graph = load_workload("resnet18")
    r18_layers = [d["name"] for d in r18_graph.compute_layers()]
    net, shape = get_model("resnet18")
    sens_r18 = sensitivity_table(net, shape, DEMO_FORMATS, x=torch.randn(1, *shape, generator=torch.Generator()
                                                                        .manual_seed(0)), name="resnet18")
    limit_r18 = 0.5 * error_proxy(PrecisionPlan.uniform("dybit4", r18_layers), r18_graph, sens_r18)
    mixed_r18 = _precision_search(r18_graph, r18_layers, sens_r18, default, limit_r18, gens, pop)
    plans_r18 = {"INT8": "int8", "DyBit-4": "dybit4", "searched mix": mixed_r18}
    summary["models"]["resnet18"] = _simulate_plans(r18_graph, plans_r18, default, int8_hw, out, sens_r18,
                                                    trace_label="DyBit-4")
    summary["models"]["resnet18"]["error_limit"] = limit_r18

    # ---------------------------------------------------------------- co-search of precision and hardware
    _log("co-search of precision and hardware on the CNN (latency, energy, error)")
    space = SearchSpace(cnn_layers, formats=DEMO_FORMATS, hw_base=default)
    ctx = EvalContext(cnn_graph.to_dict(), space, sens_cnn, ("latency", "energy", "error"), max_error=limit_cnn)
    db = out / "search" / "search.sqlite"
    if db.exists():
        db.unlink()
    res = run_search(ctx, generations=gens, pop=pop, seed=0, store=EvalStore(db, config=None), progress=True)
    search_cmd = (f"archsim search --model fashion_cnn --objectives latency,energy,error --max-error {limit_cnn:.6g} "
                  f"--formats {','.join(DEMO_FORMATS)} --generations {gens} --pop {pop} --out reports/demo/search")
    write_outputs(res, out / "search", space=space, graph=cnn_graph, command=search_cmd)
    summary["search"] = {"front_size": len(res.front), "evaluations": res.n_evals,
                         "hv": res.hv_history[-1][1] if res.hv_history else 0.0,
                         "baselines": {k: v[-1][1] if v else 0.0 for k, v in res.baselines.items()}}
    # ---------------------------------------------------------------- a small grid sweep and its explorer page
    _log("sweep: 2 models × 9 designs × 2 precisions (analytic), explorer page")
    summary["sweep"] = _sweep(out, default, {"fashion_cnn": cnn_graph, "resnet18": r18_graph})
    summary["commands"] = {
        "everything": "archsim demo" + (" --quick" if quick else ""),
        "simulate": "archsim simulate --model resnet18 --precision dybit4 --out reports/demo/runs/x "
                    "--trace reports/demo/trace.json",
        "search": search_cmd,
        "sweep": summary["sweep"]["command"],
        "report": f"archsim report {out}",
        "accuracy": "make accuracy-report", "formats": "make formats-report",
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    path = write_index(out)
    # wall-clock figures go to an untracked file and the terminal: re-running the demo on an unchanged tree
    # changes no tracked file
    timing = {"wall_s": time.perf_counter() - t_start, "search_s": res.seconds}
    (out / "timing.json").write_text(json.dumps(timing, indent=1))
    _log(f"done in {timing['wall_s']:.0f} s (search {timing['search_s']:.1f} s): {path}")
    return path


def _precision_search(graph, layers, sens, hw, limit, gens, pop) -> dict:
    from archsim.search import EvalContext, SearchSpace, run_search

    space = SearchSpace(layers, formats=DEMO_FORMATS, hw_base=hw, hw_genes={})
    ctx = EvalContext(graph.to_dict(), space, sens, ("latency", "error"), max_error=limit)
    res = run_search(ctx, generations=gens, pop=pop, seed=0, baselines=False, des_front=False, progress=False)
    best = min(res.front, key=lambda f: f["values"]["latency"])
    return best["plan"]


SWEEP_AXES = {"array.rows": [8, 16, 32], "dram.bus_bits": [64, 128, 256]}
SWEEP_PRECISIONS = ["int8", "dybit4"]


def _sweep(out: Path, hw, graphs: dict) -> dict:
    """The sweep the index links: every design of SWEEP_AXES on both models (graphs already loaded)."""
    from archsim.dse import SweepGrid, run_sweep
    from archsim.dse.report import write_outputs as write_sweep

    grid = SweepGrid(list(graphs), hw, SWEEP_AXES, SWEEP_PRECISIONS)
    res = run_sweep(grid, list(graphs.values()), grid.designs(), progress=False)
    sets = " ".join(f"--set {k}={','.join(map(str, v))}" for k, v in SWEEP_AXES.items())
    command = (f"archsim sweep --model {','.join(graphs)} {sets} --precision {','.join(SWEEP_PRECISIONS)} "
               f"--out {out / 'sweep'}")
    write_sweep(res, out / "sweep", command=command)
    df = res.table
    best = {m: s.loc[s["latency_s"].idxmin()] for m, s in df.groupby("model", sort=False)}
    return {"points": len(df), "command": command,
            "fastest": {m: {"design": b["design"], "precision": b["precision"], "latency_s": float(b["latency_s"])}
                        for m, b in best.items()}}


def _simulate_plans(graph, plans, default, int8_hw, out: Path, sens, *, accuracy=None, trace_label=None) -> dict:
    from archsim import simulate
    from archsim.search.evaluate import error_proxy
    from quant.plan import PrecisionPlan

    layers = [d["name"] for d in graph.compute_layers()]
    runs = {}
    base = simulate(graph, int8_hw, "int8", "des")
    key = f"{graph.name}__int8_systolic__INT8"
    base.save(out / "runs" / key)
    runs["INT8 on int8_systolic"] = {"dir": f"runs/{key}", **_headline(base)}
    for label, plan in plans.items():
        p = PrecisionPlan.uniform(plan, layers) if isinstance(plan, str) else PrecisionPlan(plan)
        r = simulate(graph, default, p, "des", trace=(label == trace_label))
        key = f"{graph.name}__default__{label.replace(' ', '_')}"
        r.save(out / "runs" / key)
        if label == trace_label:
            r.save_trace(out / "trace.json")
        runs[f"{label} on default"] = {"dir": f"runs/{key}", **_headline(r), "error": error_proxy(p, graph, sens),
                                       "plan": {n: str(x) for n, x in p.items()}}
        if accuracy is not None:
            runs[f"{label} on default"]["accuracy"] = accuracy.get(label)
    int8_default = runs["INT8 on default"]
    for v in runs.values():
        v["speedup_vs_int8"] = int8_default["latency_s"] / v["latency_s"]
        v["energy_saving_vs_int8"] = int8_default["energy_j"] / v["energy_j"]
    return {"runs": runs, "fp32_accuracy": accuracy.get("FP32") if accuracy else None}


def _headline(r) -> dict:
    t = r.total
    return {"latency_s": t["latency_s"], "energy_j": t["energy_j"], "area_mm2": t["area_mm2"],
            "utilization": t["utilization"], "dram_mb": (t["dram_read_bytes"] + t["dram_write_bytes"]) / 1e6,
            "analytic_latency_s": t["analytic_cycles"] / (r.hw.clock_mhz * 1e6)}


def write_index(out: str | Path) -> Path:
    """(Re)build ``index.md`` and every run's report/plots from the saved JSON — no simulation."""
    from archsim.result import SimResult

    out = Path(out)
    summary = json.loads((out / "summary.json").read_text())
    for rj in sorted((out / "runs").glob("*/result.json")):
        res = SimResult.from_dict(json.loads(rj.read_text()))
        (rj.parent / "report.md").write_text(res.to_markdown() + "\n")
        from archsim.plots import plot_result

        plot_result(res, rj.parent)
    lines = ["# dybit-archsim demo", "",
             f"Everything here was produced by `{summary['commands']['everything']}` (its wall-clock time is in "
             f"`timing.json`, not tracked); `{summary['commands']['report']}` rebuilds the Markdown and plots from "
             "the saved JSON without simulating.", "",
             "What ran: the Fashion-MNIST CNN (trained weights in `workloads/weights/`) and ResNet-18 were quantised "
             "with INT8, adaptive DyBit-4 and a **searched mixed plan** (NSGA-II over per-layer formats, latency × "
             "error proxy, constraint: at most half the error proxy of uniform DyBit-4), simulated with the "
             "discrete-event engine on the `default` accelerator (Bit Fusion edge: 16×32 fusion units, 500 MHz, "
             "64/32/16 KiB, 12 GB/s) and "
             "INT8 on the `int8_systolic` baseline (32×32 fixed 8-bit PEs); then a co-search of precision *and* "
             "hardware (latency, energy, error) ran on the CNN.", ""]
    for model, m in summary["models"].items():
        has_acc = m.get("fp32_accuracy") is not None
        lines += [f"## {model}", ""]
        if has_acc:
            lines += [f"FP32 accuracy on the Fashion-MNIST test set: **{m['fp32_accuracy']:.2%}** (PTQ below).", ""]
        else:
            lines += ["ResNet-18 has no trained weights here (no torchvision, no downloads): its error column is the "
                      "output-perturbation proxy on initialised weights, a structural measure, not an accuracy.", ""]
        head = "| design | latency | energy | area | utilisation | DRAM | " + ("accuracy" if has_acc else "error proxy")
        lines += [head + " | speed-up vs INT8 | energy saving vs INT8 | per-layer tables |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for label, r in m["runs"].items():
            q = (f"{r['accuracy']:.2%}" if has_acc and r.get("accuracy") is not None else
                 (f"{r['error']:.3g}" if "error" in r else "—"))
            lines.append(f"| {label} | {r['latency_s'] * 1e3:.3f} ms | {r['energy_j'] * 1e6:.1f} µJ | "
                         f"{r['area_mm2']:.2f} mm² | {r['utilization']:.1%} | {r['dram_mb']:.2f} MB | {q} | "
                         f"{r['speedup_vs_int8']:.2f}× | {r['energy_saving_vs_int8']:.2f}× | "
                         f"[report]({r['dir']}/report.md) · [latency]({r['dir']}/latency.png) · "
                         f"[energy]({r['dir']}/energy.png) · [roofline]({r['dir']}/roofline.png) |")
        mix = m["runs"].get("searched mix on default", {}).get("plan", {})
        if mix:
            counts: dict = {}
            for v in mix.values():
                counts[v] = counts.get(v, 0) + 1
            lines += ["", "Searched mix: " + ", ".join(f"`{k}`×{v}" for k, v in counts.items()) + "."]
        lines.append("")
    s = summary.get("search", {})
    lines += ["## Co-search of precision and hardware (Fashion-MNIST CNN)", "",
              f"{s.get('evaluations', 0)} evaluations; {s.get('front_size', 0)} "
              f"designs on the Pareto front ([front.csv](search/front.csv), [front.json](search/front.json); "
              f"every evaluated design in the **[explorer page](search/index.html)**, front designs with their "
              f"per-layer reports). "
              f"Hypervolume: NSGA-III {s.get('hv', 0):.4f}; at the same budget random search "
              f"{s.get('baselines', {}).get('random', 0):.4f}, greedy bit-lowering "
              f"{s.get('baselines', {}).get('greedy', 0):.4f}.", "",
              "![front](search/front_latency_energy.png) ![front](search/front_latency_error.png)", "",
              "![hypervolume](search/hypervolume.png) ![parallel coordinates](search/front_parallel.png)", ""]
    sw = summary.get("sweep")
    if sw:
        lines += ["## Sweep and explorer", ""]
        fastest = "; ".join(f"{m}: {b['design']} @ {b['precision']}, {b['latency_s'] * 1e3:.3f} ms"
                            for m, b in sw["fastest"].items())
        lines += [f"A grid sweep of the default accelerator, {sw['points']} points (`{sw['command']}`): "
                  f"**[explorer page](sweep/index.html)** (sortable, filterable table; latency–energy scatter with "
                  f"each model's Pareto front; hover a point for its parameters, click it for its per-layer report), "
                  f"[report](sweep/report.md), [sweep.csv](sweep/sweep.csv). Fastest — {fastest}.", "",
                  "![sweep](sweep/latency_energy.png)", ""]
    lines += ["## Timeline", "",
              "[trace.json](trace.json): the DES timeline of ResNet-18 at DyBit-4 (DMA bursts, compute tiles, "
              "write-backs, DRAM channels). Open it in https://ui.perfetto.dev or chrome://tracing.", "",
              "## Reproduce each piece", ""]
    lines += [f"- {k}: `{v}`" for k, v in summary["commands"].items()]
    path = out / "index.md"
    path.write_text("\n".join(lines) + "\n")
    return path
