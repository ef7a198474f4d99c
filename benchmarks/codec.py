"""Codec speed on 16 M float32 values, one thread, as ratios measured in one run (SPEC §3.4).

References in the same run: ``np.copy`` of the array, the project's arithmetic INT fake-quant
(``quant.formats.int_fake_quant``), PyTorch's ``fake_quantize_per_tensor_affine`` (one thread) and a naive
``np.searchsorted`` level-table quantiser. Targets: DyBit quantize and encode ≤ 3× copy and ≤ 1× INT
fake-quant; decode ≤ 2× copy.

    python benchmarks/codec.py [--n 16777216] [--repeat 7] [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from _timing import best_of  # noqa: E402 - warm-up run (JIT compile, page faults) then best of N

from quant import get_format  # noqa: E402
from quant.formats import int_fake_quant  # noqa: E402


def naive_lut(x, levels, scale):
    v = x / scale
    mids = (levels[1:] + levels[:-1]) / 2
    return levels[np.searchsorted(mids, v)] * scale


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=16 * 1024 * 1024)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    x = np.random.default_rng(0).standard_normal(args.n).astype(np.float32)
    xt = torch.from_numpy(x)
    d4 = get_format("dybit4c2")
    scale = float(np.abs(x).max() / d4.max_level)
    codes = d4.encode(x, scale)
    int_scale = float(np.abs(x).max() / 7)

    rows = {
        "np.copy": lambda: np.copy(x),
        "INT4 fake-quant (project, arithmetic)": lambda: int_fake_quant(x, int_scale, 4),
        "INT4 fake-quant (torch, 1 thread)": lambda: torch.fake_quantize_per_tensor_affine(xt, int_scale, 0, -7, 7),
        "naive searchsorted LUT quantize": lambda: naive_lut(x, d4.levels, np.float32(scale)),
        "dybit4c2 encode": lambda: d4.encode(x, scale),
        "dybit4c2 quantize": lambda: d4.quantize(x, scale),
        "dybit4c2 decode": lambda: d4.decode(codes, scale),
        "dybit8c5 quantize": lambda: get_format("dybit8c5").quantize(x, scale),
        "int4 quantize (IntFormat, arithmetic)": lambda: get_format("int4").quantize(x, int_scale),
        "nf4 quantize (generic LUT codec)": lambda: get_format("nf4").quantize(x, scale),
    }
    times = {k: best_of(f, args.repeat) for k, f in rows.items()}
    copy, intq = times["np.copy"], times["INT4 fake-quant (project, arithmetic)"]
    print(f"{args.n:,} float32 values, best of {args.repeat}, one thread")
    print(f"{'operation':42s} {'ms':>8s} {'× copy':>8s} {'× INT fq':>9s}")
    for k, t in times.items():
        print(f"{k:42s} {t * 1e3:8.1f} {t / copy:8.2f} {t / intq:9.2f}")
    checks = {
        "dybit4c2 encode ≤ 3× copy": times["dybit4c2 encode"] / copy <= 3,
        "dybit4c2 quantize ≤ 3× copy": times["dybit4c2 quantize"] / copy <= 3,
        "dybit4c2 encode ≤ 1× INT fake-quant": times["dybit4c2 encode"] / intq <= 1,
        "dybit4c2 quantize ≤ 1× INT fake-quant": times["dybit4c2 quantize"] / intq <= 1,
        "dybit4c2 decode ≤ 2× copy": times["dybit4c2 decode"] / copy <= 2,
    }
    for k, ok in checks.items():
        print(f"{'PASS' if ok else 'MISS'}  {k}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"n": args.n, "seconds": times, "checks": checks}, fh, indent=2)
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
