"""Layer-graph extraction time per zoo model, as a ratio to one forward pass of the same model (same run).

    python benchmarks/extract_speed.py      (target: ResNet-50 under 2 s)
"""
from __future__ import annotations

import torch
from _timing import best_of

from workloads.extract import extract_graph
from workloads.zoo import get_entry, list_models


def main() -> int:
    torch.set_num_threads(1)
    print(f"{'model':16s} {'extract s':>10s} {'forward s':>10s} {'ratio':>7s} {'layers':>7s}")
    ok = True
    for name in list_models():
        e = get_entry(name)
        model = e.factory().eval()
        x = torch.randn(1, *e.input_shape)
        with torch.no_grad():
            t_fwd = best_of(lambda: model(x), warmup=False)  # noqa: B023
        t_ext = best_of(lambda: extract_graph(model, e.input_shape), warmup=False)  # noqa: B023
        g = extract_graph(model, e.input_shape)
        print(f"{name:16s} {t_ext:10.3f} {t_fwd:10.3f} {t_ext / t_fwd:7.1f} {len(g):7d}")
        if name == "resnet50":
            ok = t_ext < 2.0
    print(("PASS" if ok else "MISS") + "  ResNet-50 extraction < 2 s")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
