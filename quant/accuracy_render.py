"""Markdown and JSON for the real-model accuracy report (``quant.accuracy_report``)."""
from __future__ import annotations

from quant.stats import bootstrap_ci, mcnemar, paired_bootstrap

METHOD_TEXT = {"mse": "weight MSE", "output": "output-aware", "gptq": "output-aware + GPTQ"}


def _fmt(v: float, kind: str) -> str:
    return f"{100 * v:.1f}" if kind == "classification" else f"{v:.3f}"


def _p(p: float) -> str:
    """A p-value as printed: a paired bootstrap's 0 (no resample of 2,000 crossed zero) is below 2/2,000."""
    return "< 0.001" if p == 0 else f"{p:.3g}"


def to_json(meta, results) -> dict:
    return {"models": meta, "rows": [
        {"model": t, "setting": s, "method": m, "format": f, "per_set": r["per_set"].mean(1).tolist(),
         "mean": float(r["per_set"].mean()), "extra": r["extra"], "seconds": r["seconds"],
         "seconds_by": r["seconds_by"], "fallback": r["fallback"]}
        for (t, s, m, f), r in results.items()]}


def _rows(results, tname, setting, min_sets: int = 1):
    return {(m, f): r for (t, s, m, f), r in results.items()
            if t == tname and s == setting and len(r["per_set"]) >= min_sets}


def paired_test(kind, a, b) -> dict:
    """DyBit row a vs rival row b on the same items (and the same calibration sets)."""
    if kind == "classification":
        n01, n10, p = mcnemar(a["per_set"].reshape(-1) > 0.5, b["per_set"].reshape(-1) > 0.5)
        d = float(a["per_set"].mean() - b["per_set"].mean())
        return {"diff": d, "p": p, "detail": f"McNemar b={n01}, c={n10} (pooled over the calibration sets)"}
    d, lo, hi, p = paired_bootstrap(a["per_set"].mean(0), b["per_set"].mean(0))
    return {"diff": d, "p": p, "detail": f"paired bootstrap ΔMRR 95 % CI [{lo:+.3f}, {hi:+.3f}]"}


def is_dybit(name: str) -> bool:
    """DyBit and its block-scaled variants (``mxdybitN…``, ``nvdybitN…``): one family, never each other's rival."""
    return name.startswith(("dybit", "mxdybit", "nvdybit"))


def best_pair(rows, bpv, method=None):
    """(best DyBit (method, fmt) that has a rival of equal bits per value, that best rival) among rows (optionally
    of one method); a DyBit row without an equal-bits rival (e.g. ``nvdybit4``'s 4.625 bits) is not compared.
    Without any such pair: (best DyBit, None)."""
    mean = {k: float(r["per_set"].mean()) for k, r in rows.items() if method in (None, k[0])}
    dy = [k for k in mean if is_dybit(k[1])]
    if not dy:
        return None, None

    def rivals(d):
        return [k for k in mean if not is_dybit(k[1]) and abs(bpv(k[1]) - bpv(d[1])) < 1e-6]

    paired = [d for d in dy if rivals(d)]
    if not paired:
        return max(dy, key=mean.get), None
    best_d = max(paired, key=mean.get)
    return best_d, max(rivals(best_d), key=mean.get)


