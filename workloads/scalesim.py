"""SCALE-Sim topology CSV, both ways.

SCALE-Sim (v2/v3) describes each layer as ``Layer name, IFMAP Height, IFMAP Width, Filter Height,
Filter Width, Channels, Num Filter, Strides`` and assumes **no padding**: its output size is
(IFMAP − Filter) / Stride + 1. To make SCALE-Sim's output sizes equal PyTorch's, the export writes the
*effective* input size (Ho − 1)·stride + kh (the padded input the filter actually slides over).
A batch > 1 conv is written as one row per image. Linear layers and matmuls are written as 1×1
convolutions over an M×1 input (M = rows, batch folded in). A grouped/depthwise conv is written with
Channels = C/groups and Num Filter = C_out, which keeps its MAC count (SCALE-Sim has no groups, so its
data reuse for such layers is not the real one).
"""
from __future__ import annotations

import csv
import io
from pathlib import Path

from workloads.errors import WorkloadError
from workloads.graph import LayerGraph

HEADER = ["Layer name", "IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width", "Channels", "Num Filter",
          "Strides"]


def to_scalesim_rows(graph: LayerGraph) -> list[list]:
    rows = []
    for d in graph.compute_layers():
        gm = d["gemm"]
        if d["op"] == "conv":
            (kh, kw), (sh, sw) = d["kernel"], d["stride"]
            ho, wo = d["out_shape"][-2], d["out_shape"][-1]
            batch = d["out_shape"][0]
            row = [(ho - 1) * sh + kh, (wo - 1) * sw + kw, kh, kw, gm["K"] // (kh * kw), d["out_channels"], sh]
            # SCALE-Sim has no batch dimension: one row per image
            rows += [[d["name"] if batch == 1 else f"{d['name']}@{b}", *row] for b in range(batch)]
        else:
            rows.append([d["name"], gm["batch"] * gm["M"], 1, 1, 1, gm["K"], gm["N"], 1])
    return rows


def to_scalesim_csv(graph: LayerGraph, path: str | Path | None = None) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([h for h in HEADER] + [""])
    for r in to_scalesim_rows(graph):
        w.writerow(r + [""])
    text = buf.getvalue()
    if path is not None:
        Path(path).write_text(text)
    return text


def from_scalesim_csv(text_or_path, name: str = "scalesim") -> LayerGraph:
    """A chain of conv layers (no padding, batch 1) from a SCALE-Sim topology file."""
    p = Path(text_or_path) if "\n" not in str(text_or_path) else None
    try:
        text = p.read_text() if p is not None else str(text_or_path)
    except OSError as exc:
        raise WorkloadError(f"cannot read SCALE-Sim topology {text_or_path}: {exc}") from None
    rows = [[c.strip() for c in r] for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
    if not rows or rows[0][0].lower() != "layer name":
        raise WorkloadError("not a SCALE-Sim topology CSV: the first row must start with 'Layer name'")
    g = LayerGraph(name=name)
    prev = None
    for lineno, r in enumerate(rows[1:], start=2):
        try:
            lname = r[0]
            h, w, kh, kw, c, k, s = (int(v) for v in r[1:8])
        except (ValueError, IndexError):
            raise WorkloadError(f"SCALE-Sim topology line {lineno}: expected a name and 7 integers, got {r}") from None
        if min(h, w, kh, kw, c, k, s) < 1 or kh > h or kw > w:
            raise WorkloadError(f"SCALE-Sim topology line {lineno} ({lname}): sizes must be positive and the "
                                f"filter no larger than the input")
        if prev is None:
            g.input_shape = (1, c, h, w)
            prev = g.add_layer("input", "input", out_shape=(1, c, h, w))
        ho, wo = (h - kh) // s + 1, (w - kw) // s + 1
        prev = g.add_layer(lname, "conv", [prev], in_shapes=[(1, c, h, w)], out_shape=(1, k, ho, wo),
                           weight_shape=(k, c, kh, kw), operands=["act", "weight"], kernel=(kh, kw), stride=(s, s),
                           padding=(0, 0), dilation=(1, 1), groups=1, in_channels=c, out_channels=k,
                           macs=ho * wo * kh * kw * c * k, weight_elems=k * c * kh * kw, act_in_elems=c * h * w,
                           act_out_elems=k * ho * wo, gemm={"batch": 1, "M": ho * wo, "N": k, "K": c * kh * kw})
    return g
