"""The ``archsim`` console script (also ``python -m archsim``).

Subcommands that exist today: ``formats`` (list/describe number formats), ``formats-report`` and ``demo``.
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


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="archsim", description="DyBit format / quantisation / accelerator DSE toolkit")
    sub = ap.add_subparsers(dest="command", required=True)
    f = sub.add_parser("formats", help="list number formats, or describe one")
    f.add_argument("name", nargs="?", help="a format name, e.g. dybit4c2, e4m3, nf4")
    f.add_argument("--bits", type=int, default=None, help="only formats of this width")
    f.set_defaults(func=_formats)
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
