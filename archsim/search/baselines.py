"""What the co-search must beat at equal evaluation budget (SPEC §7): random search and greedy
sensitivity-ordered bit-lowering, scored by the same hypervolume as the GA."""
from __future__ import annotations

import numpy as np

from archsim.search.evaluate import EvalContext
from archsim.search.evaluator import Evaluator


class Hypervolume:
    """Hypervolume of the feasible non-dominated archive, in objectives normalised by the seeds' range."""

    def __init__(self, F0: np.ndarray):
        from pymoo.indicators.hv import HV

        self.lo = F0.min(0)
        self.hi = np.maximum(F0.max(0), self.lo + 1e-30)
        self.hv = HV(ref_point=np.full(F0.shape[1], 1.1))

    def __call__(self, F: np.ndarray, feasible: np.ndarray) -> float:
        if not feasible.any():
            return 0.0
        Z = (F[feasible] - self.lo) / (self.hi - self.lo)
        Z = Z[np.all(Z < 1.1, axis=1)]
        return float(self.hv(Z)) if len(Z) else 0.0


def random_search(ctx: EvalContext, budget: int, seed: int, hv: Hypervolume) -> list:
    """Baseline: ``budget`` uniformly random genomes (own RNG stream), hypervolume as it goes."""
    rng = np.random.default_rng(seed + 10_000)
    ev = Evaluator(ctx)
    F, feas, hist = [], [], []
    for k in range(budget):
        r = ev([rng.integers(0, ctx.space.upper + 1)])[0]
        F.append(r["F"])
        feas.append(all(g <= 0 for g in r["G"]))
        if (k + 1) % max(1, budget // 20) == 0 or k + 1 == budget:
            hist.append((k + 1, hv(np.array(F), np.array(feas))))
    return hist


def greedy_lowering(ctx: EvalContext, budget: int, hv: Hypervolume | None = None,
                    evaluator: Evaluator | None = None) -> list:
    """Baseline (DyBit/HAWQ style): from uniform INT8 on the base hardware, repeatedly lower the layer whose
    next-lower format costs the least error, until the error constraint binds or the budget is spent."""
    from quant.formats import get_format

    space = ctx.space
    # highest precision first; equal widths in the space's own order (no set order: it changes per process)
    shared = [f for f in space.weight_formats if f in space.act_formats]
    ladder = sorted(shared, key=lambda f: (-get_format(f).bits, shared.index(f)))
    idx_w = {f: space.weight_formats.index(f) for f in ladder}
    idx_a = {f: space.act_formats.index(f) for f in ladder}
    x = space.genome("int8") if "int8" in ladder else space.genome(ladder[0])
    level = {i: 0 for i in range(len(space.layers))}
    frozen: set = set()
    ev = evaluator or Evaluator(ctx)
    F, feas, hist = [], [], []

    def record(r):
        F.append(r["F"])
        feas.append(all(g <= 0 for g in r["G"]))
        hist.append((len(F), hv(np.array(F), np.array(feas)) if hv is not None else 0.0))

    record(ev([x])[0])
    sens = ctx.sensitivity or {}
    while len(F) < budget:
        moves = []
        for i, name in enumerate(space.layers):
            if i in frozen or level[i] + 1 >= len(ladder):
                continue
            f_next = ladder[level[i] + 1]
            cost = sens.get(name, {}).get(f_next, 4.0 ** -get_format(f_next).bits)
            moves.append((cost, i))
        if not moves:
            break
        _, i = min(moves)
        trial = x.copy()
        f_next = ladder[level[i] + 1]
        trial[2 * i], trial[2 * i + 1] = idx_w[f_next], idx_a[f_next]
        r = ev([trial])[0]
        record(r)
        if all(g <= 0 for g in r["G"]):
            x, level[i] = trial, level[i] + 1
        else:
            frozen.add(i)
    return hist
