"""Simulator speed: DES and analytic engines on whole networks, ratios measured in one run.

    python benchmarks/sim_speed.py

ResNet-18 (exact PyTorch shapes) on a 32×32 WS array with 64 KiB buffers, 8-bit — the setting in which
SCALE-Sim 3.0.0 took 456 s / 6.4 GB (stall-free mode) and ZigZag 3.9.1 took 66 s here (recorded in
shared/research/simulators.md; they are not re-run by this script). Targets: ResNet-18 DES ≤ 2 s,
analytic ≤ 0.1 s; ResNet-50 DES ≤ 5 s; BERT-base ≤ 10 s; peak memory ≤ 500 MB. Each run starts with a
cold mapping cache.
"""
from __future__ import annotations

import resource
import time
import tracemalloc

from archsim import load_hw, simulate
from archsim.simulate import _cached_mapping
from workloads import load_workload

SCALESIM_S, ZIGZAG_S = 456.0, 66.0  # recorded in shared/research/simulators.md §4 (same network, same array)


PEAK = {"bytes": 0}


def timed(graph, hw, engine):
    _cached_mapping.cache_clear()
    t0 = time.perf_counter()
    r = simulate(graph, hw, "int8", engine)
    return time.perf_counter() - t0, r


def peak_alloc(graph, hw):
    """Peak bytes allocated by one DES run (a separate, untimed run: tracemalloc slows Python ~5×)."""
    _cached_mapping.cache_clear()
    tracemalloc.start()
    simulate(graph, hw, "int8", "des")
    PEAK["bytes"] = max(PEAK["bytes"], tracemalloc.get_traced_memory()[1])
    tracemalloc.stop()


def main() -> int:
    hw = load_hw("default").with_overrides({"array.rows": 32, "array.cols": 32, "buffers.weight.kib": 64,
                                            "buffers.input.kib": 64, "buffers.output.kib": 64})
    targets = {"resnet18": (2.0, 0.1), "resnet50": (5.0, None), "bert_base": (10.0, None), "mobilenet_v2": (None, None)}
    print(f"{'model':14s} {'DES s':>8s} {'analytic s':>11s} {'DES/analytic':>13s} {'events':>8s} {'events/s':>10s} "
          f"{'µs/tile':>8s} {'cycles DES':>12s} {'cycles analytic':>16s}")
    ok = True
    for name, (t_des_max, t_ana_max) in targets.items():
        g = load_workload(name)
        simulate(g, hw, "int8", "analytic")  # warm imports
        t_ana, ra = timed(g, hw, "analytic")
        t_des, rd = timed(g, hw, "des")
        ev = rd.total["events"]
        print(f"{name:14s} {t_des:8.3f} {t_ana:11.4f} {t_des / t_ana:13.1f} {ev:8d} {ev / t_des:10.0f} "
              f"{t_des / max(ev, 1) * 1e6:8.1f} {rd.total['cycles']:12,.0f} {ra.total['cycles']:16,.0f}")
        if t_des_max is not None and t_des > t_des_max:
            ok = False
            print(f"MISS  {name} DES {t_des:.2f} s > {t_des_max} s")
        if t_ana_max is not None and t_ana > t_ana_max:
            ok = False
            print(f"MISS  {name} analytic {t_ana:.3f} s > {t_ana_max} s")
        if name == "resnet18":
            r18 = t_des
        peak_alloc(g, hw)
    peak_mb = PEAK["bytes"] / 2**20
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory allocated by a simulation {peak_mb:.0f} MB (target ≤ 500 MB); process peak RSS "
          f"{rss_mb:.0f} MB, most of it torch and the models' weights loaded to extract the graphs")
    print(f"ResNet-18 DES vs recorded SCALE-Sim 3.0.0 ({SCALESIM_S:.0f} s): {SCALESIM_S / r18:,.0f}× faster; "
          f"vs ZigZag 3.9.1 ({ZIGZAG_S:.0f} s): {ZIGZAG_S / r18:,.0f}× faster")
    ok &= peak_mb <= 500
    print("PASS" if ok else "MISS", " all speed targets")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
