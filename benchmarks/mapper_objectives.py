"""What each mapper objective buys: latency and energy of the ``energy`` and ``traffic`` mappings as ratios to
the default ``latency`` mapping, DES engine, measured in one run.

    python benchmarks/mapper_objectives.py [--models resnet18,resnet50,mobilenet_v2,bert_base]
                                           [--hw default,server] [--formats int8,dybit4] [--json FILE]

``latency`` (default): the fastest analytic latency, then within 0.5 % of it the least energy; ``energy``: the
least energy a tiling decides (SRAM, DRAM, decoder, leakage), then latency; ``traffic``: the fewest DRAM bytes.
Exit status 1 if the energy mapping ever spends more energy than the default (it minimises it per layer).
"""
from __future__ import annotations

import argparse
import json


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="resnet18,resnet50,mobilenet_v2,bert_base")
    ap.add_argument("--hw", default="default,server")
    ap.add_argument("--formats", default="int8,dybit4")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    from archsim import load_hw, simulate
    from workloads import load_workload

    rows, ok = [], True
    print(f"{'model':14s} {'hw':8s} {'format':7s} {'energy obj: latency':>20s} {'energy':>7s} "
          f"{'traffic obj: latency':>21s} {'energy':>7s}   (× the latency objective's, DES)")
    for model in args.models.split(","):
        g = load_workload(model)
        for hw_name in args.hw.split(","):
            hw = load_hw(hw_name)
            for fmt in args.formats.split(","):
                t = {o: simulate(g, hw, fmt, "des", objective=o).total for o in ("latency", "energy", "traffic")}
                r = {o: {"latency": t[o]["cycles"] / t["latency"]["cycles"],
                         "energy": t[o]["energy_j"] / t["latency"]["energy_j"]} for o in ("energy", "traffic")}
                ok &= r["energy"]["energy"] <= 1 + 1e-9
                rows.append({"model": model, "hw": hw_name, "format": fmt, **r})
                print(f"{model:14s} {hw_name:8s} {fmt:7s} {r['energy']['latency']:20.3f} {r['energy']['energy']:7.3f} "
                      f"{r['traffic']['latency']:21.3f} {r['traffic']['energy']:7.3f}")
    print(("PASS" if ok else "MISS") + "  the energy objective never spends more energy than the latency objective")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
