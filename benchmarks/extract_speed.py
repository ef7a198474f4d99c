"""Layer-graph extraction time per zoo model, as a ratio to one forward pass of the same model (same run).

    python benchmarks/extract_speed.py      (target: ResNet-50 under 2 s)
"""
from __future__ import annotations

import time

import torch

from workloads.extract import extract_graph
from workloads.zoo import get_entry, list_models


def best(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> int:
    torch.set_num_threads(1)
    print(f"{'model':16s} {'extract s':>10s} {'forward s':>10s} {'ratio':>7s} {'layers':>7s}")
    ok = True
    for name in list_models():
        e = get_entry(name)
        model = e.factory().eval()
        x = torch.randn(1, *e.input_shape)
        with torch.no_grad():
            t_fwd = best(lambda: model(x))  # noqa: B023
        t_ext = best(lambda: extract_graph(model, e.input_shape))  # noqa: B023
        g = extract_graph(model, e.input_shape)
        print(f"{name:16s} {t_ext:10.3f} {t_fwd:10.3f} {t_ext / t_fwd:7.1f} {len(g):7d}")
        if name == "resnet50":
            ok = t_ext < 2.0
    print(("PASS" if ok else "MISS") + "  ResNet-50 extraction < 2 s")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
