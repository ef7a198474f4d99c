"""``archsim search``: the co-search of per-layer precision and accelerator parameters from the command line —
arguments checked before anything slow runs, every evaluation stored as it completes, ``--resume`` refused
under another configuration."""
from __future__ import annotations

import sys
from pathlib import Path


def search_command(args) -> int:
    import json

    from archsim import ArchsimError, load_hw
    from archsim.config import parse_set
    from archsim.search import EvalContext, EvalStore, SearchSpace, run_search, write_outputs
    from archsim.search.run import check_run_args
    from archsim.search.space import select_hw_genes
    from archsim.simulate import COST_MODEL_VERSION
    from quant import QuantError
    from workloads import WorkloadError, load_workload

    try:
        hw = load_hw(args.hw, parse_set(args.set))
        graph = load_workload(args.model, args.input_shape, batch=args.batch)
        objectives = tuple(o.strip() for o in args.objectives.split(",") if o.strip())
        formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())
        genes = {} if args.precision_only else select_hw_genes(args.hw_genes.split(","))
        check_run_args(generations=args.generations, pop=args.pop, seed=args.seed, workers=args.workers)
        # one mapper objective maps every design; several make a gene the search chooses per design
        mappers = tuple(m.strip() for m in args.mapper_objective.split(",") if m.strip()) or ("latency",)
        space = SearchSpace([d["name"] for d in graph.compute_layers()], formats=formats, hw_base=hw, hw_genes=genes,
                            mapper_objectives=mappers if len(mappers) > 1 else ())
        # built before the (slow) sensitivity table so that bad objectives or bounds fail at once
        ctx = EvalContext(graph.to_dict(), space, None, objectives, args.max_error, args.max_area, args.latency_target,
                          mapper_objective=mappers[0])
        out = Path(args.out)
        _check_writable(out)
        db = Path(args.db) if args.db else out / "search.sqlite"
        if args.resume and not db.exists():
            raise ArchsimError(f"--resume: no search is stored in {db} (check --db / --out)")
        config = {"model": args.model, "hw": hw.to_dict(), "objectives": objectives, "formats": formats,
                  "genes": {k: list(v) for k, v in genes.items()}, "seed": args.seed, "pop": args.pop,
                  "max_error": args.max_error, "max_area": args.max_area, "latency_target": args.latency_target,
                  "cost_model": COST_MODEL_VERSION, "mapper_objective": list(mappers)}
        created = not db.exists()
        store = EvalStore(db, config=config, resume=args.resume)  # a bad --db fails here, before the slow part
        try:
            ctx.sensitivity = _sensitivity(args, graph, formats)
            res = run_search(ctx, generations=args.generations, pop=args.pop, seed=args.seed, store=store,
                             workers=args.workers, dask=args.dask, baselines=not args.no_baselines)
        except ArchsimError:
            if created and store.count() == 0:  # e.g. no Dask scheduler: leave no empty database to trip over
                store.close()
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{db}{suffix}").unlink(missing_ok=True)
            raise
        # no command on the page: it would name --out, and the same seed must give byte-identical files anywhere
        files = write_outputs(res, out, space=space, graph=graph)
    except (ArchsimError, WorkloadError, QuantError, FileExistsError, ValueError) as exc:
        print(f"archsim search: {exc}", file=sys.stderr)
        return 2
    print(f"{len(res.front)} designs on the front; {res.n_evals} new evaluations, {res.n_cached} from {db}; "
          f"{res.seconds:.1f} s")
    for f in res.front[:10]:
        print("  " + ", ".join(f"{k}={v:.4g}" for k, v in f["values"].items()))
    if res.closest is not None:
        miss = "; ".join(f"{k} {c['value']:.4g} > {c['bound']:.4g}" for k, c in res.closest["violated"].items())
        print(f"no evaluated design meets the constraints; the closest ({res.closest['hash']}) misses: {miss}")
    print("wrote " + ", ".join(str(p) for p in files.values()))
    if args.json:
        print(json.dumps(res.to_dict(timing=True)))
    return 0


def _check_writable(out: Path) -> None:
    """``--out`` must take files before the search runs, not after (the folder is made if it is missing)."""
    import tempfile

    from archsim import ArchsimError

    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".archsim-write-check-"):
            pass
    except OSError as exc:
        raise ArchsimError(f"--out {out}: cannot write there ({exc.strerror or exc})") from None


def _sensitivity(args, graph, formats):
    """Per-layer error proxy table from the model's weights (zoo / file models); None for graph files."""
    from quant.sensitivity import sensitivity_table
    from workloads.pretrained import REAL_MODELS
    from workloads.zoo import get_model, list_models

    if args.model in REAL_MODELS:  # trained models from packages: the table is measured on their real data
        from quant.tasks import sample_inputs

        factory, shape = REAL_MODELS[args.model]
        shape = tuple(args.input_shape or shape)
        x = sample_inputs(args.model, seq=shape[0])
        return sensitivity_table(factory(), shape, formats, x=x, name=args.model, progress=True)
    if args.model in list_models():
        if args.model in ("fashion_cnn", "fashion_resnet"):
            from workloads.train import load_trained

            model, shape = load_trained(args.model), get_model(args.model)[1]
        elif args.model == "lenet5":
            from workloads.pretrained import lenet5

            model, shape = lenet5(), (1, 28, 28)
        else:
            model, shape = get_model(args.model)
        import torch

        x = torch.randn(1, *shape, generator=torch.Generator().manual_seed(0))
        return sensitivity_table(model, shape, formats, x=x, name=args.model, progress=True)
    return None
