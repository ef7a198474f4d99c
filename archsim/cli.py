"""The ``archsim`` console script (also ``python -m archsim``).

Subcommands: ``simulate``, ``search``, ``sweep``, ``demo``, ``report``, ``models``, ``graph``, ``formats``,
``formats-report``, ``quantize``, ``evaluate``. The search command lives in ``archsim.search.cli``, the sweep in
``archsim.dse.cli``, quantize/evaluate (PyTorch) in ``quant.cli``; this module holds the parser and the rest.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _formats(args) -> int:
    from quant import QuantError, get_format, list_formats

    if args.name:
        try:
            fmt = get_format(args.name)
        except QuantError as exc:
            print(f"archsim formats: {exc}", file=sys.stderr)
            return 2
        print(repr(fmt))
        if getattr(fmt, "description", ""):
            print(fmt.description)
        try:
            lv = fmt.levels
            print("levels (unit scale):", " ".join(f"{v:g}" for v in lv))
        except QuantError as exc:
            print(exc)
        if hasattr(fmt, "hardware"):
            print(fmt.hardware)
        return 0
    try:
        names = list_formats(args.bits)
    except QuantError as exc:
        print(f"archsim formats: {exc}", file=sys.stderr)
        return 2
    print("\n".join(names))
    return 0


def _report(args) -> int:
    from quant.report import build

    path = build(Path(args.out), real=not args.synthetic_only)
    print(f"wrote {path}")
    return 0


def _shape(text: str) -> tuple:
    """argparse type of ``--input-shape``: 3,224,224 (or 3x224x224) → (3, 224, 224)."""
    try:
        return tuple(int(v) for v in text.replace("x", ",").split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"must look like 3,224,224, got {text!r}") from None


def _positive_int(flag: str, low: int = 1):
    """argparse type: an integer ≥ ``low`` (argparse names ``flag`` and the value on failure)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be ≥ {low}, got {value}")
        return value

    parse.__name__ = flag  # argparse's message names the type when it has no error of its own
    return parse


def _models(args) -> int:
    from workloads.extract import extract_graph
    from workloads.zoo import get_entry, list_models

    print(f"{'model':16s} {'input':14s} {'params':>12s} {'GMACs':>8s} {'layers':>7s}  description")
    for name in list_models():
        e = get_entry(name)
        model = e.factory().eval()
        g = extract_graph(model, e.input_shape, name=name)
        params = sum(p.numel() for p in model.parameters())
        print(f"{name:16s} {'×'.join(map(str, e.input_shape)):14s} {params:>12,} {g.total_macs / 1e9:>8.3f} "
              f"{len(g):>7d}  {e.description}")
    return 0


def _graph(args) -> int:
    from workloads import WorkloadError, load_workload

    try:
        g = load_workload(args.model, args.input_shape, batch=args.batch)
    except WorkloadError as exc:
        print(f"archsim graph: {exc}", file=sys.stderr)
        return 2
    print(g.summary())
    if args.json:
        g.to_json(args.json)
        print(f"wrote {args.json}")
    if args.scalesim:
        from workloads.scalesim import to_scalesim_csv

        to_scalesim_csv(g, args.scalesim)
        print(f"wrote {args.scalesim}")
    return 0


def _simulate(args) -> int:
    import json

    from archsim import ArchsimError, load_hw, simulate
    from archsim.config import parse_set
    from quant import QuantError
    from quant.plan import PrecisionPlan
    from workloads import WorkloadError, load_workload

    if args.trace and args.engine != "des":
        print("archsim simulate: --trace needs --engine des (the analytic engine has no timeline)", file=sys.stderr)
        return 2
    try:
        hw = load_hw(args.hw, parse_set(args.set))
        graph = load_workload(args.model, args.input_shape, batch=args.batch)
        plan = PrecisionPlan.load(args.plan) if args.plan else args.precision
        res = simulate(graph, hw, plan, args.engine, trace=bool(args.trace), objective=args.objective)
    except (ArchsimError, WorkloadError, QuantError) as exc:
        print(f"archsim simulate: {exc}", file=sys.stderr)
        return 2
    if args.trace:
        Path(args.trace).parent.mkdir(parents=True, exist_ok=True)
        res.save_trace(args.trace)
    if args.out:
        files = res.save(args.out)
        if not args.json:
            print("wrote " + ", ".join(str(f) for f in files.values()))
    if args.json:
        d = res.to_dict()
        d["model"], d["hw"] = args.model, args.hw
        print(json.dumps(d))
    else:
        print(res.to_markdown(max_rows=None if args.all_layers else 25))
    return 0


