"""How far the closed-form analytic engine is from the DES, over random designs, measured in one run.

    python benchmarks/des_vs_analytic.py [--per-model 34] [--seed 0] [--json FILE]

Designs: ``archsim.search.space.random_designs`` on LeNet-5, the Fashion-MNIST CNN and the Fashion-MNIST
ResNet (random per-layer formats among 10, random hardware genes, DRAM channels 1–8, access latency 0–400 ns,
single or double buffers). Prints the distribution of DES cycles / analytic cycles, the designs furthest
apart, and the time each engine took (the analytic engine is what the co-search evaluates; the DES is what
it checks the front with). Then, for each design and each of six resource increases (2× DRAM bus, DRAM
latency 0, 2× decoders, 2× each buffer), whether the DES got slower: the mapper picks tilings by the analytic
latency, so more of a resource can pick a tiling the DES runs slower.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
from tqdm import tqdm

from archsim import simulate
from archsim.search.space import more_resources, random_designs
from workloads import load_workload

MODELS = ("lenet5", "fashion_cnn", "fashion_resnet")


def more_resource_slower(designs, rows) -> tuple[list, int]:
    """(relative DES slow-down, resource key, model) of every design that got slower with more resource, and
    how many (design, resource) pairs were tried."""
    slower, pairs = [], 0
    for (name, g, plan, hw), row in tqdm(list(zip(designs, rows, strict=True)), desc="more resource", unit="design"):
        for key, value in more_resources(hw).items():
            pairs += 1
            cycles = simulate(g, hw.with_overrides({key: value}), plan, "des").total["cycles"]
            if cycles > row["des_cycles"]:
                slower.append((cycles / row["des_cycles"] - 1, key, name))
    return sorted(slower, reverse=True), pairs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-model", type=int, default=34)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    if args.per_model < 1:
        ap.error(f"--per-model: must be a positive integer, got {args.per_model}")

    rng = np.random.default_rng(args.seed)
    rows, t_des, t_ana = [], 0.0, 0.0
    designs = [(name, g, plan, hw) for name in MODELS for g in [load_workload(name)]
               for plan, hw in random_designs(g, args.per_model, rng)]
    for name, g, plan, hw in tqdm(designs, desc="designs", unit="design"):
        t0 = time.perf_counter()
        ana = simulate(g, hw, plan, "analytic").total
        t1 = time.perf_counter()
        des = simulate(g, hw, plan, "des").total
        t2 = time.perf_counter()
        t_ana, t_des = t_ana + t1 - t0, t_des + t2 - t1
        d = hw.to_dict()
        dram = (f"{d['dram']['channels']} ch, {d['dram']['latency_ns']:g} ns, buffers W/I/O "
                + "/".join("double" if d["buffers"][b]["double_buffered"] else "single"
                           for b in ("weight", "input", "output")))
        rows.append({"model": name, "hw": f"{hw!r}, {dram}", "plan": str(plan), "des_cycles": des["cycles"],
                     "analytic_cycles": ana["cycles"], "ratio": des["cycles"] / ana["cycles"],
                     "within_bounds": des["lower_bound_cycles"] <= des["cycles"] <= des["serial_bound_cycles"]})
    r = np.array([row["ratio"] for row in rows])
    dev = np.abs(1 - r)
    summary = {"designs": len(rows), "mean_abs_deviation": float(dev.mean()), "median_ratio": float(np.median(r)),
               "p90_abs_deviation": float(np.quantile(dev, 0.9)), "max_abs_deviation": float(dev.max()),
               "des_over_analytic_time": t_des / t_ana, "all_within_bounds": all(x["within_bounds"] for x in rows)}
    print(f"{len(rows)} random designs on {', '.join(MODELS)}: DES cycles / analytic cycles")
    print(f"  mean |1 − ratio| {summary['mean_abs_deviation']:.3f}, median ratio {summary['median_ratio']:.3f}, "
          f"90th percentile |1 − ratio| {summary['p90_abs_deviation']:.3f}, max {summary['max_abs_deviation']:.3f}")
    print(f"  ratio range {r.min():.3f}–{r.max():.3f}; DES within its lower/serialised bounds in "
          f"{sum(x['within_bounds'] for x in rows)}/{len(rows)}")
    print("  furthest apart:")
    for i in np.argsort(-dev)[:3]:
        x = rows[i]
        print(f"    {x['ratio']:.3f}  {x['model']}, {x['hw']}")
    print(f"time: DES {t_des:.1f} s, analytic {t_ana:.1f} s over all designs "
          f"(DES {summary['des_over_analytic_time']:.1f}× the analytic engine)")
    slower, pairs = more_resource_slower(designs, rows)
    summary["more_resource_pairs"] = pairs
    summary["more_resource_des_slower"] = len(slower)
    summary["more_resource_bus_slower"] = sum(key == "dram.bus_bits" for _, key, _ in slower)
    print(f"more of a resource, DES slower in {len(slower)} of {pairs} (design, resource) pairs "
          f"({len(slower) / pairs:.1%}; {sum(r < 0.01 for r, _, _ in slower)} of them by < 1 %), "
          f"wider DRAM bus in {summary['more_resource_bus_slower']}; worst: "
          + ", ".join(f"+{r:.1%} ({key}, {model})" for r, key, model in slower[:3]))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"summary": summary, "designs": rows, "more_resource_slower": slower}, fh, indent=1)
    return 0 if summary["all_within_bounds"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