def render(meta, results, settings, methods, fmt_lists, calib_sets, elapsed, quick, workers=1,
           spread="all") -> str:
    from quant.accuracy_report import EXCLUDE, SETTINGS, bits_per_value, report_formats
    from quant.tasks import TASKS

    partial = not quick and (set(meta) != set(TASKS) or list(settings) != list(SETTINGS))
    subset = (f" **A part of the report**: models {', '.join(meta)}, settings {', '.join(settings)} (`python -m "
              f"quant.accuracy_report --out reports --models {','.join(meta)} --settings {','.join(settings)}`); the "
              f"other models and settings were not run. The whole report is `make accuracy-report`.")
    L = ["# Accuracy of quantised real models", "",
         "Regenerate with `make accuracy-report` (runs `python -m quant.accuracy_report --out reports`)."
         + (" **Quick subset (`--quick`): tiny test and calibration sets, not for conclusions.**" if quick else "")
         + (subset if partial else ""),
         "",
         "Settings: W4A16 and W3A16 quantise weights only (activations FP32); W4A8 = the format's weights with "
         "INT8 activations, W8A4 = INT8 weights with the format's activations, W4A4 = both. Weights per output "
         "channel, activations per tensor (calibrated scale, MSE); OCP MX formats scale each 32 values along "
         "the reduction by their own maximum, at run time. First and last layers INT8. "
         + (f"Every row is calibrated {calib_sets}× on disjoint calibration sets" if spread == "all" else
            f"The compared rows are calibrated {calib_sets}× on disjoint calibration sets, the others once")
         + ": the value is the mean, the CI a "
         "95 % bootstrap interval over the test items of the calibration-averaged per-item score (2,000 "
         "resamples), the spread the min–max over the sets. Weight calibration (`quant.calibration`): "
         "**weight MSE** = the project's per-channel weight-MSE scale (and grid for `dybitN`/`antN`); "
         "**output-aware** = grid and scale per channel chosen by the layer-output error ΔW·H·ΔWᵀ on the "
         "calibration inputs; **+ GPTQ** = those scales, then error-compensating rounding column by column. "
         "OCP MX block scales follow their rule in every method (nothing to choose); GPTQ still rounds them.",
         "", "Formats: every registered format at the bit width, one per distinct grid; not shown: "
         + "; ".join(f"`{p.replace(chr(92) + 'd', 'N')}` ({why})" for p, why in EXCLUDE.items()) + "."]
    for bits in sorted(fmt_lists):
        same = report_formats(bits)[1]
        if same:
            L.append(f"At {bits} bits the same grid as a listed format: "
                     + ", ".join(f"`{a}` = `{b}`" for a, b in same.items()) + ".")
    L += ["", "## Summary: best DyBit vs the best rival of equal bits per value", "",
          (f"Stage 1 runs every format on all {calib_sets} calibration sets (output-aware calibration); "
           if spread == "all" else "Stage 1 runs every format once (`--spread compared`: output-aware "
           "calibration, calibration set 1; by default every row runs on every set, about twice the time); ")
          + "stage 2 runs the best "
          f"DyBit row (block-scaled `mxdybit`/`nvdybit` included) that has a rival of equal bits per value, and that "
          f"best rival, of stage 1 on all {calib_sets} calibration sets, "
          + ("with the other methods listed per setting." if spread == "all" else
             "with output-aware calibration and the other methods listed per setting.") + " The comparison below is "
          "between stage-2 rows (best of any method); p from McNemar (accuracy) or a paired bootstrap (MRR); "
          "*tie* when p ≥ 0.05.", "",
          "| model | setting | best DyBit | best rival (same bits/value) | Δ | p | verdict |",
          "|---|---|---|---|---|---|---|"]
    verdicts = []
    for t, mt in meta.items():
        for st in settings:
            rows = _rows(results, t, st, min(calib_sets, 2))
            d, r = best_pair(rows, bits_per_value)
            if d is None or r is None:
                continue
            test = paired_test(mt["kind"], rows[d], rows[r])
            v = "tie" if test["p"] >= 0.05 else ("**DyBit wins**" if test["diff"] > 0 else "DyBit loses")
            verdicts.append((t, st, v))
            unit = " pts" if mt["kind"] == "classification" else ""
            dd = 100 * test["diff"] if mt["kind"] == "classification" else test["diff"]
            L.append(f"| {mt['title'].split(' (')[0]} | {st} | `{d[1]}` {METHOD_TEXT[d[0]]} "
                     f"{_fmt(rows[d]['per_set'].mean(), mt['kind'])} | `{r[1]}` {METHOD_TEXT[r[0]]} "
                     f"{_fmt(rows[r]['per_set'].mean(), mt['kind'])} | {dd:+.2f}{unit} | {_p(test['p'])} | {v} |")
    n_w4 = sum(1 for t, st, v in verdicts if st == "W4A16" and "wins" in v)
    n_bad = [(t, st) for t, st, v in verdicts if "loses" in v]
    L += ["", f"Target (issue 21): ties or wins everywhere, and wins W4A16 on ≥ 2 models. Measured: DyBit wins "
          f"W4A16 on {n_w4} model(s); loses significantly in {len(n_bad)} of {len(verdicts)} model × setting "
          "cells" + (": " + ", ".join(f"{meta[t]['title'].split(' (')[0]} {st}" for t, st in n_bad) if n_bad else "")
          + ". The target is " + ("met." if n_w4 >= 2 and not n_bad else "**not met**.")]
    for t, mt in meta.items():
        L += _model_section(t, mt, results, settings, methods, calib_sets, bits_per_value)
    total = sum(r["seconds"] for r in results.values())
    L += ["", f"_{len(results)} rows in {elapsed / 60:.1f} min wall on {workers} worker process(es) of one "
          f"thread each ({total / 60:.1f} min in rows; " + ", ".join(f"{m['title'].split(' (')[0]} "
                                                                      f"{m['seconds'] / 60:.1f} min"
                                                         for m in meta.values()) + "; by stage: "
          + ", ".join(f"{STAGE_TEXT[k]} {v / 60:.1f} min" for k, v in _by_stage(results).items()) + ")._"]
    return "\n".join(L) + "\n"


