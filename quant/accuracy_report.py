"""Real-model accuracy report: four trained networks on real data, every registered format, five settings.

    python -m quant.accuracy_report --out reports            (what `make accuracy-report` runs)
    python -m quant.accuracy_report --out /tmp/r --quick     (tiny test and calibration sets: seconds)

Models (``quant.tasks``): the project's Fashion-MNIST CNN, advertorch's MNIST LeNet-5, the PP-OCR direction
classifier from rapidocr-onnxruntime (ONNX → PyTorch) on rendered text lines, and MiniLM-L6 retrieval over
Debian package descriptions. Settings: W4A16, W3A16 (weights only, activations FP32), W4A8, W8A4, W4A4; the
named format is the low-bit side, the 8-bit side is INT8; first and last layers INT8. Formats: every
registered format at that bit width (``quant.formats.list_formats``), one per distinct grid, without the
affine ``uintN``. Each row is calibrated on ``calib_sets`` disjoint calibration sets and reports the mean,
a 95 % bootstrap CI over the test items of the calibration-averaged score, and the spread (min–max) over
the sets. Weight calibration per row: ``mse`` (weight MSE), ``output`` (layer-output error) or ``gptq``
(``quant.calibration``). The best DyBit row is tested against the best rival of equal bits per value:
McNemar (pooled over the calibration sets) for accuracy, a paired bootstrap for MRR.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

from quant.formats import get_format, list_formats

SETTINGS = {"W4A16": (4, None), "W3A16": (3, None), "W4A8": (4, 8), "W8A4": (8, 4), "W4A4": (4, 4)}
EXCLUDE = {r"uint\d": "affine (a zero point), not a symmetric grid"}
SPREADS = ("all", "compared")  # which rows run on every calibration set: all of them, or the compared pairs
EXTRA_METHODS = {"W4A16": ("mse", "gptq"), "W3A16": ("mse", "gptq"), "W4A8": ("gptq",), "W4A4": ("gptq",)}


def bits_per_value(name: str) -> float:
    """Stored bits per value: the element width plus block-scale bits shared per block (per-channel/tensor
    scales are negligible and the same for every format). A format may state it (``bits_per_value``)."""
    f = get_format(name)
    own = getattr(f, "bits_per_value", None)
    if own is not None:
        return float(own() if callable(own) else own)
    if hasattr(f, "scale_kind"):  # nvfp4, mx/nvdybitN (scale + per-block cap bits), intNgG: their stored scales
        return f.bits + f.scale_bits / f.default_block
    if f.family != "adaptive" and getattr(f, "default_granularity", "") == "block":
        return f.bits + 8 / f.default_block  # an E8M0 scale per block (OCP MX)
    return float(f.bits)


def report_formats(bits: int) -> tuple[list[str], dict]:
    """Every registered ``bits``-bit format, one per distinct grid (up to scale, same scale rule and
    granularity; baselines kept, a DyBit fixed cap that repeats one dropped), without ``EXCLUDE``.
    Returns (names, {dropped name: the kept format with its grid})."""
    names = [n for n in list_formats(bits) if not any(re.fullmatch(p, n) for p in EXCLUDE)]
    order = sorted(names, key=_name_rank)  # the best-known name of a grid is the one kept; DyBit's caps last
    seen, keep, same = {}, [], {}
    for n in order:
        f = get_format(n)
        key = None
        if f.family not in ("adaptive", "float"):
            lv = np.asarray(f.levels, np.float64)
            key = (f.scale_rule, getattr(f, "default_granularity", ""), getattr(f, "default_block", 0),
                   tuple(np.round(lv / np.abs(lv).max(), 6)))
        if key is not None and key in seen:
            same[n] = seen[key]
            continue
        if key is not None:
            seen[key] = n
        keep.append(n)
    return [n for n in names if n in keep], same


_PREFERRED = ("int", "e", "flint", "posit", "nf", "apot", "pot", "adaptivfloat", "ant", "mx")


def _name_rank(name: str) -> int:
    if name.startswith("dybit"):
        return len(_PREFERRED) + 1
    kind = re.match(r"[a-z]+", name).group(0)
    return _PREFERRED.index(kind) if kind in _PREFERRED else len(_PREFERRED)


def plan_spec(setting: str, fmt: str) -> str:
    wb, ab = SETTINGS[setting]
    if ab is None:
        return f"w={fmt},a=fp32"
    if wb == 8:
        return f"w=int8,a={fmt}"
    if ab == 8:
        return f"w={fmt},a=int8"
    return f"w={fmt},a={fmt}"


QUICK = {"tasks": ("fashion_cnn", "minilm"), "settings": ("W4A16", "W8A4"),
         "formats": {4: ["int4", "dybit4"]}, "methods": {}}


def run(out: Path, *, quick: bool = False, tasks=None, settings=None, methods=None, calib_sets: int = 3,
        progress: bool = True, formats: dict | None = None, workers: int = 1, spread: str = "all") -> Path:
    """Stage 1: every format, output-aware calibration, on every calibration set. Stage 2, per model and
    setting: the best DyBit row and the best rival of equal bits per value on every calibration set with
    ``methods[setting]`` (default weight MSE and GPTQ for the W-only settings). The conclusions (paired tests)
    rest on the stage-2 rows. ``spread="compared"``: stage 1 on set 1 only, and stage 2 adds the other sets
    for the compared rows (about half the time). ``workers`` processes share the rows
    (``quant.accuracy_jobs``); the numbers do not depend on it."""
    from tqdm import tqdm

    from quant.accuracy_jobs import model_meta, release, run_all, run_job
    from quant.accuracy_render import best_pair, render, to_json
    from quant.tasks import TASKS

    t_start = time.perf_counter()
    tasks = list(tasks or (QUICK["tasks"] if quick else TASKS))
    settings = list(settings or (QUICK["settings"] if quick else SETTINGS))
    methods = methods or (QUICK["methods"] if quick else EXTRA_METHODS)
    fmt_lists = dict(formats or (QUICK["formats"] if quick else {}))
    for st in settings:
        bits = _bits(st)
        if bits not in fmt_lists:
            fmt_lists[bits] = report_formats(bits)[0]
    sizes = "quick" if quick else "full"
    bar = tqdm(total=0, desc="accuracy rows", unit="job", file=sys.stderr, disable=not progress)

    def go(calls):
        bar.total += len(calls)
        bar.refresh()
        return run_all(calls, workers, bar.update)

    stage1 = {(t, st, "output", f): plan_spec(st, f) for t in tasks for st in settings for f in fmt_lists[_bits(st)]}
    if spread not in SPREADS:
        raise ValueError(f"spread: expected one of {', '.join(SPREADS)}, got {spread!r}")
    stage1_sets = tuple(range(calib_sets)) if spread == "all" else (0,)
    jobs = sorted(_jobs(stage1, sizes, calib_sets, "output", stage1_sets), key=lambda j: -j.cost)
    done = go([(model_meta, (t, sizes, calib_sets)) for t in tasks] + [(run_job, (j,)) for j in jobs])
    meta = dict(zip(tasks, done[:len(tasks)], strict=True))
    results = {k: r for rows in done[len(tasks):] for k, r in rows}
    stage2, more = {}, {}
    for t in tasks:
        for st in settings:
            rows = {(m, f): r for (tt, s, m, f), r in results.items() if tt == t and s == st}
            for f in [k[1] for k in best_pair(rows, bits_per_value) if k is not None]:
                if len(stage1_sets) < calib_sets:
                    more[(t, st, "output", f)] = plan_spec(st, f)
                for m in methods.get(st, ()):
                    stage2.setdefault(m, {})[(t, st, m, f)] = plan_spec(st, f)
    # stage 2 in one batch of jobs: the pair's other calibration sets and the other methods
    jobs = _jobs(more, sizes, calib_sets, "output", tuple(range(1, calib_sets)))
    for m, rows in stage2.items():
        jobs += _jobs(rows, sizes, calib_sets, m, tuple(range(calib_sets)))
    jobs.sort(key=lambda j: -j.cost)
    for job, done in zip(jobs, go([(run_job, (j,)) for j in jobs]), strict=True):
        for key, row in done:
            if job.method != "output":
                results[key] = row
                continue
            old = results[key]
            n0 = len(old["per_set"])
            old["extra"] = {k: (v * n0 + row["extra"][k] * len(row["per_set"])) / (n0 + len(row["per_set"]))
                            for k, v in old["extra"].items()}
            old["per_set"] = np.concatenate([old["per_set"], row["per_set"]])
            old["seconds"] += row["seconds"]
            old["seconds_by"] = {k: v + row["seconds_by"][k] for k, v in old["seconds_by"].items()}
    bar.close()
    release()  # an in-process run (workers=1) keeps its models until here
    for t in tasks:
        meta[t]["seconds"] = sum(r["seconds"] for k, r in results.items() if k[0] == t)
    elapsed = time.perf_counter() - t_start
    results = {k: results[k] for k in [*stage1, *(k for rows in stage2.values() for k in rows)]}  # a fixed order
    out.mkdir(parents=True, exist_ok=True)
    (out / "accuracy.json").write_text(json.dumps(to_json(meta, results), indent=1))
    path = out / "accuracy.md"
    path.write_text(render(meta, results, settings, methods, fmt_lists, calib_sets, elapsed, quick, workers,
                                spread))
    return path


_ROWS_PER_JOB = 4  # rows that share one weight format's baked weights (every W8A4 row's INT8) run ≤ 4 a job


def _jobs(rows: dict, sizes: str, calib_sets: int, method: str, sets: tuple) -> list:
    """``rows`` {key: spec} as jobs grouped by (model, weight format), ≤ ``_ROWS_PER_JOB`` rows each."""
    from quant.accuracy_jobs import Job, weight_format

    groups: dict = {}
    for key, spec in rows.items():
        groups.setdefault((key[0], weight_format(spec)), []).append((key, spec))
    return [Job(t, sizes, calib_sets, w, method, sets, tuple(g[i:i + _ROWS_PER_JOB]))
            for (t, w), g in groups.items() for i in range(0, len(g), _ROWS_PER_JOB)]


def _bits(setting: str) -> int:
    return min(b for b in SETTINGS[setting] if b is not None)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="reports", type=Path)
    ap.add_argument("--quick", action="store_true", help="tiny test/calibration sets (seconds; for tests)")
    ap.add_argument("--models", default=None, help="comma-separated subset of fashion_cnn,lenet5,ppocr_cls,minilm")
    ap.add_argument("--settings", default=None, help="comma-separated subset of " + ",".join(SETTINGS))
    ap.add_argument("--calib-sets", type=int, default=3)
    ap.add_argument("--spread", choices=SPREADS, default="all", help="rows run on every calibration set: all "
                    "(default: every row gets its spread) or only the compared pairs (about half the time)")
    ap.add_argument("--workers", type=int, default=2, help="processes sharing the rows (default 2; the numbers "
                    "do not depend on it)")
    args = ap.parse_args(argv)
    from quant.tasks import TASKS

    tasks = args.models.split(",") if args.models else None
    settings = args.settings.split(",") if args.settings else None
    for t in tasks or ():
        if t not in TASKS:
            print(f"--models: unknown model {t!r}; known: {', '.join(TASKS)}", file=sys.stderr)
            return 2
    for s in settings or ():
        if s not in SETTINGS:
            print(f"--settings: unknown setting {s!r}; known: {', '.join(SETTINGS)}", file=sys.stderr)
            return 2
    if args.calib_sets < 1:
        print(f"--calib-sets: must be ≥ 1, got {args.calib_sets}", file=sys.stderr)
        return 2
    if not 1 <= args.workers <= 64:
        print(f"--workers: must be in 1..64, got {args.workers}", file=sys.stderr)
        return 2
    path = run(args.out, quick=args.quick, tasks=tasks, settings=settings, calib_sets=args.calib_sets,
               workers=args.workers, spread=args.spread)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
