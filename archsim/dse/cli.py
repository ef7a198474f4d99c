"""``archsim sweep``: a grid of hardware values × models × precisions from the command line. Every argument, key,
value and design is checked before anything is simulated (one line, exit 2); every point is stored as it
completes; ``--resume`` serves stored points from the database and evaluates only the rest."""
from __future__ import annotations

import shlex
import sys
from pathlib import Path


def sweep_command(args, argv=None) -> int:
    from archsim import ArchsimError
    from archsim.dse import MAX_POINTS, parse_axes, run, split_precisions
    from archsim.search.cli import _check_writable
    from quant import QuantError
    from workloads import WorkloadError

    words = list(sys.argv[1:] if argv is None else argv)
    command = "archsim " + shlex.join([w for w in words if w != "--resume"])
    try:
        axes = parse_axes(args.set)
        out = Path(args.out)
        db = Path(args.db) if args.db else out / "sweep.sqlite"
        if args.resume and not db.exists():
            raise ArchsimError(f"--resume: no sweep is stored in {db} (check --db / --out)")
        if not args.resume and db.exists():
            raise ArchsimError(f"{db} exists: pass --resume to continue that sweep, or another --db / --out")
        from archsim.config import load_hw
        from archsim.dse.grid import SweepGrid

        # the grid is checked (keys, values, designs, size) before the output folder or the database is touched
        grid = SweepGrid(args.model.split(","), load_hw(args.hw), axes, split_precisions(args.precision), zip=args.zip)
        grid.check_size(args.force, MAX_POINTS)
        grid.designs()
        _check_writable(out)
        res = run(grid.models, grid.hw, axes, grid.precisions, zip=args.zip, engine=args.engine,
                  mapper_objective=args.objective, workers=args.workers, dask=args.dask, db=db, resume=args.resume,
                  out=out, force=args.force, input_shape=args.input_shape, batch=args.batch, progress=True,
                  command=command)
    except (ArchsimError, WorkloadError, QuantError) as exc:
        print(f"archsim sweep: {exc}", file=sys.stderr)
        return 2
    df = res.table
    print(f"{len(df)} points: {res.n_new} evaluated, {res.n_cached} from {db}; {res.seconds:.1f} s")
    for model, s in df.groupby("model", sort=False):
        f = s.loc[s["latency_s"].idxmin()]
        e = s.loc[s["energy_j"].idxmin()]
        print(f"  {model}: fastest {f['latency_s'] * 1e3:.4g} ms ({f['design']} @ {f['precision']}); "
              f"least energy {e['energy_j'] * 1e3:.4g} mJ ({e['design']} @ {e['precision']})")
    print(f"wrote {out / 'sweep.csv'}, {out / 'sweep.parquet'}, {out / 'index.html'}, {out / 'report.md'} and plots")
    return 0
