"""DSE example: the same network on the same array under the three dataflows — weight-, output- and
input-stationary — at INT8 and DyBit-4, and what a per-layer choice of dataflow would buy. Writes a
Markdown report.

    python examples/dataflows.py [--models resnet18,mobilenet_v2,bert_base] [--hw default] [--out reports/dataflows.md]
"""
import argparse
from collections import Counter
from pathlib import Path

from archsim import load_hw, simulate
from workloads import load_workload

DATAFLOWS = ("ws", "os", "is")


def main(models=("resnet18", "mobilenet_v2", "bert_base"), hw_name="default", out="reports/dataflows.md",
         formats=("int8", "dybit4")):
    base = load_hw(hw_name)
    lines = [f"# Dataflows on `{hw_name}` ({base!r})", "",
             f"Regenerate: `python examples/dataflows.py --models {','.join(models)} --hw {hw_name}`. DES engine; "
             "'per-layer best' takes each array layer's fastest dataflow (what an array that can switch dataflow "
             "per layer would reach, ignoring the cost of that flexibility).", "",
             "| model | format | WS latency | OS latency | IS latency | per-layer best | WS energy | OS energy "
             "| IS energy | layers won WS / OS / IS |", "|---|---|---|---|---|---|---|---|---|---|"]
    rows, clock_hz = [], base.clock_mhz * 1e6
    for name in models:
        g = load_workload(name)
        for fmt in formats:
            res = {df: simulate(g, base.with_overrides({"array.dataflow": df}), fmt, "des") for df in DATAFLOWS}
            per_layer = zip(*(res[df].layers for df in DATAFLOWS), strict=True)
            best, wins = 0.0, Counter()
            for recs in per_layer:
                i = min(range(3), key=lambda k: recs[k]["cycles"])
                best += recs[i]["cycles"]
                if recs[0]["op"] in ("conv", "linear", "matmul"):
                    wins[DATAFLOWS[i]] += 1
            lat = {df: res[df].total["latency_s"] * 1e3 for df in DATAFLOWS}
            energy = {df: res[df].total["energy_j"] * 1e3 for df in DATAFLOWS}
            fastest = min(lat.values())
            rows.append({"model": name, "format": fmt, "latency_ms": lat, "energy_mj": energy,
                         "per_layer_best_ms": best / clock_hz * 1e3, "wins": dict(wins)})
            cells = [f"**{lat[df]:.3f} ms**" if lat[df] == fastest else f"{lat[df]:.3f} ms" for df in DATAFLOWS]
            lines.append(f"| {name} | {fmt} | " + " | ".join(cells) + f" | {best / clock_hz * 1e3:.3f} ms | "
                         + " | ".join(f"{energy[df]:.3f} mJ" for df in DATAFLOWS)
                         + f" | {wins['ws']} / {wins['os']} / {wins['is']} |")
            print(lines[-1])
    lines += ["", "Per-layer best sums each layer's DES time under its fastest dataflow (a network's DES time is "
              "the sum of its layers'); an array switching dataflow per layer would prefetch the next layer's "
              "weights under a different schedule, so this is an estimate, not a simulation."]
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")
    return rows


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="resnet18,mobilenet_v2,bert_base")
    ap.add_argument("--hw", default="default")
    ap.add_argument("--out", default="reports/dataflows.md")
    a = ap.parse_args()
    main(tuple(a.models.split(",")), a.hw, a.out)
