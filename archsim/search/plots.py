"""Search plots: 2-D fronts, parallel coordinates of the front, hypervolume vs evaluations with baselines."""
from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np

from archsim.plots import pyplot, save_figure

UNITS = {"latency": ("latency", 1e3, "ms"), "energy": ("energy", 1e3, "mJ"), "area": ("area", 1.0, "mm²"),
         "error": ("error proxy", 1.0, "")}


def plot_search(result, out: Path) -> dict:
    plt = pyplot()
    files = {}
    objs = list(result.objectives)
    A = np.array([[a["values"][o] for o in objs] for a in result.archive]) if result.archive else np.zeros((0, 1))
    Fr = np.array([[f["values"][o] for o in objs] for f in result.front]) if result.front else np.zeros((0, 1))
    for i, j in list(combinations(range(len(objs)), 2))[:3]:
        fig, ax = plt.subplots(figsize=(5.5, 4.2))
        (ni, si, ui), (nj, sj, uj) = UNITS[objs[i]], UNITS[objs[j]]
        if len(A):
            ax.scatter(A[:, i] * si, A[:, j] * sj, s=6, c="0.75", label="evaluated")
        if len(Fr):
            order = np.argsort(Fr[:, i])
            ax.plot(Fr[order, i] * si, Fr[order, j] * sj, "o-", c="C3", ms=4, label="Pareto front")
        ax.set_xlabel(f"{ni} ({ui})" if ui else ni)
        ax.set_ylabel(f"{nj} ({uj})" if uj else nj)
        ax.set_title(f"{objs[i]} vs {objs[j]}")
        ax.legend(fontsize=8)
        files[f"front_{objs[i]}_{objs[j]}_png"] = save_figure(fig, out / f"front_{objs[i]}_{objs[j]}.png")
    if len(Fr) > 1 and len(objs) > 1:
        fig, ax = plt.subplots(figsize=(6, 4))
        lo, hi = Fr.min(0), Fr.max(0)
        Z = (Fr - lo) / np.where(hi > lo, hi - lo, 1)
        for row in Z:
            ax.plot(range(len(objs)), row, "-o", alpha=0.6, ms=3)
        ax.set_xticks(range(len(objs)), objs)
        ax.set_ylabel("normalised (0 = best on the front)")
        ax.set_title("Pareto front, parallel coordinates")
        files["parallel_png"] = save_figure(fig, out / "front_parallel.png")
    fig, ax = plt.subplots(figsize=(5.5, 4))
    if result.hv_history:
        h = np.array(result.hv_history)
        ax.plot(h[:, 0], h[:, 1], "-o", ms=3, label="NSGA" + ("-III" if len(objs) >= 3 else "-II"))
    for name, hist in result.baselines.items():
        if hist:
            h = np.array(hist)
            ax.plot(h[:, 0], h[:, 1], "-", label=f"{name} (same budget)")
    ax.set_xlabel("evaluations")
    ax.set_ylabel("hypervolume (normalised objectives)")
    ax.set_title("hypervolume vs evaluations")
    ax.legend(fontsize=8)
    files["hv_png"] = save_figure(fig, out / "hypervolume.png")
    return files
