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


def median_ratio_ci(times, reference, level: float = 0.95) -> tuple[float, float]:
    """Distribution-free confidence interval of the median per-round ratio: the j-th smallest and j-th
    largest ratio, with j the largest rank for which 2·P(Binomial(n, ½) < j) <= 1 − level. It is the
    range the median would plausibly span on a rerun, i.e. the run's noise. Below 6 rounds no pair of
    ranks reaches 95 % and the full range of the ratios is returned."""
    import numpy as np
    from scipy.stats import binom

    r = np.sort(np.asarray(times) / np.asarray(reference))
    n = r.size
    j = 1
    while j < n // 2 and 2 * binom.cdf(j, n, 0.5) <= 1 - level:
        j += 1
    return float(r[j - 1]), float(r[n - j])
