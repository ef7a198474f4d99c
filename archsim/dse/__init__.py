"""Design-space sweeps: a grid of hardware values × models × precisions → one tidy table (``archsim.sweep``,
``archsim sweep``), its plots and an explorer page. Evaluated with the search's executor, SQLite store and
resume (``archsim.search.evaluator``, ``archsim.search.store``)."""
from __future__ import annotations

from pathlib import Path

from archsim.dse.grid import MAX_POINTS, SweepGrid, parse_axes, split_precisions, split_values
from archsim.dse.run import SweepResult, run_sweep

__all__ = ["sweep", "run", "SweepGrid", "SweepResult", "MAX_POINTS", "parse_axes", "split_precisions",
           "split_values", "run_sweep"]


def _as_list(v) -> list:
    if v is None:
        return []
    if isinstance(v, str):
        return split_precisions(v)
    return list(v)


def run(models, hw="default", set: dict | None = None, precisions="int8", *, zip: bool = False,
        engine: str = "analytic", mapper_objective: str = "latency", workers: int = 0, dask: str | None = None,
        db: str | Path | None = None, resume: bool = False, out: str | Path | None = None, force: bool = False,
        input_shape=None, batch: int = 1, progress: bool = False, command: str | None = None) -> SweepResult:
    """Evaluate the grid ``models × set × precisions`` and return a ``SweepResult`` (``.table`` is the DataFrame).

    ``set`` maps a dotted hardware key to its values (``{"array.rows": [16, 32], "buffers.weight.kib": [32, 64]}``):
    their cartesian product, or with ``zip=True`` the values paired in order. ``db`` keeps every point in SQLite
    as it completes; ``resume=True`` continues a sweep stored there (nothing stored is evaluated again). ``out``
    writes the table (CSV, Parquet), plots, the explorer page and per-design reports there. Everything is checked
    before anything runs; bad input raises ``ArchsimError`` with one line."""
    from archsim.config import load_hw
    from archsim.dse.run import check_workers, load_graphs, make_context, store_config
    from archsim.errors import ArchsimError

    models = models.split(",") if isinstance(models, str) else list(models)
    axes = {k: ([v] if isinstance(v, str | int | float | bool) else list(v)) for k, v in (set or {}).items()}
    grid = SweepGrid(models, load_hw(hw), axes, _as_list(precisions), zip=zip)
    grid.check_size(force)
    check_workers(workers)
    designs = grid.designs()
    graphs = load_graphs(grid.models, input_shape, batch)
    make_context(grid, graphs, designs[:1], engine=engine, mapper_objective=mapper_objective)  # checks both
    store = None
    if db is not None:
        from archsim.search.store import EvalStore

        db = Path(db)
        if resume and not db.exists():
            raise ArchsimError(f"--resume: no sweep is stored in {db} (check --db / --out)")
        try:
            store = EvalStore(db, config=store_config(), resume=resume)
        except (FileExistsError, ValueError) as exc:
            raise ArchsimError(str(exc).replace("continue that search", "continue that sweep")) from None
    try:
        result = run_sweep(grid, graphs, designs, engine=engine, mapper_objective=mapper_objective, store=store,
                           workers=workers, dask=dask, progress=progress)
    finally:
        if store is not None:
            store.close()
    if out is not None:
        from archsim.dse.report import write_outputs

        write_outputs(result, out, command=command)
    return result


def sweep(models, hw="default", set: dict | None = None, precisions="int8", **kw):
    """``run(...)`` returning its table: a pandas DataFrame, one row per (model, design, precision) with every
    swept key, latency, energy by component, area, DRAM traffic and its floor, utilisation and throughput."""
    return run(models, hw, set, precisions, **kw).table
