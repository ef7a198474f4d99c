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


def interleaved(fns: dict, rounds: int = 7) -> dict:
    """Wall-clock times of several operations measured in interleaved rounds (every operation once per
    round, after one warm-up round), so that the machine's drift in speed during the run hits all of them
    alike and their ratios stay meaningful. The order is shuffled (seeded) every round: what ran just
    before (a freed buffer, a warm cache) otherwise biases an operation by a few per cent.
    Returns {name: [seconds per round]}."""
    import random

    order = random.Random(0)
    names = list(fns)
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(rounds):
        order.shuffle(names)
        for name in names:
            t0 = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - t0)
    return times


def median_ratio(times, reference) -> float:
    """Median over rounds of times[i] / reference[i] (two lists from one ``interleaved`` call)."""
    import numpy as np

    return float(np.median(np.asarray(times) / np.asarray(reference)))
