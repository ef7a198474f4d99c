"""The ``archsim`` console script (also ``python -m archsim``).

Subcommands that exist today: ``formats`` (list/describe number formats), ``models`` (the zoo), ``graph``
(layer-graph extraction and export), ``simulate``, ``formats-report`` and ``demo``.
Until the accelerator simulator and search land, ``demo`` regenerates the number-format report.
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
    names = list_formats(args.bits)
    print("\n".join(names))
    return 0


def _report(args) -> int:
    from quant.report import build

    path = build(Path(args.out), real=not args.synthetic_only)
    print(f"wrote {path}")
    return 0


def _shape(text: str | None):
    if text is None:
        return None
    try:
        return tuple(int(v) for v in text.replace("x", ",").split(",") if v.strip())
    except ValueError:
        raise SystemExit(f"archsim: --input-shape must look like 3,224,224, got {text!r}") from None


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
        g = load_workload(args.model, _shape(args.input_shape), batch=args.batch)
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
        graph = load_workload(args.model, _shape(args.input_shape), batch=args.batch)
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


def build_parser() -> argparse.ArgumentParser:
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
    sp.add_argument("--objective", choices=("latency", "traffic"), default="latency", help="mapper objective")
    sp.add_argument("--input-shape", default=None, help="input shape without batch, for user models")
    sp.add_argument("--batch", type=int, default=1)
    sp.add_argument("--trace", default=None, help="write a Chrome/Perfetto trace JSON of the DES here")
    sp.add_argument("--out", default=None, help="write result.json, layers.csv, report.md and plots here")
    sp.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    sp.add_argument("--all-layers", action="store_true", help="print every layer in the table")
    sp.set_defaults(func=_simulate)
    m = sub.add_parser("models", help="list the model zoo with parameter and MAC counts")
    m.set_defaults(func=_models)
    gp = sub.add_parser("graph", help="extract a model's layer graph; print it, export JSON / SCALE-Sim CSV")
    gp.add_argument("--model", required=True, help="zoo name, path/to/file.py:factory, .onnx, .json or .csv")
    gp.add_argument("--input-shape", default=None, help="input shape without batch, e.g. 3,224,224")
    gp.add_argument("--batch", type=int, default=1)
    gp.add_argument("--json", default=None, help="write the layer graph JSON here")
    gp.add_argument("--scalesim", default=None, help="write a SCALE-Sim topology CSV here")
    gp.set_defaults(func=_graph)
    for name, help_ in (("formats-report", "regenerate reports/formats.md and its plots"),
                        ("demo", "the main job (today: the number-format report; see README)")):
        r = sub.add_parser(name, help=help_)
        r.add_argument("--out", default="reports", help="output folder (default: reports)")
        r.add_argument("--synthetic-only", action="store_true", help="skip the real trained weights")
        r.set_defaults(func=_report)
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)
