"""Running a sweep: every (model, design, precision) point through the search's ``Evaluator`` — in-process, a
local process pool or a Dask cluster — with each result committed to the SQLite ``EvalStore`` as it arrives.
A sweep killed at any moment (kill -9 included) loses at most the points in flight; run again with the same
database (``--resume``) it serves every stored point from it and evaluates only the rest.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np

from archsim.dse.grid import SweepGrid
from archsim.dse.point import LAYER_COLUMNS, SweepContext, evaluate_point, point_key
from archsim.errors import ArchsimError


@dataclass
class SweepResult:
    table: object  # pandas DataFrame: one row per (model, design, precision)
    keys: list  # the swept hardware keys (columns of the table)
    layers: dict = field(default_factory=dict)  # point key → per-layer rows (LAYER_COLUMNS)
    n_new: int = 0
    n_cached: int = 0
    seconds: float = 0.0
    engine: str = "analytic"

    def __repr__(self) -> str:
        return (f"SweepResult({len(self.table)} points over {', '.join(self.keys) or 'no hardware key'}; "
                f"{self.n_new} evaluated, {self.n_cached} from the store, {self.seconds:.1f} s)")


def check_workers(workers) -> None:
    from archsim.search.run import available_cpus

    if isinstance(workers, bool) or not isinstance(workers, int | np.integer) or workers < 0:
        raise ArchsimError(f"workers: must be an integer ≥ 0, got {workers!r}")
    if workers > available_cpus():
        raise ArchsimError(f"workers: at most the {available_cpus()} CPUs this process may use, got {workers}")


def load_graphs(models, input_shape=None, batch: int = 1) -> list:
    from workloads import load_workload

    return [load_workload(m, input_shape, batch=batch) for m in models]


def make_context(grid: SweepGrid, graphs, designs, *, engine: str, mapper_objective: str) -> SweepContext:
    from archsim.mapping import OBJECTIVES as MAPPER_OBJECTIVES
    from archsim.simulate import ENGINES

    if engine not in ENGINES:
        raise ArchsimError(f"engine: must be one of {', '.join(ENGINES)}, got {engine!r}")
    if mapper_objective not in MAPPER_OBJECTIVES:
        raise ArchsimError(f"mapper_objective: must be one of {', '.join(MAPPER_OBJECTIVES)}, got {mapper_objective!r}")
    return SweepContext(list(grid.models), [g.to_dict() for g in graphs], [hw.to_dict() for _, hw in designs],
                        list(grid.precisions), engine, mapper_objective)


def store_config() -> dict:
    """What a sweep database must agree on to be resumed: the points' keys carry everything else."""
    from archsim.simulate import COST_MODEL_VERSION

    return {"kind": "sweep", "cost_model": COST_MODEL_VERSION}


def run_sweep(grid: SweepGrid, graphs, designs, *, engine: str = "analytic", mapper_objective: str = "latency",
              store=None, workers: int = 0, dask: str | None = None, progress: bool = True) -> SweepResult:
    """Evaluate every point of ``grid`` (``designs`` = ``grid.designs()``, ``graphs`` one per model)."""
    import pandas as pd
    from tqdm import tqdm

    from archsim.search.evaluator import Evaluator

    t0 = time.perf_counter()
    check_workers(workers)
    ctx = make_context(grid, graphs, designs, engine=engine, mapper_objective=mapper_objective)
    X = [np.array([m, d, p], dtype=np.int64) for m in range(len(grid.models)) for d in range(len(designs))
         for p in range(len(grid.precisions))]
    keys = [point_key(ctx, x) for x in X]
    bar = tqdm(total=len(X), desc="sweep", unit="pt", file=sys.stderr, disable=not progress)
    evaluator = Evaluator(ctx, store, workers=workers, dask=dask, fn=evaluate_point, key=point_key,
                          on_record=lambda _r: bar.update(1))
    n_cached = len(set(keys) & set(evaluator.cache))
    bar.update(n_cached)
    try:
        results = evaluator(X)
    except BaseException:  # Ctrl-C included: drop queued work, do not wait for it
        bar.close()
        evaluator.close(wait=False)
        raise
    bar.close()
    evaluator.close()
    rows, layers = [], {}
    for x, key, res in zip(X, keys, results, strict=True):
        m, d, p = (int(v) for v in x)
        over = designs[d][0]
        rows.append({"model": grid.models[m], "precision": grid.precisions[p],
                     "design": ", ".join(f"{k}={v}" for k, v in over.items()) or "base",
                     **{k: over[k] for k in grid.axes}, **res["values"], "engine": engine, "key": key})
        layers[key] = res["layers"]
    table = pd.DataFrame(rows)
    return SweepResult(table, list(grid.axes), layers, n_new=evaluator.n_new, n_cached=n_cached,
                       seconds=time.perf_counter() - t0, engine=engine)


def layer_frame(result: SweepResult, key: str):
    """The per-layer table of one point (a row's ``key``) as a DataFrame."""
    import pandas as pd

    return pd.DataFrame(result.layers[key], columns=list(LAYER_COLUMNS))
