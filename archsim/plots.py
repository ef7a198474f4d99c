"""Plots of a SimResult: per-layer latency (compute vs stall), energy breakdown, roofline."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend, imported on first use (importing archsim stays light)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> Path:
    """Lay out, write (110 dpi) and close ``fig``; returns ``path``."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    pyplot().close(fig)
    return path


def plot_result(res, out: Path) -> dict:
    plt = pyplot()
    files = {}
    layers = res.layers
    names = [r["name"] for r in layers]
    comp = np.array([min(r["compute_cycles"], r["cycles"]) for r in layers]) / (res.hw.clock_mhz * 1e3)
    stall = np.array([r["stall_cycles"] for r in layers]) / (res.hw.clock_mhz * 1e3)
    x = np.arange(len(layers))
    fig, ax = plt.subplots(figsize=(max(8, len(layers) * 0.22), 4))
    ax.bar(x, comp, label="compute", color="C0")
    ax.bar(x, stall, bottom=comp, label="stall (memory / decoder)", color="C3")
    ax.set_xticks(x, names, rotation=90, fontsize=6)
    ax.set_ylabel("latency (ms)")
    ax.set_title(f"{res.model} on {res.hw.name}: per-layer latency ({res.engine})")
    ax.legend()
    files["latency_png"] = save_figure(fig, out / "latency.png")

    comps = list(layers[0]["energy_pj"])
    fig, ax = plt.subplots(figsize=(max(8, len(layers) * 0.22), 4))
    bottom = np.zeros(len(layers))
    for i, c in enumerate(comps):
        v = np.array([r["energy_pj"][c] for r in layers]) * 1e-6
        ax.bar(x, v, bottom=bottom, label=c, color=f"C{i}")
        bottom += v
    ax.set_xticks(x, names, rotation=90, fontsize=6)
    ax.set_ylabel("energy (µJ)")
    ax.set_title("per-layer energy breakdown")
    ax.legend(fontsize=7, ncol=4)
    files["energy_png"] = save_figure(fig, out / "energy.png")

    # roofline at 8-bit peak: performance (MAC/cycle) vs operational intensity (MAC per DRAM byte)
    hw = res.hw
    arr = [r for r in layers if r["macs"]]
    oi = np.array([r["macs"] / max(r["dram_read_bytes"] + r["dram_write_bytes"], 1) for r in arr])
    perf = np.array([r["macs"] / max(r["cycles"], 1) for r in arr])
    fig, ax = plt.subplots(figsize=(6, 4.5))
    xs = np.logspace(np.log10(max(oi.min() / 2, 1e-2)), np.log10(oi.max() * 4), 100)
    for f, style in ((1, "-"), (4, "--"), (16, ":")):
        peak = hw.array.rows * hw.array.cols * (f if hw.array.kind != "fixed" else 1)
        ax.plot(xs, np.minimum(peak, xs * hw.dram_bytes_per_cycle), "k" + style, lw=1,
                label=f"roof, {peak} MAC/cycle" + (f" ({hw.array.kind} ×{f})" if hw.array.kind != "fixed" else ""))
        if hw.array.kind == "fixed":
            break
    ax.scatter(oi, perf, s=12, c="C0")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("operational intensity (MAC / DRAM byte)")
    ax.set_ylabel("attained MAC / cycle")
    ax.set_title(f"roofline: {res.model} on {hw.name}")
    ax.legend(fontsize=7)
    files["roofline_png"] = save_figure(fig, out / "roofline.png")
    return files
