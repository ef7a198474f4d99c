"""Activation fake-quant speed at inference (what the accuracy report spends its time in), one thread, as
ratios measured in one run.

For each format a ``FakeQuantize`` quantises the same NCHW activation tensor (blocks along the channels, as a
conv's input) two ways in interleaved rounds: under ``torch.no_grad()`` (the inference path: block-scaled
formats choose their scales and DyBit caps and round in one pass, no STE masks) and with the input requiring
a gradient (the differentiable path: scale rule, then rounding, then the STE's clip masks) — the reference,
which is also what inference ran before the inference path existed. The values are checked equal.

    python benchmarks/fakequant_speed.py [--shape 64,96,24,48] [--rounds 7] [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import torch  # noqa: E402
from _timing import interleaved, median_ratio  # noqa: E402

from quant.fakequant import FakeQuantize  # noqa: E402

FORMATS = ("int8", "dybit4", "mxfp4", "nvfp4", "int4g128", "mxdybit4", "nvdybit4", "mxdybit4e1")


def quantiser(fmt: str, x: torch.Tensor) -> FakeQuantize:
    fq = FakeQuantize(fmt, role="activation", block_axis=1)
    if not fq.dynamic:  # per-tensor formats: calibrate a scale on the tensor itself
        fq.calibrating = True
        fq(x)
        fq.calibrating = False
        fq.freeze()
    return fq


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", default="64,96,24,48")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    shape = tuple(int(v) for v in args.shape.split(","))
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=gen) * torch.logspace(-1, 1, shape[1]).reshape(1, -1, 1, 1)
    rows = []
    print(f"activation {shape} ({x.numel() / 1e6:.1f} M values), one thread, {args.rounds} interleaved rounds")
    print(f"{'format':<12} {'inference ms':>13} {'STE path ms':>12} {'ratio':>7}  same values")
    for fmt in FORMATS:
        fq = quantiser(fmt, x)
        xg = x.clone().requires_grad_(True)

        def infer(fq=fq):
            with torch.no_grad():
                return fq(x)

        def ste(fq=fq, xg=xg):
            return fq(xg)

        same = torch.equal(infer(), ste().detach())
        t = interleaved({"infer": infer, "ste": ste}, rounds=args.rounds)
        ratio = median_ratio(t["infer"], t["ste"])
        rows.append({"format": fmt, "inference_s": min(t["infer"]), "ste_s": min(t["ste"]), "ratio": ratio,
                     "same_values": same})
        print(f"{fmt:<12} {min(t['infer']) * 1e3:>13.1f} {min(t['ste']) * 1e3:>12.1f} {ratio:>7.3f}  {same}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"shape": shape, "rows": rows}, f, indent=1)
    return 0 if all(r["same_values"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
