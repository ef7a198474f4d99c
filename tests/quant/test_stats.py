"""Confidence intervals and paired tests against hand-computed cases."""
import math

import numpy as np
import pytest

from quant.stats import bootstrap_ci, mcnemar, paired_bootstrap, wilson


def test_wilson_matches_the_closed_form():
    lo, hi = wilson(90, 100)  # p = 0.9, n = 100, z = 1.96: centre 0.8825…, half-width 0.0629…
    z = 1.959963984540054
    centre = (0.9 + z * z / 200) / (1 + z * z / 100)
    half = z * math.sqrt(0.9 * 0.1 / 100 + z * z / 40000) / (1 + z * z / 100)
    assert (lo, hi) == pytest.approx((centre - half, centre + half))
    assert lo == pytest.approx(0.8256, abs=1e-4) and hi == pytest.approx(0.9448, abs=1e-4)
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == pytest.approx(1.0)


def test_mcnemar_exact_p_value_by_hand():
    # b = 10 discordant pairs one way, c = 2 the other: p = 2·(C(12,0)+C(12,1)+C(12,2))/2^12 = 158/4096
    a = np.array([1] * 10 + [0] * 2 + [1] * 50 + [0] * 5, bool)
    b = np.array([0] * 10 + [1] * 2 + [1] * 50 + [0] * 5, bool)
    assert mcnemar(a, b) == (10, 2, pytest.approx(158 / 4096))
    assert mcnemar(a, a)[2] == 1.0  # no discordant pair
    assert mcnemar([1, 0], [0, 1])[2] == 1.0  # b = c = 1: p = 2·(1/4 + 2/4) capped at 1


def test_paired_bootstrap_on_constant_and_null_differences():
    x = np.linspace(0, 1, 50)
    d, lo, hi, p = paired_bootstrap(x + 0.1, x)
    assert (d, lo, hi) == pytest.approx((0.1, 0.1, 0.1)) and p == 0.0  # every resample is +0.1
    assert paired_bootstrap(x, x) == (0.0, 0.0, 0.0, 1.0)
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 1, 400)
    assert paired_bootstrap(noise, np.zeros(400))[3] > 0.05  # zero-mean noise: no significant difference


def test_bootstrap_ci_covers_the_mean_and_shrinks_with_n():
    rng = np.random.default_rng(1)
    small, big = rng.random(100) < 0.7, rng.random(10000) < 0.7
    lo1, hi1 = bootstrap_ci(small.astype(float))
    lo2, hi2 = bootstrap_ci(big.astype(float))
    assert lo1 <= small.mean() <= hi1 and lo2 <= big.mean() <= hi2
    assert hi2 - lo2 < (hi1 - lo1) / 5
