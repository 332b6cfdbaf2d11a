"""Statistics against peers (scipy) and known values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from audit.core.stats import (
    benjamini_hochberg,
    bootstrap_mean_ci,
    ci_level,
    exact_mcnemar,
    holm,
)


def test_percentile_bootstrap_matches_scipy() -> None:
    rng = np.random.default_rng(1)
    x = rng.exponential(size=400)
    lo, hi = bootstrap_mean_ci(x, 4000, 0.9, np.random.default_rng(2))
    ref = sps.bootstrap((x,), np.mean, n_resamples=4000, confidence_level=0.9,
                        method="percentile", random_state=3).confidence_interval
    assert lo == pytest.approx(ref.low, abs=0.02)
    assert hi == pytest.approx(ref.high, abs=0.02)


def test_paired_columns_share_resamples() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=300)
    b = a + 0.01  # identical up to a shift: the paired delta has no spread
    lo, hi = bootstrap_mean_ci(np.stack([a, b, a - b], 1), 500, 0.9, rng)
    assert lo[2] == pytest.approx(-0.01) and hi[2] == pytest.approx(-0.01)


def test_bootstrap_is_reproducible_and_chunked() -> None:
    x = np.random.default_rng(0).normal(size=50_000)
    r1 = bootstrap_mean_ci(x, 1000, 0.9, np.random.default_rng(7))
    r2 = bootstrap_mean_ci(x, 1000, 0.9, np.random.default_rng(7))
    assert r1 == r2


def test_coverage_of_bootstrap_ci_is_close_to_nominal() -> None:
    rng = np.random.default_rng(5)
    hits = 0
    for _ in range(200):
        lo, hi = bootstrap_mean_ci(rng.normal(size=200), 400, 0.9, rng)
        hits += lo < 0 < hi
    assert 0.83 <= hits / 200 <= 0.96


def test_holm_matches_hand_computation() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # sorted: .005*4=.02, .01*3=.03, .03*2=.06, .04*1=.04 -> monotone .06
    assert holm(p).tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_bh_matches_scipy_and_hand_values() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005])
    assert benjamini_hochberg(p).tolist() == pytest.approx([0.02, 0.04, 0.04, 0.02])


def test_exact_mcnemar_matches_binomial() -> None:
    assert exact_mcnemar(10, 2) == pytest.approx(sps.binomtest(10, 12, 0.5).pvalue)
    assert exact_mcnemar(0, 0) == 1.0


def test_ci_level_for_tost() -> None:
    assert ci_level(0.05) == 0.9


def test_counts_bootstrap_matches_scipy_above_the_poisson_threshold() -> None:
    x = np.random.default_rng(8).lognormal(size=5000)  # skewed: the percentile ends differ
    lo, hi = bootstrap_mean_ci(x, 4000, 0.9, np.random.default_rng(2))
    ref = sps.bootstrap((x,), np.mean, n_resamples=4000, confidence_level=0.9,
                        method="percentile", random_state=3).confidence_interval
    half = (ref.high - ref.low) / 2
    assert lo == pytest.approx(ref.low, abs=0.06 * half) and hi == pytest.approx(ref.high, abs=0.06 * half)
