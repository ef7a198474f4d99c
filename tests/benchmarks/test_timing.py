"""The benchmarks' confidence interval of a median ratio: right ranks, right coverage."""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from _timing import median_ratio, median_ratio_ci  # noqa: E402


def test_ranks_for_15_rounds_are_the_4th_smallest_and_largest():
    ratios = np.arange(1, 16, dtype=float)  # 2·P(Bin(15, ½) <= 3) = 0.035 <= 0.05 < 2·P(<= 4) = 0.118
    assert median_ratio_ci(ratios, np.ones(15)) == (4.0, 12.0)


def test_few_rounds_give_the_full_range():
    assert median_ratio_ci([3.0, 1.0, 2.0], [1.0, 1.0, 1.0]) == (1.0, 3.0)


def test_coverage_is_at_least_the_level_on_noisy_rounds():
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(2000):
        t, ref = rng.lognormal(0, 0.05, 15), rng.lognormal(0, 0.05, 15)
        lo, hi = median_ratio_ci(t, ref)
        assert lo <= median_ratio(t, ref) <= hi
        hits += lo <= 1.0 <= hi
    assert 0.94 <= hits / 2000 <= 0.99
