"""The ``archsim`` console script (also ``python -m archsim``).

Subcommands that exist today: ``formats`` (list/describe number formats), ``models`` (the zoo), ``graph``
(layer-graph extraction and export), ``formats-report`` and ``demo``.
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


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="archsim", description="DyBit format / quantisation / accelerator DSE toolkit")
    sub = ap.add_subparsers(dest="command", required=True)
    f = sub.add_parser("formats", help="list number formats, or describe one")
    f.add_argument("name", nargs="?", help="a format name, e.g. dybit4c2, e4m3, nf4")
    f.add_argument("--bits", type=int, default=None, help="only formats of this width")
    f.set_defaults(func=_formats)
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