STAGE_TEXT = {"build": "building quantised copies", "weights": "choosing weights (output-aware, GPTQ)",
              "calibrate": "calibrating activation scales (and weight-MSE weights)", "score": "scoring the test sets"}


def _by_stage(results) -> dict:
    from quant.accuracy_jobs import STAGES

    return {k: sum(r["seconds_by"][k] for r in results.values()) for k in STAGES}


def _model_section(t, mt, results, settings, methods, calib_sets, bpv) -> list[str]:
    kind = mt["kind"]
    fp = _fmt(mt["fp32"], kind)
    ex = "".join(f", {k} {v:.3f}" for k, v in mt["fp32_extra"].items() if k != "cosine")
    L = ["", f"## {mt['title']}", "", f"Data: {mt['data']}. Metric: {mt['metric']}"
         + (" (%)" if kind == "classification" else "") + f". FP32: **{fp}**{ex}.", ""]
    extra_cols = ["R@1", "cosine vs FP32"] if kind == "retrieval" else []
    for st in settings:
        rows = _rows(results, t, st)
        if not rows:
            continue
        best = max(float(r["per_set"].mean()) for r in rows.values())
        L += [f"### {st}", "", "| format | bits/value | calibration | " + mt["metric"] + " [95 % CI] | sets | "
              "spread over sets | Δ vs FP32 |" + "".join(f" {c} |" for c in extra_cols),
              "|---|---|---|---|---|---|---|" + "---|" * len(extra_cols)]
        order = sorted(rows.items(), key=lambda kv: (kv[0][0] != "output", kv[0][0], -kv[1]["per_set"].mean()))
        for (m, f), r in order:
            v = float(r["per_set"].mean())
            lo, hi = bootstrap_ci(r["per_set"].mean(0))
            sets = r["per_set"].mean(1)
            val = f"{_fmt(v, kind)} [{_fmt(lo, kind)}, {_fmt(hi, kind)}]"
            val = f"**{val}**" if v == best else val
            name = f"`{f}`" + (" †" if r["fallback"] else "")
            d = (v - mt["fp32"]) * (100 if kind == "classification" else 1)
            span = f"{_fmt(sets.min(), kind)}–{_fmt(sets.max(), kind)}" if len(sets) > 1 else "—"
            row = f"| {name} | {bpv(f):g} | {METHOD_TEXT[m]} | {val} | {len(sets)} | {span} | {d:+.2f} |"
            if kind == "retrieval":
                row += f" {r['extra']['R@1']:.3f} | {r['extra']['cosine']:.4f} |"
            L.append(row)
        fb = sorted({x for r in rows.values() for x in r["fallback"]})
        if fb:
            L.append(f"† some layers kept weight-MSE quantisers: {'; '.join(fb)}")
        full = _rows(results, t, st, min(calib_sets, 2))
        for m in ("output", *methods.get(st, ())):
            d, r = best_pair(full, bpv, m)
            if d is None or r is None:
                continue
            test = paired_test(kind, full[d], full[r])
            L.append(f"- {METHOD_TEXT[m]}: best DyBit `{d[1]}` vs best rival of equal bits/value `{r[1]}`: "
                     f"Δ {test['diff'] * (100 if kind == 'classification' else 1):+.2f}"
                     f"{' pts' if kind == 'classification' else ''}, p = {_p(test['p'])} ({test['detail']}).")
        L.append("")
    return L