def _search(args) -> int:
    from archsim.search.cli import search_command  # pymoo and the search stack load only for this command

    return search_command(args)


def _sweep(args) -> int:
    from archsim.dse.cli import sweep_command  # pandas and the sweep stack load only for this command

    return sweep_command(args, getattr(args, "argv", None))


def _quantize(args) -> int:
    from quant.cli import quantize_command

    return quantize_command(args)


def _demo(args) -> int:
    from archsim import ArchsimError
    from archsim.demo import run_demo
    from workloads import WorkloadError
    from workloads.data import fashion_mnist_dir

    try:
        fashion_mnist_dir()  # the demo trains and evaluates on it: say so before starting, not half-way
        path = run_demo(args.out, quick=args.quick)
    except (WorkloadError, ArchsimError) as exc:  # e.g. Fashion-MNIST not installed
        print(f"archsim demo: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


def _rebuild(args) -> int:
    import json

    from archsim import ArchsimError

    d = Path(args.dir)
    summary, result = d / "summary.json", d / "result.json"
    if not summary.exists() and not result.exists():
        print(f"archsim report: {d} has neither summary.json (a demo folder) nor result.json (a simulate --out "
              f"folder)", file=sys.stderr)
        return 2
    source = summary if summary.exists() else result
    try:
        if source is summary:
            from archsim.demo import write_index

            written = write_index(d)
        else:
            from archsim.plots import plot_result
            from archsim.result import SimResult

            res = SimResult.from_dict(json.loads(result.read_text()))
            written = d / "report.md"
            written.write_text(res.to_markdown() + "\n")
            plot_result(res, d)
    except (ValueError, KeyError, TypeError, ArchsimError) as exc:  # a truncated or hand-edited JSON
        what = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        print(f"archsim report: cannot rebuild from {source}: {what}", file=sys.stderr)
        return 2
    print(f"wrote {written}")
    return 0


def _resume_hint(args, argv) -> str:
    """For a search, where its finished evaluations are and the command that continues it."""
    if args.command not in ("search", "sweep"):
        return ""
    import shlex

    words = list(sys.argv[1:] if argv is None else argv)
    if "--resume" not in words:
        words.append("--resume")
    db = args.db or str(Path(args.out) / f"{args.command}.sqlite")
    return f"; every finished evaluation is in {db}; resume with: archsim {shlex.join(words)}"


def build_parser() -> argparse.ArgumentParser:
    from archsim.mapping import OBJECTIVES as MAPPER_OBJECTIVES
    from quant.cli import DATA_MODELS

    ap = argparse.ArgumentParser(prog="archsim", description="DyBit format / quantisation / accelerator DSE toolkit")
    sub = ap.add_subparsers(dest="command", required=True)
    f = sub.add_parser("formats", help="list number formats, or describe one")
    f.add_argument("name", nargs="?", help="a format name, e.g. dybit4c2, e4m3, nf4")
    f.add_argument("--bits", type=int, default=None, help="only formats of this width")
    f.set_defaults(func=_formats)
    sp = sub.add_parser("simulate", help="simulate a model on an accelerator (DES or analytic)")
    sp.add_argument("--model", required=True, help="zoo name, path/to/file.py:factory, .onnx, .json or .csv")
    sp.add_argument("--hw", default="default", help="shipped config (default, server, int8_systolic) or a YAML path")
    sp.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a hardware key, e.g. --set buffers.weight.kib=128 (repeatable)")
    grp = sp.add_mutually_exclusive_group()
    grp.add_argument("--precision", default="int8", help="uniform plan: int8, dybit4, w=dybit4,a=int8 …")
    grp.add_argument("--plan", default=None, help="a precision plan file (YAML/JSON)")
    sp.add_argument("--engine", choices=("des", "analytic"), default="des")
    sp.add_argument("--objective", choices=MAPPER_OBJECTIVES, default="latency",
                    help="mapper objective: latency (then energy, within 0.5 %%), energy (then latency) or traffic")
    sp.add_argument("--input-shape", type=_shape, default=None, help="input shape without batch, for user models")
    sp.add_argument("--batch", type=int, default=1)
    sp.add_argument("--trace", default=None, help="write a Chrome/Perfetto trace JSON of the DES here")
    sp.add_argument("--out", default=None, help="write result.json, layers.csv, report.md and plots here")
    sp.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    sp.add_argument("--all-layers", action="store_true", help="print every layer in the table")
    sp.set_defaults(func=_simulate)
    se = sub.add_parser("search", help="evolutionary co-search of per-layer precision and accelerator parameters")
    se.add_argument("--model", required=True)
    se.add_argument("--hw", default="default")
    se.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    se.add_argument("--objectives", default="latency,error", help="from latency, energy, area, error")
    se.add_argument("--mapper-objective", default="latency",
                    help=f"how designs map their layers, from {', '.join(MAPPER_OBJECTIVES)}; several, comma-separated "
                         "(latency,energy), make it a gene the search chooses per design")
    se.add_argument("--formats", default="int8,dybit6,dybit5,dybit4,dybit3,int4,e2m1",
                    help="candidate formats for weights and activations")
    se.add_argument("--hw-genes", default="", help="comma list of hardware genes to search (default: all)")
    se.add_argument("--precision-only", action="store_true", help="keep the hardware fixed")
    se.add_argument("--max-error", type=float, default=None)
    se.add_argument("--max-area", type=float, default=None, help="mm²")
    se.add_argument("--latency-target", type=float, default=None, help="seconds")
    se.add_argument("--generations", type=int, default=15)
    se.add_argument("--pop", type=int, default=24)
    se.add_argument("--seed", type=int, default=0)
    se.add_argument("--workers", type=int, default=0, help="local process pool size (0/1: in-process)")
    se.add_argument("--dask", default=None, help="Dask scheduler address, e.g. tcp://127.0.0.1:8786")
    se.add_argument("--db", default=None, help="SQLite file (default OUT/search.sqlite)")
    se.add_argument("--resume", action="store_true", help="continue the search stored in --db")
    se.add_argument("--no-baselines", action="store_true", help="skip random search and greedy lowering")
    se.add_argument("--input-shape", type=_shape, default=None)
    se.add_argument("--batch", type=int, default=1)
    se.add_argument("--out", default="search_out")
    se.add_argument("--json", action="store_true")
    se.set_defaults(func=_search)
    sw = sub.add_parser("sweep", help="grid sweep of hardware values × models × precisions → one table, plots and an "
                                      "explorer page")
    sw.add_argument("--model", required=True, help="one or more models, comma-separated (zoo names or paths)")
    sw.add_argument("--hw", default="default", help="the base hardware: shipped config or a YAML path")
    sw.add_argument("--set", action="append", default=[], metavar="KEY=V1,V2,…",
                    help="a hardware key and its values, e.g. --set array.rows=16,32,64 (repeatable: cartesian "
                         "product, or paired with --zip)")
    sw.add_argument("--zip", action="store_true", help="pair the --set lists in order instead of their product")
    sw.add_argument("--precision", default="int8", help="uniform plans, comma-separated: int8,dybit4,w=dybit4,a=int8")
    sw.add_argument("--engine", choices=("analytic", "des"), default="analytic")
    sw.add_argument("--objective", choices=MAPPER_OBJECTIVES, default="latency", help="mapper objective")
    sw.add_argument("--workers", type=int, default=0, help="local process pool size (0/1: in-process; ≤ CPUs)")
    sw.add_argument("--dask", default=None, help="Dask scheduler address, e.g. tcp://127.0.0.1:8786")
    sw.add_argument("--db", default=None, help="SQLite file (default OUT/sweep.sqlite)")
    sw.add_argument("--resume", action="store_true", help="continue the sweep stored in --db: stored points are "
                                                          "served from it, only the rest are evaluated")
    sw.add_argument("--force", action="store_true", help="run more than 5000 points")
    sw.add_argument("--input-shape", type=_shape, default=None)
    sw.add_argument("--batch", type=int, default=1)
    sw.add_argument("--out", default="sweep_out", help="sweep.csv, sweep.parquet, plots, index.html, report.md")
    sw.set_defaults(func=_sweep)
    for cmd, help_ in (("quantize", "apply a plan to a trained model, calibrate (PTQ), optionally QAT; accuracy"),
                       ("evaluate", "accuracy of a model under a plan after PTQ calibration")):
        qp = sub.add_parser(cmd, help=help_)
        qp.add_argument("--model", required=True, help=", ".join(DATA_MODELS))
        g2 = qp.add_mutually_exclusive_group()
        g2.add_argument("--precision", default="int8")
        g2.add_argument("--plan", default=None)
        qp.add_argument("--first-last", default="same", choices=("same", "int8", "fp32"))
        qp.add_argument("--method", default="mse", choices=("max", "percentile", "mse"))
        qp.add_argument("--calib", type=_positive_int("--calib"), default=512, help="calibration images")
        qp.add_argument("--limit", type=_positive_int("--limit"), default=None,
                        help="evaluate on the first N test images")
        if cmd == "quantize":
            qp.add_argument("--qat-steps", type=_positive_int("--qat-steps", low=0), default=0)
            qp.add_argument("--out", default=None)
        else:
            qp.set_defaults(out=None, qat_steps=0)
        qp.set_defaults(func=_quantize)
    m = sub.add_parser("models", help="list the model zoo with parameter and MAC counts")
    m.set_defaults(func=_models)
    gp = sub.add_parser("graph", help="extract a model's layer graph; print it, export JSON / SCALE-Sim CSV")
    gp.add_argument("--model", required=True, help="zoo name, path/to/file.py:factory, .onnx, .json or .csv")
    gp.add_argument("--input-shape", type=_shape, default=None, help="input shape without batch, e.g. 3,224,224")
    gp.add_argument("--batch", type=int, default=1)
    gp.add_argument("--json", default=None, help="write the layer graph JSON here")
    gp.add_argument("--scalesim", default=None, help="write a SCALE-Sim topology CSV here")
    gp.set_defaults(func=_graph)
    r = sub.add_parser("formats-report", help="regenerate reports/formats.md and its plots")
    r.add_argument("--out", default="reports", help="output folder (default: reports)")
    r.add_argument("--synthetic-only", action="store_true", help="skip the real trained weights")
    r.set_defaults(func=_report)
    d = sub.add_parser("demo", help="the main job: quantise, simulate, co-search; writes reports/demo/")
    d.add_argument("--out", default="reports/demo")
    d.add_argument("--quick", action="store_true", help="smaller test subset and search (used by the tests)")
    d.set_defaults(func=_demo)
    rp = sub.add_parser("report", help="rebuild a demo/run folder's Markdown and plots from its saved JSON")
    rp.add_argument("dir")
    rp.set_defaults(func=_rebuild)
    from archsim.llm.cli import add_parser as add_llm

    add_llm(sub)
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = argv  # None: sys.argv; the search and the sweep write the command that regenerates them
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print(f"archsim {args.command}: interrupted{_resume_hint(args, argv)}", file=sys.stderr)
        return 130
    except OSError as exc:  # an output folder that cannot be made, a file that cannot be written or read
        where = f" {exc.filename}" if exc.filename else ""
        print(f"archsim {args.command}: cannot use{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
