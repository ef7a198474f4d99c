"""A sweep's figures: each metric against each swept key (faceted by precision, one line per model), the
latency–energy scatter with each model's Pareto front marked, and area-normalised throughput."""
from __future__ import annotations

from pathlib import Path

import numpy as np

# (column, label, display scale)
METRICS = (("latency_s", "latency (ms)", 1e3), ("energy_j", "energy (mJ)", 1e3),
           ("dram_bytes", "DRAM traffic (MB)", 1e-6), ("utilization", "utilisation (%)", 100.0))


def pareto_mask(x, y) -> np.ndarray:
    """Rows not dominated in (x, y), both minimised: sorted by x (then y), a row is on the front when its y is
    below every y before it."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    order = np.lexsort((y, x))
    best = np.minimum.accumulate(y[order])
    on = np.empty(len(x), bool)
    on[order] = np.r_[True, y[order][1:] < best[:-1]] if len(x) else []
    return on


def _plain_log(ax, which: str = "xy") -> None:
    """Log axes labelled 1, 2, 5, 10, 20 … (matplotlib's default is 2×10⁰-style text on minor ticks)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    for name in which:
        axis = ax.xaxis if name == "x" else ax.yaxis
        if (ax.get_xscale() if name == "x" else ax.get_yscale()) != "log":
            continue
        axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}"))
        axis.set_minor_formatter(NullFormatter())


def _numeric(values) -> bool:
    return all(isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool) for v in values)


def plot_metric_vs_key(df, key: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    precs = list(dict.fromkeys(df["precision"]))
    models = list(dict.fromkeys(df["model"]))
    values = list(dict.fromkeys(df[key]))
    numeric = _numeric(values)
    order = sorted(values) if numeric else values
    pos = {v: (v if numeric else i) for i, v in enumerate(order)}
    fig, axes = plt.subplots(len(METRICS), len(precs), figsize=(3.2 * len(precs) + 1, 2.2 * len(METRICS)),
                             squeeze=False, sharex=True)
    for j, prec in enumerate(precs):
        sub = df[df["precision"] == prec]
        for i, (col, label, scale) in enumerate(METRICS):
            ax = axes[i][j]
            for k, model in enumerate(models):
                s = sub[sub["model"] == model]
                xs = np.array([pos[v] for v in s[key]], float)
                ax.plot(xs, s[col] * scale, ".", ms=2.5, alpha=0.35, color=f"C{k}")
                med = s.groupby(key)[col].median()
                ax.plot([pos[v] for v in order if v in med.index], [med[v] * scale for v in order if v in med.index],
                        "-o", ms=3, color=f"C{k}", label=model if (i, j) == (0, 0) else None)
            if col in ("latency_s", "energy_j", "dram_bytes"):
                ax.set_yscale("log")
                _plain_log(ax, "y")
            if numeric and min(order) > 0 and max(order) / min(order) >= 8:
                ax.set_xscale("log", base=2)
            if not numeric:
                ax.set_xticks(range(len(order)), [str(v) for v in order])
            if i == 0:
                ax.set_title(f"precision {prec}", fontsize=9)
            if j == 0:
                ax.set_ylabel(label, fontsize=8)
            if i == len(METRICS) - 1:
                ax.set_xlabel(key, fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
    fig.legend(loc="upper center", ncol=min(len(models), 6), fontsize=8, frameon=False, bbox_to_anchor=(0.5, 0.975))
    fig.suptitle(f"each metric against {key} (dots: every design; line: median over the other keys)", fontsize=9,
                 y=0.998)
    # fixed margins: tight_layout costs more than drawing (seconds per figure)
    fig.subplots_adjust(left=0.09, right=0.98, bottom=0.07, top=0.9, wspace=0.3, hspace=0.15)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _facets(n: int):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ncol = min(n, 2)
    nrow = -(-n // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(5.2 * ncol, 3.8 * nrow), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return plt, fig, axes.flat


def plot_latency_energy(df, path: Path) -> Path:
    models = list(dict.fromkeys(df["model"]))
    precs = list(dict.fromkeys(df["precision"]))
    plt, fig, axes = _facets(len(models))
    markers = "osD^v<>p*h"
    for ax, model in zip(axes, models, strict=False):
        s = df[df["model"] == model]
        on = pareto_mask(s["latency_s"], s["energy_j"])
        for k, prec in enumerate(precs):
            m = (s["precision"] == prec).to_numpy()
            ax.scatter(s["latency_s"][m] * 1e3, s["energy_j"][m] * 1e3, s=14, alpha=0.5, color=f"C{k}",
                       marker=markers[k % len(markers)], label=prec)
        f = s[on].sort_values("latency_s")
        ax.step(f["latency_s"] * 1e3, f["energy_j"] * 1e3, where="post", color="k", lw=1, ls="--",
                label=f"Pareto front ({len(f)})")
        ax.scatter(f["latency_s"] * 1e3, f["energy_j"] * 1e3, s=30, facecolors="none", edgecolors="k", lw=1)
        ax.set(xscale="log", yscale="log", xlabel="latency (ms)", ylabel="energy (mJ)", title=model)
        _plain_log(ax)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.08, top=0.95, wspace=0.3, hspace=0.35)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_throughput_per_area(df, path: Path) -> Path:
    models = list(dict.fromkeys(df["model"]))
    precs = list(dict.fromkeys(df["precision"]))
    plt, fig, axes = _facets(len(models))
    for ax, model in zip(axes, models, strict=False):
        s = df[df["model"] == model]
        for k, prec in enumerate(precs):
            m = s[s["precision"] == prec]
            ax.scatter(m["area_mm2"], m["throughput_gmac_per_s_per_mm2"], s=14, alpha=0.6, color=f"C{k}", label=prec)
        best = s.loc[s["throughput_gmac_per_s_per_mm2"].idxmax()]
        ax.annotate(best["design"], (best["area_mm2"], best["throughput_gmac_per_s_per_mm2"]), fontsize=6,
                    xytext=(4, -10), textcoords="offset points")
        ax.set(xlabel="area (mm²)", ylabel="throughput per area (GMAC/s/mm²)", title=model)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.08, top=0.95, wspace=0.3, hspace=0.35)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_sweep(df, keys, out: Path) -> dict:
    out = Path(out)
    files = {f"metrics_vs_{k}": plot_metric_vs_key(df, k, out / f"metrics_vs_{k}.png") for k in keys}
    files["latency_energy"] = plot_latency_energy(df, out / "latency_energy.png")
    files["throughput_per_area"] = plot_throughput_per_area(df, out / "throughput_per_area.png")
    return files
