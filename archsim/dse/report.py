"""A sweep's files: the tidy table (``sweep.csv``, ``sweep.parquet``), the plots, the explorer page
(``index.html``) with one per-layer report per point (``points/KEY.html``), and ``report.md``."""
from __future__ import annotations

from pathlib import Path

from archsim.dse.plots import pareto_mask, plot_sweep
from archsim.dse.point import LAYER_COLUMNS
from archsim.explorer import Column, write_detail_page, write_explorer

_UNITS = {"latency_s": ("latency", "ms", 1e3), "energy_j": ("energy", "mJ", 1e3), "area_mm2": ("area", "mm²", 1.0),
          "dram_bytes": ("DRAM", "MB", 1e-6), "dram_floor_bytes": ("DRAM floor", "MB", 1e-6),
          "dram_over_floor": ("DRAM ÷ floor", "×", 1.0), "utilization": ("utilisation", "%", 100.0),
          "throughput_gmac_per_s": ("throughput", "GMAC/s", 1.0),
          "throughput_gmac_per_s_per_mm2": ("throughput/area", "GMAC/s/mm²", 1.0),
          "lower_bound_latency_s": ("latency floor", "ms", 1e3)}


def columns(result) -> list[Column]:
    """The explorer's columns: what was swept (shown on hover), then the figures in readable units."""
    df = result.table
    cols = [Column("model", kind="text", hover=True), Column("precision", kind="text", hover=True)]
    for k in result.keys:
        kind = "num" if df[k].dtype.kind in "if" else "text"
        cols.append(Column(k, kind=kind, hover=True))
    for k, (label, unit, scale) in _UNITS.items():
        cols.append(Column(k, label, unit, scale, better="higher" if k.startswith(("throughput", "utilization"))
                           else "lower"))
    for k in df.columns:
        if k.startswith("energy_") and k.endswith("_j") and k != "energy_j":
            cols.append(Column(k, f"E {k[7:-2]}", "µJ", 1e6, help=f"energy of {k[7:-2]}"))
    return cols + [Column("design", kind="text"), Column("key", kind="text", help="the point's hash in the store")]


LAYER_LABELS = ["layer", "op", "W", "A", "MACs", "latency (µs)", "energy (µJ)", "utilisation (%)", "bound",
                "DRAM read (kB)", "DRAM write (kB)", "DRAM floor (kB)", "stall cycles"]
_LAYER_SCALE = {"latency_s": 1e6, "energy_j": 1e6, "utilization": 100.0, "dram_read_bytes": 1e-3,
                "dram_write_bytes": 1e-3, "dram_floor_bytes": 1e-3, "stall_cycles": 1.0}


def layer_table(layers: list) -> list[list]:
    """Per-layer rows (LAYER_COLUMNS, SI units) in the units of LAYER_LABELS."""
    return [[(float(v) * _LAYER_SCALE[c] if c in _LAYER_SCALE else v) for c, v in zip(LAYER_COLUMNS, rec, strict=True)]
            for rec in layers]


def write_points(result, out: Path, command: str | None) -> list[str]:
    """One per-layer report per point; returns each row's address relative to ``out``."""
    hrefs = []
    for row in result.table.itertuples(index=False):
        r = row._asdict()
        layers = result.layers[r["key"]]
        table = layer_table(layers)
        facts = {"model": r["model"], "precision": r["precision"], "design": r["design"],
                 "engine": result.engine,
                 "latency": f"{r['latency_s'] * 1e3:.4g} ms (floor {r['lower_bound_latency_s'] * 1e3:.4g} ms)",
                 "energy": f"{r['energy_j'] * 1e3:.4g} mJ", "area": f"{r['area_mm2']:.3g} mm²",
                 "DRAM": f"{r['dram_bytes'] / 1e6:.4g} MB (floor {r['dram_floor_bytes'] / 1e6:.4g} MB)",
                 "utilisation": f"{r['utilization']:.1%}", "layers": len(layers)}
        href = f"points/{r['key']}.html"
        write_detail_page(out / href, f"{r['model']} · {r['precision']} · {r['design']}", facts, LAYER_LABELS, table,
                          command=command)
        hrefs.append(href)
    return hrefs


def write_outputs(result, out_dir, *, command: str | None = None) -> dict:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    df = result.table
    files = {"csv": out / "sweep.csv", "parquet": out / "sweep.parquet"}
    df.to_csv(files["csv"], index=False, float_format="%.7g")
    df.to_parquet(files["parquet"], index=False)
    files.update(plot_sweep(df, result.keys, out))
    hrefs = write_points(result, out, command)
    rows = df.to_dict("records")
    files["html"] = write_explorer(
        out / "index.html", rows, columns(result), x="latency_s", y="energy_j",
        color="model" if df["model"].nunique() > 1 else "precision",
        title=f"sweep: {', '.join(dict.fromkeys(df['model']))} × {len(df) // max(df['model'].nunique(), 1)} "
              f"designs·precisions ({result.engine})",
        command=command, details=hrefs, plans=list(df["precision"]), row_label="design")
    files["md"] = write_markdown(result, out, command)
    return files


def write_markdown(result, out: Path, command: str | None) -> Path:
    df = result.table
    lines = ["# Sweep", ""]
    if command:
        lines += [f"Regenerate: `{command}`", ""]
    lines += [f"{len(df)} points: {df['model'].nunique()} model(s) × {df['design'].nunique()} design(s) × "
              f"{df['precision'].nunique()} precision(s), {result.engine} engine; swept "
              f"{', '.join(f'`{k}`' for k in result.keys) or 'no hardware key'}. Table: [sweep.csv](sweep.csv), "
              "[sweep.parquet](sweep.parquet); explorer (sort, filter, hover, per-layer reports): "
              "[index.html](index.html).", "",
              "| model | fastest design | latency (floor) | lowest-energy design | energy | latency–energy front | "
              "best GMAC/s/mm² |", "|---|---|---|---|---|---|---|"]
    for model, s in df.groupby("model", sort=False):
        f, e = s.loc[s["latency_s"].idxmin()], s.loc[s["energy_j"].idxmin()]
        t = s.loc[s["throughput_gmac_per_s_per_mm2"].idxmax()]
        lines.append(f"| {model} | {f['design']} @ {f['precision']} | {f['latency_s'] * 1e3:.4g} ms "
                     f"({f['lower_bound_latency_s'] * 1e3:.4g} ms) | {e['design']} @ {e['precision']} | "
                     f"{e['energy_j'] * 1e3:.4g} mJ | {int(pareto_mask(s['latency_s'], s['energy_j']).sum())} "
                     f"points | {t['throughput_gmac_per_s_per_mm2']:.4g} ({t['design']} @ {t['precision']}) |")
    lines += ["", "![latency–energy](latency_energy.png)", "", "![throughput per area](throughput_per_area.png)", ""]
    lines += [f"![metrics vs {k}](metrics_vs_{k}.png)" for k in result.keys]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
