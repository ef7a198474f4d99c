"""One design evaluation: genome → (objectives, constraint values). Pure and picklable (process pools,
Dask workers): everything it needs travels in ``EvalContext``.

Error proxy: the HAWQ-style additive sum over layers of the output-perturbation table
(``quant.sensitivity``): a layer with weight format w and activation format a contributes
(S[l][w] + S[l][a]) / 2. Layers absent from the table (act × act matmuls) contribute the quantisation
noise power of their activation format, 4^(−bits), scaled by the table's median entry at 8 bits.
Without a table every layer uses that noise-power rule weighted by its share of MACs.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

OBJECTIVES = ("latency", "energy", "area", "error")


@dataclass
class EvalContext:
    graph: dict  # LayerGraph.to_dict()
    space: object  # SearchSpace
    sensitivity: dict | None
    objectives: tuple
    max_error: float | None = None
    max_area_mm2: float | None = None
    latency_target_s: float | None = None
    engine: str = "analytic"
    # how each design's layers are mapped (archsim.mapping.OBJECTIVES), unless the space has a mapping gene
    mapper_objective: str = "latency"

    def __post_init__(self):
        from archsim.errors import ArchsimError

        self.objectives = tuple(self.objectives)
        for o in self.objectives:
            if o not in OBJECTIVES:
                raise ArchsimError(f"objective {o!r} is not one of {', '.join(OBJECTIVES)}")
        if not 1 <= len(self.objectives) <= 4 or len(set(self.objectives)) != len(self.objectives):
            raise ArchsimError(f"objectives: choose 1 to 4 distinct of {', '.join(OBJECTIVES)}, "
                               f"got {', '.join(self.objectives) or 'none'}")
        # an error proxy is ≥ 0 and an area or a latency > 0: another bound leaves no design feasible
        for name, value, low_ok in (("max_error", self.max_error, True), ("max_area_mm2", self.max_area_mm2, False),
                                    ("latency_target_s", self.latency_target_s, False)):
            if value is None:
                continue
            v = float(value)
            if not (np.isfinite(v) and (v >= 0 if low_ok else v > 0)):
                raise ArchsimError(f"{name}: must be a finite number {'≥' if low_ok else '>'} 0, got {value}")
        from archsim.simulate import ENGINES

        if self.engine not in ENGINES:
            raise ArchsimError(f"engine: must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        from archsim.mapping import OBJECTIVES as MAPPER_OBJECTIVES

        if self.mapper_objective not in MAPPER_OBJECTIVES:
            raise ArchsimError(f"mapper_objective: must be one of {', '.join(MAPPER_OBJECTIVES)}, "
                               f"got {self.mapper_objective!r}")

    def mapper_for(self, x) -> str:
        """The mapper objective that maps design ``x``: its gene when the space has one, else the context's."""
        return self.space.mapper_objective(x) or self.mapper_objective


_GRAPH_CACHE: dict = {}


def _graph(ctx: EvalContext):
    """The LayerGraph of ``ctx.graph``, built once per process. The entry keeps the dict alive, so its id
    cannot be reused by another context's graph while the entry exists (a bare id key could be)."""
    from workloads.graph import LayerGraph

    entry = _GRAPH_CACHE.get(id(ctx.graph))
    if entry is None or entry[0] is not ctx.graph:
        entry = _GRAPH_CACHE[id(ctx.graph)] = (ctx.graph, LayerGraph.from_dict(ctx.graph))
    return entry[1]


def error_proxy(plan, graph, sensitivity: dict | None) -> float:
    from quant.formats import get_format

    total = 0.0
    macs = {d["name"]: d["macs"] for d in graph.compute_layers()}
    all_macs = sum(macs.values()) or 1
    base8 = None
    if sensitivity:
        vals = [v.get("int8") for v in sensitivity.values() if "int8" in v]
        base8 = float(np.median(vals)) if vals else None
    for name, p in plan.items():
        s = sensitivity.get(name) if sensitivity else None
        if s is not None and p.weight in s and p.activation in s:
            total += 0.5 * (s[p.weight] + s[p.activation])
        else:
            bits = min(get_format(p.weight).bits, get_format(p.activation).bits)
            noise = 4.0 ** -(bits - 8)  # relative to 8 bits
            total += (base8 * noise) if base8 is not None else noise * 4.0**-8 * macs.get(name, 0) / all_macs
    return float(total)


def evaluate(ctx: EvalContext, x) -> dict:
    from archsim.simulate import simulate

    t0 = time.perf_counter()
    plan, hw = ctx.space.decode(x)
    graph = _graph(ctx)
    res = simulate(graph, hw, plan, ctx.engine, objective=ctx.mapper_for(x))
    values = {"latency": res.total["latency_s"], "energy": res.total["energy_j"], "area": res.total["area_mm2"],
              "error": error_proxy(plan, graph, ctx.sensitivity)}
    cons = {}
    if ctx.max_error is not None:
        cons["error"] = values["error"] - ctx.max_error
    if ctx.max_area_mm2 is not None:
        cons["area"] = values["area"] - ctx.max_area_mm2
    if ctx.latency_target_s is not None:
        cons["latency"] = values["latency"] - ctx.latency_target_s
    return {"values": values, "F": [values[o] for o in ctx.objectives], "G": list(cons.values()),
            "constraints": cons, "seconds": time.perf_counter() - t0, "engine": ctx.engine,
            "cycles": res.total["cycles"]}
