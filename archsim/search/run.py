"""The co-search: pymoo NSGA-II (≤ 2 objectives) / NSGA-III (≥ 3) over per-layer formats and hardware.

Evaluations go through ``archsim.search.evaluator.Evaluator`` (store-backed cache; in-process, process pool
or Dask); the baselines are in ``archsim.search.baselines``. The GA is deterministic for a seed and never
sees timing, so an interrupted search resumed from its database replays the same generations, every known
genome is served from the store, and it reaches the same front.
"""
from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from archsim.errors import ArchsimError
from archsim.search.baselines import Hypervolume, greedy_lowering, random_search
from archsim.search.evaluate import EvalContext
from archsim.search.evaluator import Evaluator
from archsim.search.space import SearchSpace, genome_hash
from archsim.search.store import EvalStore


def _pareto(F: np.ndarray) -> np.ndarray:
    """Indices of the non-dominated rows (minimisation)."""
    n = len(F)
    keep = np.ones(n, bool)
    for i in range(n):
        if keep[i]:
            dominated = np.all(F[i] <= F, axis=1) & np.any(F[i] < F, axis=1)
            keep &= ~dominated
    return np.nonzero(keep)[0]


@dataclass
class SearchResult:
    objectives: tuple
    front: list[dict]  # genome, values, plan, hw, (DES values)
    hv_history: list[tuple]  # (n_evals, hv)
    baselines: dict = field(default_factory=dict)  # name → hv history
    n_evals: int = 0
    n_cached: int = 0
    seconds: float = 0.0
    archive: list[dict] = field(default_factory=list)
    ref: dict = field(default_factory=dict)
    closest: dict | None = None  # when nothing met the constraints: the evaluated design nearest to them

    def to_dict(self, *, timing: bool = False) -> dict:
        """The result as JSON-ready data; wall-clock seconds only with ``timing`` (files written from it are
        then byte-identical for the same seed)."""
        d = {"objectives": list(self.objectives), "front": self.front, "hv_history": self.hv_history,
             "baselines": self.baselines, "n_evals": self.n_evals, "n_cached": self.n_cached,
             "normalisation": self.ref, "closest_infeasible": self.closest}
        return {**d, "seconds": self.seconds} if timing else d

    def __repr__(self) -> str:
        return (f"SearchResult({len(self.front)} designs on the front over {', '.join(self.objectives)}; "
                f"{self.n_evals} new evaluations, {self.n_cached} from the store, {self.seconds:.1f} s)")


def _closest_infeasible(archive: list, ctx: EvalContext) -> dict | None:
    """The design whose constraint violations, each relative to its bound, sum to the least."""
    bounds = {"error": ctx.max_error, "area": ctx.max_area_mm2, "latency": ctx.latency_target_s}
    best, best_score = None, np.inf
    for x, r in archive:
        score = sum(max(v, 0.0) / max(abs(bounds[k]), 1e-30) for k, v in r["constraints"].items())
        if score < best_score:
            best, best_score = (x, r), score
    if best is None:
        return None
    x, r = best
    return {"genome": [int(v) for v in x], "hash": genome_hash(x), "values": r["values"],
            "violated": {k: {"value": r["values"][k], "bound": bounds[k]}
                         for k, v in r["constraints"].items() if v > 0}}


def make_problem(space: SearchSpace, evaluator: Evaluator, n_obj: int, n_constr: int, archive: list):
    from pymoo.core.problem import Problem

    class CoDesignProblem(Problem):
        def __init__(self):
            super().__init__(n_var=space.n_var, n_obj=n_obj, n_ieq_constr=n_constr, xl=0, xu=space.upper,
                             vtype=int)

        def _evaluate(self, X, out, *args, **kwargs):
            X = np.array([space.repair(x) for x in X])
            res = evaluator(X)
            for x, r in zip(X, res, strict=True):
                archive.append((x, r))
            out["F"] = np.array([r["F"] for r in res], dtype=float)
            if n_constr:
                out["G"] = np.array([r["G"] for r in res], dtype=float)

    return CoDesignProblem()


class _ResetMutation:
    """Random-reset mutation for categorical genes: each gene is redrawn with probability ``rate``."""

    @staticmethod
    def make(space: SearchSpace, seed: int, rate: float | None = None):
        from pymoo.core.mutation import Mutation

        rng = np.random.default_rng(seed + 20_000)  # own stream: the run stays deterministic for a seed

        class ResetMutation(Mutation):
            def _do(self, problem, X, **kwargs):
                X = np.asarray(X, dtype=np.int64).copy()
                p = rate if rate is not None else min(1.0, 2.0 / space.n_var)
                mask = rng.random(X.shape) < p
                draws = rng.integers(0, space.upper + 1, size=X.shape)
                X[mask] = draws[mask]
                return X

        return ResetMutation()


