"""DSE example: sweep the weight-buffer size and the array shape for ResNet-18 at DyBit-4; plot latency/energy.

    python examples/sweep_buffers.py [--out sweep.png]
"""
import argparse

from archsim import load_hw, simulate
from workloads import load_workload


def main(out="sweep.png"):
    g = load_workload("resnet18")
    rows = []
    for shape in ((16, 32), (32, 32), (32, 64)):
        for kib in (16, 32, 64, 128):
            hw = load_hw("default").with_overrides({"array.rows": shape[0], "array.cols": shape[1],
                                                    "buffers.weight.kib": kib})
            r = simulate(g, hw, "dybit4", engine="analytic")
            rows.append((shape, kib, r.total["latency_s"] * 1e3, r.total["energy_j"] * 1e3, r.total["area_mm2"]))
            _, _, lat, en, area = rows[-1]
            print(f"{shape[0]}x{shape[1]} W{kib:>3} KiB: {lat:.3f} ms {en:.3f} mJ {area:.2f} mm²")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for shape in sorted({r[0] for r in rows}):
        pts = [r for r in rows if r[0] == shape]
        ax.plot([p[2] for p in pts], [p[3] for p in pts], "o-", label=f"{shape[0]}×{shape[1]}")
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("energy (mJ)")
    ax.legend(title="array (points: 16→128 KiB weights)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    return rows


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="sweep.png")
    main(ap.parse_args().out)
