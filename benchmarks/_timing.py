"""Shared timing helper for the benchmark scripts: best of N wall-clock runs after one warm-up."""
from __future__ import annotations

import time


def best_of(fn, repeat: int = 3, warmup: bool = True) -> float:
    if warmup:
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)
