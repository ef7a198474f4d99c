"""A search's explorer page (``OUT/index.html``): every design the search evaluated, one row each, with its
objectives, hardware genes, mapping policy and formats; hovering shows its per-layer plan, and the designs on
the front (simulated again analytically here) open their per-layer report. Built on ``archsim.explorer``."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from archsim.explorer import Column, write_detail_page, write_explorer

_OBJ = {"latency": ("latency_s", "latency", "ms", 1e3), "energy": ("energy_j", "energy", "mJ", 1e3),
        "area": ("area_mm2", "area", "mm²", 1.0), "error": ("error", "error proxy", "", 1.0)}


def write_search_explorer(result, out_dir, *, space, graph=None, command: str | None = None) -> Path:
    """``result`` a SearchResult, ``space`` its SearchSpace; with ``graph`` (the searched LayerGraph) each front
    design gets a per-layer report (``points/HASH.html``)."""
    from archsim.search.space import genome_hash

    out = Path(out_dir)
    front = {f["hash"]: f for f in result.front}
    rows, plans, details, seen = [], [], [], set()
    for item in result.archive:
        h = genome_hash(item["genome"])
        if h in seen:
            continue
        seen.add(h)
        plan, hw = space.decode(item["genome"])
        counts = Counter(str(p) for _, p in plan.items())
        row = {"hash": h, "search_front": "yes" if h in front else "no",
               "feasible": "yes" if all(g <= 0 for g in item["G"]) else "no",
               "mapper": space.mapper_objective(item["genome"]) or "",
               "formats": ", ".join(f"{k}×{n}" for k, n in counts.most_common())}
        row.update({_OBJ[k][0]: v for k, v in item["values"].items()})
        d = hw.to_dict()
        for key in space.hw_genes:
            node = d
            for part in key.split("."):
                node = node[part]
            row[key] = node
        rows.append(row)
        plans.append("; ".join(f"{n}={p}" for n, p in plan.items()))
        details.append(_front_report(out, h, plan, hw, graph, row, front[h].get("mapper", "latency"), command)
                       if h in front and graph is not None else None)
    cols = [Column("search_front", "on the search's front", kind="text", hover=True), Column("feasible", kind="text")]
    cols += [Column(k, label, unit, scale, digits=5 if k == "error" else 4) for k, label, unit, scale in _OBJ.values()]
    for key, choices in space.hw_genes.items():
        numeric = all(isinstance(c, int | float) and not isinstance(c, bool) for c in choices)
        cols.append(Column(key, kind="num" if numeric else "text", hover=True))
    cols += [Column("mapper", kind="text", hover=bool(space.mapper_objectives)),
             Column("formats", kind="text", hover=True), Column("hash", kind="text")]
    return write_explorer(out / "index.html", rows, cols, x="latency_s", y="energy_j",
                          title=f"search: {len(rows)} designs evaluated, {len(front)} on the front over "
                                f"{', '.join(result.objectives)}",
                          command=command, details=details, plans=plans, row_label="hash")


def _front_report(out: Path, h: str, plan, hw, graph, row: dict, mapper: str, command) -> str:
    from archsim.dse.point import LAYER_COLUMNS
    from archsim.dse.report import LAYER_LABELS, layer_table
    from archsim.simulate import simulate

    res = simulate(graph, hw, plan, "analytic", objective=mapper)
    layers = [[rec[c] for c in LAYER_COLUMNS] for rec in res.layers]
    t = res.total
    facts = {"design": h, "hardware": repr(hw), "mapper": mapper, "formats": row["formats"],
             "latency": f"{t['latency_s'] * 1e3:.4g} ms", "energy": f"{t['energy_j'] * 1e3:.4g} mJ",
             "area": f"{t['area_mm2']:.3g} mm²", "error proxy": f"{row.get('error', float('nan')):.4g}"}
    href = f"points/{h}.html"
    write_detail_page(out / href, f"front design {h}", facts, LAYER_LABELS, layer_table(layers), command=command)
    return href
