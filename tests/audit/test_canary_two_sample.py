"""Canary test against a retrain's *estimated* rate: exact Fisher, level held by simulation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from audit.lab.canary import canary_two_sample_power, canary_two_sample_test
from audit.shared.errors import BadInput

GRID = [(q, n) for q in (0.01, 0.05, 0.1, 0.3, 0.5, 0.9) for n in (30, 100, 300)]


@pytest.mark.parametrize("x_u,n,x_r,n_r", [(30, 100, 12, 100), (5, 30, 1, 30), (0, 50, 0, 80), (9, 20, 14, 60)])
def test_p_value_is_one_sided_fisher_exact(x_u: int, n: int, x_r: int, n_r: int) -> None:
    t = canary_two_sample_test(x_u, n, x_r, n_r)
    _, want = stats.fisher_exact([[x_u, n - x_u], [x_r, n_r - x_r]], alternative="greater")
    assert t.p_value == pytest.approx(want, rel=1e-9)
    # the threshold is the smallest count of U that is rejected given R's count
    if t.threshold <= n:
        assert not canary_two_sample_test(t.threshold, n, x_r, n_r).deleted
    if t.threshold >= 1:
        assert canary_two_sample_test(t.threshold - 1, n, x_r, n_r).deleted


def test_retrains_are_pooled() -> None:
    pooled = canary_two_sample_test(20, 100, [12, 9, 14], [100, 100, 100])
    assert (pooled.ref_successes, pooled.ref_n, pooled.q) == (35, 300, pytest.approx(35 / 300))
    assert pooled.p_value == pytest.approx(canary_two_sample_test(20, 100, 35, 300).p_value)


@pytest.mark.parametrize("alpha", [1e-3, 1e-2, 0.05])
def test_exact_size_is_at_most_alpha_for_every_rate(alpha: float) -> None:
    sizes = [canary_two_sample_power(q, q, n, n, alpha) for q, n in GRID]
    assert max(sizes) <= alpha
    sizes = [canary_two_sample_power(q, q, 100, 300, alpha) for q in (0.05, 0.3, 0.7)]  # pooled refs
    assert max(sizes) <= alpha


@pytest.mark.parametrize("alpha", [1e-3, 0.05])
def test_simulated_false_detection_rate_is_at_most_alpha(alpha: float) -> None:
    """20 000 (x_u, x_r) pairs per (q, n) with equal rates: the share of detections is at
    most alpha plus the Monte-Carlo slack (99.9 % binomial quantile), and agrees with the
    exact size. The old plug-in test (R's rate taken as known) fails this at 1e-3."""
    rng, m = np.random.default_rng(0), 20_000
    slack = stats.binom.ppf(0.999, m, alpha) / m
    for q, n in GRID:
        x_u, x_r = rng.binomial(n, q, m), rng.binomial(n, q, m)
        p = stats.hypergeom.sf(x_u - 1, 2 * n, x_u + x_r, n)  # what canary_two_sample_test computes
        rate = float(np.mean(p <= alpha))
        assert rate <= slack, (q, n, rate)
        exact = canary_two_sample_power(q, q, n, n, alpha)
        assert abs(rate - exact) <= 4 * np.sqrt(exact * (1 - exact) / m) + 1 / m, (q, n, rate, exact)


def test_spot_check_against_the_test_function() -> None:
    rng = np.random.default_rng(1)
    for _ in range(200):
        n, q = int(rng.integers(10, 120)), float(rng.uniform(0.02, 0.9))
        x_u, x_r = rng.binomial(n, q), rng.binomial(n, q)
        t = canary_two_sample_test(int(x_u), n, int(x_r), n, alpha=0.05)
        assert t.deleted == (stats.hypergeom.sf(x_u - 1, 2 * n, x_u + x_r, n) > 0.05)


def test_power_against_the_backdoor_rate_is_reported_and_right() -> None:
    t = canary_two_sample_test(40, 100, 10, 100, alpha=1e-3, p=0.4)
    assert t.power is not None and 0.5 < t.power < 1.0
    rng, m = np.random.default_rng(2), 20_000
    x_u, x_r = rng.binomial(100, 0.4, m), rng.binomial(100, 0.1, m)
    sim = float(np.mean(stats.hypergeom.sf(x_u - 1, 200, x_u + x_r, 100) <= 1e-3))
    assert t.power == pytest.approx(sim, abs=4 * np.sqrt(sim * (1 - sim) / m))
    assert canary_two_sample_power(0.9, 0.1, 100, 100, 1e-3) > 0.999999  # a planted backdoor
    assert canary_two_sample_test(5, 100, 10, 100).power is None


def test_bad_input() -> None:
    with pytest.raises(BadInput, match="canary.successes"):
        canary_two_sample_test(101, 100, 3, 100)
    with pytest.raises(BadInput, match="canary.ref_successes"):
        canary_two_sample_test(1, 100, 101, 100)
    with pytest.raises(BadInput, match="canary.n"):
        canary_two_sample_test(0, 0, 0, 100)
    with pytest.raises(BadInput, match="canary.alpha"):
        canary_two_sample_test(1, 10, 1, 10, alpha=0.0)
