"""Confidence intervals and paired tests for accuracy comparisons over one test set.

- ``wilson`` — Wilson score interval of a proportion (95 %: z = 1.959964).
- ``bootstrap_ci`` — percentile bootstrap interval of the mean of per-item scores (seeded, vectorised).
- ``mcnemar`` — exact two-sided McNemar test on paired right/wrong outcomes: under H0 the discordant pairs
  split Binomial(b + c, ½); p = min(1, 2·P(X ≤ min(b, c))).
- ``paired_bootstrap`` — CI of the mean per-item difference of two systems on the same items, and the
  two-sided bootstrap p-value (twice the share of resampled differences on the far side of 0).
"""
from __future__ import annotations

import math

import numpy as np

Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    if n <= 0:
        raise ValueError(f"wilson: n must be > 0, got {n}")
    p = successes / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, centre - half), min(1.0, centre + half)


def _resample_means(scores: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(scores), size=(n_boot, len(scores)))
    return scores[idx].mean(1)


def bootstrap_ci(scores, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    s = np.asarray(scores, np.float64)
    means = _resample_means(s, n_boot, seed)
    a = (1 - level) / 2
    return float(np.quantile(means, a)), float(np.quantile(means, 1 - a))


def mcnemar(a_right, b_right) -> tuple[int, int, float]:
    """(b, c, p): b = items A got right and B wrong, c = the reverse; exact two-sided p-value."""
    a, b = np.asarray(a_right, bool), np.asarray(b_right, bool)
    n01, n10 = int((a & ~b).sum()), int((~a & b).sum())
    n = n01 + n10
    if n == 0:
        return n01, n10, 1.0
    k = min(n01, n10)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2.0**n
    return n01, n10, min(1.0, 2 * tail)


def paired_bootstrap(a_scores, b_scores, n_boot: int = 2000, seed: int = 0) -> tuple[float, float, float, float]:
    """(mean difference a − b, CI low, CI high, two-sided p) over the same items."""
    d = np.asarray(a_scores, np.float64) - np.asarray(b_scores, np.float64)
    means = _resample_means(d, n_boot, seed)
    lo, hi = np.quantile(means, [0.025, 0.975])
    if np.all(d == 0):
        return 0.0, 0.0, 0.0, 1.0
    p = min(1.0, 2 * min((means <= 0).mean(), (means >= 0).mean()))
    return float(d.mean()), float(lo), float(hi), float(p)