def seed_population(space: SearchSpace, pop: int, seed: int) -> np.ndarray:
    """Uniform INT8 and uniform 4-bit designs on the base hardware (and every other uniform candidate
    format), the rest random."""
    rng = np.random.default_rng(seed)
    seeds = []
    shared = [f for f in space.weight_formats if f in space.act_formats]
    for spec in ["int8", "dybit4", "int4", "e2m1", "dybit4c2"] + shared:
        try:
            g = space.genome(spec)
        except ArchsimError:
            continue
        if not any(np.array_equal(g, s) for s in seeds):
            seeds.append(g)
    X = rng.integers(0, space.upper + 1, size=(pop, space.n_var))
    X[: len(seeds)] = seeds[:pop]
    return X


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask, which containers and ``taskset`` narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def check_run_args(*, generations: int, pop: int, seed: int, workers: int = 0) -> None:
    """The run parameters of ``run_search``, checked before anything is evaluated or stored. Worker processes
    are bounded by the CPUs available: more only multiplies memory (each holds the model and its mappings)
    without speed."""
    for name, value, low in (("generations", generations, 1), ("pop", pop, 2), ("seed", seed, 0),
                             ("workers", workers, 0)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
            raise ArchsimError(f"{name}: must be an integer ≥ {low}, got {value!r}")
    if workers > available_cpus():
        raise ArchsimError(f"workers: at most the {available_cpus()} CPUs this process may use, got {workers}")


def run_search(ctx: EvalContext, *, generations: int = 10, pop: int = 24, seed: int = 0, store: EvalStore | None = None,
               workers: int = 0, dask: str | None = None, baselines: bool = True, des_front: bool = True,
               progress: bool = True) -> SearchResult:
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.algorithms.moo.nsga3 import NSGA3
    from pymoo.optimize import minimize
    from pymoo.util.ref_dirs import get_reference_directions
    from tqdm import tqdm

    check_run_args(generations=generations, pop=pop, seed=seed, workers=workers)
    t0 = time.perf_counter()
    space = ctx.space
    evaluator = Evaluator(ctx, store, workers=workers, dask=dask)
    n_cached_start = len(evaluator.cache)
    archive: list = []
    n_obj = len(ctx.objectives)
    n_constr = sum(v is not None for v in (ctx.max_error, ctx.max_area_mm2, ctx.latency_target_s))
    problem = make_problem(space, evaluator, n_obj, n_constr, archive)
    X0 = seed_population(space, pop, seed)
    from pymoo.operators.crossover.ux import UX

    # genes are categorical (format / hardware choice indices): uniform crossover and random-reset mutation
    ops = dict(sampling=X0, crossover=UX(prob=0.9), mutation=_ResetMutation.make(space, seed),
               eliminate_duplicates=True)
    if n_obj >= 3:
        ref_dirs = get_reference_directions("das-dennis", n_obj, n_partitions=4 if n_obj == 3 else 3)
        if pop < len(ref_dirs):  # NSGA-III needs a population at least as large as its reference directions
            print(f"search: population raised from {pop} to {len(ref_dirs)}, NSGA-III's reference directions "
                  f"for {n_obj} objectives", file=sys.stderr)
            pop = len(ref_dirs)
            X0 = seed_population(space, pop, seed)
            ops["sampling"] = X0
        algo = NSGA3(ref_dirs=ref_dirs, pop_size=pop, **ops)
    else:
        algo = NSGA2(pop_size=pop, **ops)
    hv_hist: list = []
    state = {}
    bar = tqdm(total=generations, desc="search", file=sys.stderr, disable=not progress)

    def callback(algorithm):
        F = np.array([r["F"] for _, r in archive])
        feas = np.array([all(g <= 0 for g in r["G"]) for _, r in archive])
        if "hv" not in state:
            state["hv"] = Hypervolume(F)
        hv = state["hv"](F, feas)
        hv_hist.append((len(archive), hv))
        if store is not None:
            store.add_generation(algorithm.n_gen, len(archive), hv, [])
        el = time.perf_counter() - t0
        bar.update(1)
        bar.set_postfix(evals=len(archive), new=evaluator.n_new, evals_per_s=f"{evaluator.n_new / max(el, 1e-9):.1f}",
                        hv=f"{hv:.4f}")

    try:
        minimize(problem, algo, ("n_gen", generations), seed=seed, callback=callback, verbose=False)
    except BaseException:  # Ctrl-C included: drop queued work, do not wait for it
        bar.close()
        evaluator.close(wait=False)
        raise
    bar.close()
    evaluator.close()
    F = np.array([r["F"] for _, r in archive])
    feas = np.array([all(g <= 0 for g in r["G"]) for _, r in archive])
    seen, uniq = set(), []
    for i, (x, _r) in enumerate(archive):
        h = genome_hash(x)
        if feas[i] and h not in seen:
            seen.add(h)
            uniq.append(i)
    front_idx = [uniq[j] for j in _pareto(F[uniq])] if uniq else []
    front = []
    graph = None
    for i in sorted(front_idx, key=lambda i: tuple(F[i])):
        x, r = archive[i]
        plan, hw = space.decode(x)
        mapper = ctx.mapper_for(x)
        item = {"genome": [int(v) for v in x], "hash": genome_hash(x), "values": r["values"],
                "plan": {n: str(p) for n, p in plan.items()}, "hw": _hw_summary(hw, space), "mapper": mapper}
        if des_front:
            from archsim.search.evaluate import _graph
            from archsim.simulate import simulate

            graph = graph or _graph(ctx)
            des = simulate(graph, hw, plan, "des", objective=mapper)
            item["des_latency_s"] = des.total["latency_s"]
            item["des_energy_j"] = des.total["energy_j"]
        front.append(item)
    result = SearchResult(ctx.objectives, front, hv_hist, n_evals=evaluator.n_new, n_cached=n_cached_start,
                          seconds=time.perf_counter() - t0, archive=[{"genome": [int(v) for v in x], **r}
                                                                      for x, r in archive],
                          ref={"lo": state["hv"].lo.tolist(), "hi": state["hv"].hi.tolist()} if "hv" in state else {})
    if not front and n_constr:
        result.closest = _closest_infeasible(archive, ctx)
    if baselines and "hv" in state:
        budget = len(archive)
        runs = {"random": lambda: random_search(ctx, budget, seed, state["hv"]),
                "greedy": lambda: greedy_lowering(ctx, budget, state["hv"])}
        for name, run in runs.items():
            # a resumed search replays the same generations, so its baselines are the stored ones: computing them
            # again cost up to 3,278 evaluations per interrupted run
            key = f"baseline:{name}:budget={budget}:seed={seed}:ref={json.dumps(result.ref)}"
            stored = store.meta(key) if store is not None else None
            if stored is not None:
                result.baselines[name] = [tuple(p) for p in json.loads(stored)]
            else:
                result.baselines[name] = run()
                if store is not None:
                    store.set_meta(key, json.dumps(result.baselines[name]))
    return result


def _hw_summary(hw, space) -> dict:
    d = hw.to_dict()
    out = {}
    for key in space.hw_genes:
        node = d
        for part in key.split("."):
            node = node[part]
        out[key] = node
    return out


def write_outputs(result: SearchResult, out_dir, *, space: SearchSpace, graph=None, command: str | None = None) -> dict:
    """front.json, front.csv, the plots and the explorer page (``index.html``; with ``graph``, the searched
    LayerGraph, each front design gets a per-layer report)."""
    from pathlib import Path

    from archsim.search.explorer import write_search_explorer
    from archsim.search.plots import plot_search

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {"json": out / "front.json", "csv": out / "front.csv"}
    files["json"].write_text(json.dumps(result.to_dict(), indent=1))
    objs = list(result.objectives)
    hw_keys = list(space.hw_genes)
    lines = [",".join(["hash", *objs, "des_latency_s", *hw_keys, "mapper", "plan"])]
    for f in result.front:
        plan = ";".join(f"{k}={v}" for k, v in f["plan"].items())
        lines.append(",".join([f["hash"], *[f"{f['values'][o]:.6g}" for o in objs], f"{f.get('des_latency_s', '')}",
                               *[str(f["hw"][k]) for k in hw_keys], f.get("mapper", ""), f'"{plan}"']))
    files["csv"].write_text("\n".join(lines) + "\n")
    files.update(plot_search(result, out))
    files["html"] = write_search_explorer(result, out, space=space, graph=graph, command=command)
    return files
