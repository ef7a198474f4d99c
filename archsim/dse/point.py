"""One sweep point: (model, design, precision) → the row's figures and its per-layer table. Pure and picklable
(process pools, Dask workers), like the search's ``evaluate``: everything travels in ``SweepContext``.

A point is named by the hash of what determines its result — the model's layer graph, the design's whole
hardware description, the precision, the engine, the mapper objective — never by its position in the grid, so
a sweep resumed with more values (or in another order) recomputes nothing it has stored.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field

# per-layer columns kept for each point's report (what SimResult.to_markdown shows, in SI units)
LAYER_COLUMNS = ("name", "op", "w_format", "a_format", "macs", "latency_s", "energy_j", "utilization", "bound",
                 "dram_read_bytes", "dram_write_bytes", "dram_floor_bytes", "stall_cycles")


def digest(obj) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:20]


@dataclass
class SweepContext:
    models: list  # model names, as given
    graphs: list  # LayerGraph.to_dict() per model
    designs: list  # Accelerator.to_dict() per design
    precisions: list  # uniform precision specs
    engine: str = "analytic"
    mapper_objective: str = "latency"
    model_digests: list = field(default_factory=list)
    design_digests: list = field(default_factory=list)

    def __post_init__(self):
        self.model_digests = self.model_digests or [digest(g) for g in self.graphs]
        self.design_digests = self.design_digests or [digest(d) for d in self.designs]


def point_key(ctx: SweepContext, x) -> str:
    m, d, p = (int(v) for v in x)
    return digest([ctx.model_digests[m], ctx.design_digests[d], ctx.precisions[p], ctx.engine,
                   ctx.mapper_objective])


_CACHE: dict = {}


def _cached(kind: str, ctx_list: list, i: int, build):
    """``build(ctx_list[i])`` once per process (the entry keeps the list alive, so its id is not reused)."""
    entry = _CACHE.get((kind, id(ctx_list), i))
    if entry is None or entry[0] is not ctx_list:
        entry = _CACHE[(kind, id(ctx_list), i)] = (ctx_list, build(ctx_list[i]))
    return entry[1]


def evaluate_point(ctx: SweepContext, x) -> dict:
    from archsim.config import Accelerator
    from archsim.simulate import simulate
    from workloads.graph import LayerGraph

    t0 = time.perf_counter()
    m, d, p = (int(v) for v in x)
    graph = _cached("graph", ctx.graphs, m, LayerGraph.from_dict)
    hw = _cached("hw", ctx.designs, d, Accelerator)
    res = simulate(graph, hw, ctx.precisions[p], ctx.engine, objective=ctx.mapper_objective)
    return {"values": figures(res), "layers": [[rec[c] for c in LAYER_COLUMNS] for rec in res.layers],
            "seconds": time.perf_counter() - t0, "engine": ctx.engine}


def figures(res) -> dict:
    """A result's row: latency, energy by component, area, DRAM traffic and its floor, utilisation, throughput."""
    t = res.total
    dram = t["dram_read_bytes"] + t["dram_write_bytes"]
    macs_per_s = t["macs"] / t["latency_s"] if t["latency_s"] > 0 else 0.0
    row = {"latency_s": t["latency_s"], "cycles": float(t["cycles"]), "energy_j": t["energy_j"]}
    row.update({f"energy_{k}_j": v for k, v in t["energy_breakdown_j"].items()})
    row.update({"area_mm2": t["area_mm2"], "dram_read_bytes": t["dram_read_bytes"],
                "dram_write_bytes": t["dram_write_bytes"], "dram_bytes": dram,
                "dram_floor_bytes": t["dram_floor_bytes"],
                "dram_over_floor": dram / t["dram_floor_bytes"] if t["dram_floor_bytes"] else 0.0,
                "utilization": t["utilization"], "macs": t["macs"],
                "throughput_gmac_per_s": macs_per_s / 1e9,
                "throughput_gmac_per_s_per_mm2": macs_per_s / 1e9 / t["area_mm2"] if t["area_mm2"] else 0.0,
                "lower_bound_latency_s": t["lower_bound_cycles"] / (res.hw.clock_mhz * 1e6)})
    return row
