"""Format report: 4-bit value grids side by side and relative MSE of 4/3-bit formats on real weights.

    python -m quant.report --out reports        (what `make formats-report` runs)

Writes ``formats.md``, ``formats_grids.png`` and ``formats_mse.png`` into ``--out``. Relative MSE is
‖Q(W) − W‖² / ‖W‖² with per-output-channel scales chosen by MSE search (adaptive formats choose their grid
per channel too); MX formats use their own 32-element blocks along the input axis, as the OCP spec does.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from quant.choose import choose_qparams
from quant.formats import get_format

GRID_FORMATS_4BIT = ["int4", "e2m1", "e3m0", "posit4es0", "posit4es1", "flint4", "pot4", "apot4", "nf4",
                     "adaptivfloat4", "dybit4c1", "dybit4c2", "dybit4c3", "dybit4c2e1", "dybit4c3e1", "dybit4c3e2"]
# block- and group-scaled formats, each with its own stored scales (quant.formats.blockscaled)
OWN_RULE_FORMATS_4BIT = ["mxfp4", "mxdybit4c2", "mxdybit4c3", "mxdybit4", "mxdybit4e1", "nvfp4", "nvdybit4c3",
                         "nvdybit4", "nvdybit4e1", "int4g32", "int4g128"]


BLOCK = 32  # values per scale in the per-block comparison: the OCP MX block
BLOCK_FORMATS_4BIT = ["int4", "e2m1", "nf4", "dybit4"]  # dybit4c2 is e2m1 up to scale: the same rows


def mse_formats(bits: int) -> list[str]:
    fp = {4: ["e2m1", "e3m0"], 3: ["e1m1", "e2m0"]}[bits]
    names = [f"int{bits}", *fp, f"posit{bits}es0", f"posit{bits}es1", f"flint{bits}", f"pot{bits}",
             f"apot{bits}", f"nf{bits}", f"adaptivfloat{bits}", f"ant{bits}"]
    names += [f"dybit{bits}c{c}" for c in range(1, bits)] + [f"dybit{bits}", f"dybit{bits}e1"]
    return names + (["mxfp4"] if bits == 4 else [])


# one MSE-searched scale per tensor (a calibrated activation scale) against each block format's own scales
ACT_TENSOR_FORMATS = ["int4", "e2m1", "nf4", "pot4", "posit4es1", "dybit4", "dybit4e1", "dybit4e2"]
ACT_BLOCK_FORMATS = ["mxfp4", "mxdybit4", "mxdybit4e1", "nvfp4", "nvdybit4", "nvdybit4e1", "int4g32"]


def activation_tensors(seed: int = 0) -> dict[str, np.ndarray]:
    """Activation-like (tokens × features) tensors: Gaussian, a few outlier feature channels (as transformer FFN
    inputs have), and Student-t ν = 2 (heavy tails everywhere)."""
    rng = np.random.default_rng(seed)
    out = {}
    for mult in (8, 30):
        x = rng.standard_normal((256, 1024)).astype(np.float32)
        x[:, rng.choice(1024, 6, replace=False)] *= np.float32(mult)
        out[f"6 outlier channels ×{mult}"] = x
    out["Student-t ν=2"] = rng.standard_t(2, (256, 1024)).astype(np.float32)
    return out


def crest_factor(x: np.ndarray) -> float:
    return float(np.abs(x).max() / np.sqrt((x.astype(np.float64) ** 2).mean()))


def activation_relative_mse(name: str, x: np.ndarray) -> float:
    fmt = get_format(name)
    if getattr(fmt, "default_granularity", "") == "block":
        q = fmt.quantize(x, axis=-1)  # blocks along the features: the next layer's reduction axis
    elif getattr(fmt, "family", "") == "adaptive":
        q = fmt.quantize(x)  # one grid and scale for the whole tensor
    else:
        q = fmt.quantize(x, method="mse")
    return _relative_error(q, x)


def activation_section(acts: dict, res: dict) -> list[str]:
    names = ACT_TENSOR_FORMATS + ACT_BLOCK_FORMATS
    lines = ["", "## 4-bit on activation-like tensors: one scale per tensor or block scales", "",
             "256 tokens × 1024 features. The first rows have one MSE-searched scale per tensor (as a calibrated "
             "activation quantiser; `dybit4…` also one grid per tensor), the rest their own block scales along the "
             "features (the next layer's reduction axis), computed from the tensor at run time (bits per value as in "
             "the table above: the DyBit block formats spend 1/16–3/16 bit more on their cap choice). Relative MSE; "
             "**bold** is the best in each column.", "",
             "| format | " + " | ".join(f"{t} (crest {crest_factor(x):.0f})" for t, x in acts.items()) + " |",
             "|---|" + "---|" * len(acts)]
    for n in names:
        cells = []
        for t in acts:
            v = res[(t, n)]
            cells.append(f"**{v:.4f}**" if v == min(res[(t, m)] for m in names) else f"{v:.4f}")
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    wide = [res[(t, "dybit4e1")] / res[(t, "dybit4")] for t in acts]
    best_tensor = {t: min(ACT_TENSOR_FORMATS, key=lambda n: res[(t, n)]) for t in acts}
    lines += ["", f"- Per tensor, the wider exponent step (`dybit4e1`) has {ratio_range(wide)}× `dybit4`'s error; the "
              "best per-tensor format: " + ", ".join(f"{t} → `{n}`" for t, n in best_tensor.items()) + ".",
              "- Block scales: " + "; ".join(
                  f"{t}: `mxdybit4` {res[(t, 'mxdybit4')] / res[(t, 'mxfp4')]:.2f}× `mxfp4`, "
                  f"`nvdybit4e1` {res[(t, 'nvdybit4e1')] / res[(t, 'nvfp4')]:.2f}× `nvfp4`" for t in acts) + "."]
    return lines


def synthetic_tensors(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    shape = (256, 1024)
    return {"Gaussian": rng.standard_normal(shape).astype(np.float32),
            "Laplace": rng.laplace(size=shape).astype(np.float32),
            "Student-t ν=3": rng.standard_t(3, shape).astype(np.float32)}


def relative_mse(name: str, w: np.ndarray) -> float:
    fmt = get_format(name)
    w2 = w.reshape(w.shape[0], -1)
    if getattr(fmt, "family", "") == "adaptive":
        q = fmt.quantize(w2, granularity="channel", axis=0)
    elif fmt.default_granularity == "block":
        q = fmt.quantize(w2, granularity="block", axis=1)
    else:
        q = fmt.quantize(w2, method="mse", granularity="channel", axis=0)
    return _relative_error(q, w2)


def block_relative_mse(name: str, w: np.ndarray, *, pow2: bool) -> float:
    """Relative MSE with one scale per 32 values along the input axis (the MX granularity), chosen by MSE
    search; ``pow2`` restricts the scales to powers of two (E8M0, as MX stores them). MX formats use the
    OCP rule (scale from the block maximum) and always have E8M0 scales."""
    fmt = get_format(name)
    w2 = w.reshape(w.shape[0], -1)
    if getattr(fmt, "family", "") == "adaptive":
        q = fmt.quantize(w2, granularity="block", axis=1, block=BLOCK, pow2=pow2)
    elif getattr(fmt, "scale_rule", "") == "mx":
        q = fmt.quantize(w2, granularity="block", axis=1, block=BLOCK)
    else:
        q = fmt.quantize(w2, choose_qparams(fmt, w2, "mse", granularity="block", axis=1, block=BLOCK, pow2=pow2))
    return _relative_error(q, w2)


def block_rows() -> list[tuple[str, str, bool, float]]:
    """(label, format, pow2, storage bits per value including the block scales) of the per-block table."""
    rows = []
    for pow2, scale_bits, kind in ((False, 32, "FP32"), (True, 8, "E8M0")):
        for name in BLOCK_FORMATS_4BIT:
            choice_bits = 2 if name == "dybit4" else 0  # which of the 3 caps, per block
            rows.append((f"{name}, {kind} scale", name, pow2, 4 + (scale_bits + choice_bits) / BLOCK))
    rows.append(("mxfp4 (OCP MX rule), E8M0 scale", "mxfp4", True, 4 + 8 / BLOCK))
    return rows


def own_rule_relative_mse(name: str, w: np.ndarray) -> float:
    """Relative MSE of a block- or group-scaled format with its own scale rule, blocks along the input axis."""
    w2 = w.reshape(w.shape[0], -1)
    return _relative_error(get_format(name).quantize(w2, axis=1), w2)


def stored_bits_per_value(name: str) -> float:
    """Element bits + block-scale bits (and cap-index bits) per value; per-tensor scales are not counted."""
    f = get_format(name)
    return f.bits + getattr(f, "scale_bits", 8) / f.default_block


def _relative_error(q: np.ndarray, w: np.ndarray) -> float:
    d = (q - w).astype(np.float64)
    return float((d * d).sum() / (w.astype(np.float64) ** 2).sum())


def kurtosis(w: np.ndarray) -> float:
    x = w.reshape(-1).astype(np.float64)
    x = x - x.mean()
    return float((x**4).mean() / (x**2).mean() ** 2)


def grid_table() -> list[str]:
    lines = ["| format | non-negative levels, normalised to max 1 |", "|---|---|"]
    for name in GRID_FORMATS_4BIT:
        lv = get_format(name).levels
        pos = lv[lv >= 0] / np.abs(lv).max()
        neg = "" if np.array_equal(np.sort(-lv), lv) else " (not symmetric)"
        lines.append(f"| {name} | {' '.join(f'{v:.3g}' for v in pos)}{neg} |")
    return lines


def plot_grids(path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 0.42 * len(GRID_FORMATS_4BIT) + 1))
    for i, name in enumerate(GRID_FORMATS_4BIT):
        lv = get_format(name).levels
        lv = lv / np.abs(lv).max()
        ax.scatter(lv, np.full(lv.shape, i), s=18, color="C3" if name.startswith("dybit") else "C0")
    ax.set_yticks(range(len(GRID_FORMATS_4BIT)), GRID_FORMATS_4BIT)
    ax.invert_yaxis()
    ax.set_xlabel("level / max |level|")
    ax.set_title("4-bit value grids (DyBit in red)")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_mse(path: Path, tensors: list[str], results: dict, bits: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = mse_formats(bits)
    fig, ax = plt.subplots(figsize=(11, 4.5))
    width = 0.8 / len(tensors)
    for j, t in enumerate(tensors):
        ax.bar(np.arange(len(names)) + j * width, [results[(bits, t, n)] for n in names], width, label=t)
    ax.set_xticks(np.arange(len(names)) + 0.4 - width / 2, names, rotation=60, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("relative MSE (log)")
    ax.set_title(f"{bits}-bit formats, per-channel MSE-searched scales")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def build(out: Path, *, real: bool = True, progress: bool = True) -> Path:
    from tqdm import tqdm

    out.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, np.ndarray] = {}
    missing = ""
    if real:
        from workloads.pretrained import WeightsNotFound, real_weight_tensors

        try:
            tensors.update(real_weight_tensors())
        except WeightsNotFound as exc:
            missing = str(exc)
    tensors.update(synthetic_tensors())
    jobs = [(b, t, n) for b in (4, 3) for t in tensors for n in mse_formats(b)]
    results = {}
    t0 = time.perf_counter()
    for b, t, n in tqdm(jobs, desc="relative MSE", disable=not progress, file=sys.stderr):
        results[(b, t, n)] = relative_mse(n, tensors[t])
    block_jobs = [(t, row) for t in tensors for row in block_rows()]
    block = {(t, label): block_relative_mse(n, tensors[t], pow2=pow2)
             for t, (label, n, pow2, _) in tqdm(block_jobs, desc="per-block MSE", disable=not progress,
                                                 file=sys.stderr)}
    own = {(t, n): own_rule_relative_mse(n, tensors[t]) for t in tensors for n in OWN_RULE_FORMATS_4BIT}
    acts = activation_tensors()
    act_res = {(t, n): activation_relative_mse(n, x) for t, x in acts.items()
               for n in ACT_TENSOR_FORMATS + ACT_BLOCK_FORMATS}
    elapsed = time.perf_counter() - t0
    plot_grids(out / "formats_grids.png")
    plot_mse(out / "formats_mse.png", list(tensors), results, 4)

    lines = ["# Number formats: value grids and quantisation error", "",
             "Regenerate with `make formats-report` (runs `python -m quant.report --out reports`).", "",
             "DyBit here follows the paper's public description (sign, a variable-length exponent closed by a "
             "separator bit, a mantissa filling the rest, adapted to each tensor); the paper's bit tables are "
             "not published, and `cap` (where the exponent run stops) is this project's parameterisation. "
             "`dybitN` picks the cap per output channel by minimum MSE; `dybitNe1` also chooses whether the exponent "
             "run steps one or two binades (this project's extension, README \"DyBit, as defined in this project\").",
             "",
             "## 4-bit value grids", "", "![4-bit grids](formats_grids.png)", "", *grid_table(), "",
             "## Relative MSE on real trained weights and synthetic samples", "",
             "‖Q(W) − W‖² / ‖W‖², per-output-channel scale chosen by MSE search over clip ratios 0.2–1.0 and, "
             "for formats whose precision tapers toward their maximum (posits, high DyBit caps, FP8), "
             "scales that leave the top levels unused (quarter-octaves up to max level / median level); "
             "adaptive formats (`antN`, `dybitN`) also pick their grid per channel; `mxfp4` uses OCP MX "
             "32-element blocks with E8M0 scales instead of per-channel scales. Lower is better; "
             "**bold** is the best in each column.", ""]
    if missing:
        lines += [f"> Real weights were not available: {missing}", ""]
    lines += ["| tensor | shape | kurtosis |", "|---|---|---|"]
    lines += [f"| {t} | {'×'.join(map(str, w.shape))} | {kurtosis(w):.1f} |" for t, w in tensors.items()]
    for b in (4, 3):
        names = mse_formats(b)
        lines += ["", f"### {b}-bit", "", "| format | " + " | ".join(tensors) + " |",
                  "|---|" + "---|" * len(tensors)]
        best = {t: min(results[(b, t, n)] for n in names) for t in tensors}
        for n in names:
            cells = []
            for t in tensors:
                v = results[(b, t, n)]
                cells.append(f"**{v:.4f}**" if v == best[t] else f"{v:.4f}")
            lines.append(f"| {n} | " + " | ".join(cells) + " |")
    lines += ["", "![4-bit relative MSE](formats_mse.png)", "", "### Reading", ""]
    lines += reading(results, list(tensors))
    lines += block_section(block, list(tensors))
    lines += own_rule_section(own, list(tensors))
    lines += activation_section(acts, act_res)
    lines += ["", f"_{len(jobs) + len(block_jobs) + len(own) + len(act_res)} measurements in {elapsed:.0f} s._", ""]
    path = out / "formats.md"
    path.write_text("\n".join(lines))
    return path


def block_section(block: dict, tensors: list[str]) -> list[str]:
    """The 4-bit formats at the MX granularity, with FP32 and with E8M0 block scales."""
    rows = block_rows()
    lines = ["", f"## 4-bit at the MX granularity: one scale per {BLOCK} values", "",
             f"The same relative MSE with one scale per {BLOCK} consecutive values along the input axis (the OCP "
             "MX block), chosen by MSE search; `E8M0` restricts the scales to powers of two, as MX stores them "
             "(the best of: the smallest power of two ≥ amax / max level, the 3 below it, and those above it "
             "up to the grid's taper, max level / median level). `dybit4` picks its cap per block "
             "too (2 more bits per block); `dybit4c2` is the E2M1 grid up to scale, so it would repeat the "
             "`e2m1` rows. Bits/value counts the block scale (and cap) in the storage. "
             "**Bold** is the best in each column among the rows with the same scale type.", "",
             "| format, block scale | bits/value | " + " | ".join(tensors) + " |",
             "|---|---|" + "---|" * len(tensors)]
    for label, _, pow2, bits in rows:
        same = [lab for lab, _, p, _ in rows if p == pow2]
        cells = []
        for t in tensors:
            v = block[(t, label)]
            cells.append(f"**{v:.4f}**" if v == min(block[(t, lab)] for lab in same) else f"{v:.4f}")
        lines.append(f"| {label} | {bits:.4g} | " + " | ".join(cells) + " |")
    e8 = [lab for lab, _, p, _ in rows if p]
    wins = [t for t in tensors if min(e8, key=lambda lab: block[(t, lab)]) == "dybit4, E8M0 scale"]
    vs_mx = [block[(t, "dybit4, E8M0 scale")] / block[(t, "mxfp4 (OCP MX rule), E8M0 scale")] for t in tensors]
    lines += ["", f"- With E8M0 block scales, adaptive `dybit4` has the lowest error on {len(wins)} of "
              f"{len(tensors)} tensors; its error is {min(vs_mx):.2f}–{max(vs_mx):.2f}× that of `mxfp4` "
              f"(at {4 + 10 / BLOCK:.4g} vs {4 + 8 / BLOCK:.4g} bits/value)."]
    return lines


def own_rule_section(own: dict, tensors: list[str]) -> list[str]:
    """Block- and group-scaled formats as the hardware stores them, each with its own scale rule."""
    lines = ["", "## 4-bit block- and group-scaled formats, each with its own stored scales", "",
             "Each format computes its scales from the tensor itself (no search over clip ratios), blocks along the "
             "input axis: `mxfp4` the OCP MX rule (E8M0 per 32); `nvfp4` NVIDIA's (E4M3 per 16 × an FP32 per-tensor "
             "scale); `mxdybit4` / `nvdybit4` DyBit with the same scale storage as `mxfp4` / `nvfp4` and the cap "
             "chosen per block (E8M0: the better of the two powers of two around the block maximum; `…c2`, `…c3`: "
             "one fixed cap, the same bits per value as the rival; `mxdybit4c2` is E2M1's grid at half scale, so it "
             "differs from `mxfp4` only by that rule); `…e1` also chooses the wider exponent step per block; "
             "`int4gG` an FP16 scale per G values (symmetric, the W4A16 group format). Bits/value counts the block "
             "scales and cap index (not the per-tensor FP32). "
             "**Bold** is the best in each column.", "",
             "| format | bits/value | " + " | ".join(tensors) + " |", "|---|---|" + "---|" * len(tensors)]
    for n in OWN_RULE_FORMATS_4BIT:
        cells = []
        for t in tensors:
            v = own[(t, n)]
            cells.append(f"**{v:.4f}**" if v == min(own[(t, m)] for m in OWN_RULE_FORMATS_4BIT) else f"{v:.4f}")
        lines.append(f"| {n} | {stored_bits_per_value(n):.4g} | " + " | ".join(cells) + " |")
    lines.append("")
    for dy, rival in (("mxdybit4c2", "mxfp4"), ("mxdybit4c3", "mxfp4"), ("mxdybit4", "mxfp4"),
                      ("nvdybit4c3", "nvfp4"), ("nvdybit4", "nvfp4"), ("nvdybit4e1", "nvfp4")):
        ratio = [own[(t, dy)] / own[(t, rival)] for t in tensors]
        better = sum(r < 1 for r in ratio)
        lines.append(f"- `{dy}` ({stored_bits_per_value(dy):.4g} bits/value) vs `{rival}` "
                     f"({stored_bits_per_value(rival):.4g}): {ratio_range(ratio)}× its error, lower on {better} of "
                     f"{len(tensors)} tensors.")
    return lines


def ratio_range(r: list[float]) -> str:
    return f"{min(r):.2f}–{max(r):.2f}"


def reading(results: dict, tensors: list[str]) -> list[str]:
    """Plain statements computed from the numbers, including where DyBit loses."""
    out = []
    for b in (4, 3):
        names = mse_formats(b)
        rivals = [n for n in names if n != f"dybit{b}e1"]  # the project's DyBit; the extension is read below
        wins = [t for t in tensors if min(rivals, key=lambda n: results[(b, t, n)]) == f"dybit{b}"]
        fixed_best = {t: min((n for n in names if n.startswith("dybit") and "c" in n[5:]),
                             key=lambda n: results[(b, t, n)]) for t in tensors}
        losers = {t: min(rivals, key=lambda n: results[(b, t, n)]) for t in tensors if t not in wins}
        out.append(f"- {b}-bit: adaptive `dybit{b}` has the lowest error on {len(wins)} of {len(tensors)} tensors"
                   + (f" ({', '.join(wins)})" if wins else "") + ".")
        if losers:
            out.append("  Where it loses, the winner is: "
                       + "; ".join(f"{t}: `{n}` ({results[(b, t, n)]:.4f} vs {results[(b, t, f'dybit{b}')]:.4f})"
                                   for t, n in losers.items()) + ".")
        out.append("  Best fixed cap per tensor: " + ", ".join(f"{t} → `{n}`" for t, n in fixed_best.items()) + ".")
        wide = [results[(b, t, f"dybit{b}e1")] / results[(b, t, f"dybit{b}")] for t in tensors]
        wide_wins = [t for t in tensors if min(names, key=lambda n: results[(b, t, n)]) == f"dybit{b}e1"]
        out.append(f"  With the wider exponent step as a choice, `dybit{b}e1` has {ratio_range(wide)}× the error of "
                   f"`dybit{b}`, lower on {sum(r < 1 for r in wide)} of {len(tensors)} tensors, and the lowest of all "
                   f"on {len(wide_wins)}" + (f" ({', '.join(wide_wins)})" if wide_wins else "") + ".")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Regenerate the number-format report")
    ap.add_argument("--out", default="reports", type=Path)
    ap.add_argument("--synthetic-only", action="store_true", help="skip the real trained weights")
    args = ap.parse_args(argv)
    path = build(args.out, real=not args.synthetic_only)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
