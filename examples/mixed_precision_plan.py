"""DSE example: a hand-written per-layer plan (first/last INT8, the rest DyBit-4) vs uniform plans, on
the Bit Fusion edge accelerator and the INT8 baseline array.

    python examples/mixed_precision_plan.py
"""
from archsim import simulate
from quant.plan import PrecisionPlan
from workloads import load_workload


def main():
    g = load_workload("mobilenet_v2")
    names = [d["name"] for d in g.compute_layers()]
    mixed = PrecisionPlan({n: "int8" if i in (0, len(names) - 1) else "dybit4" for i, n in enumerate(names)})
    results = {}
    for label, hw, plan in (("INT8 / int8_systolic", "int8_systolic", "int8"), ("INT8 / default", "default", "int8"),
                            ("DyBit-4 / default", "default", "dybit4"), ("mixed / default", "default", mixed)):
        r = simulate(g, hw, plan)
        results[label] = r
        print(f"{label:22s} {r.total['latency_s'] * 1e3:8.3f} ms {r.total['energy_j'] * 1e3:7.3f} mJ "
              f"util {r.total['utilization']:.1%}")
    return results


if __name__ == "__main__":
    main()
