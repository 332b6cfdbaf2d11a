"""Athena canary threshold and power: known answers, not the published off-by-one."""

import pytest
from scipy import stats

from audit.lab.canary import canary_power, canary_test, canary_threshold, queries_for_power
from audit.shared.errors import BadInput


def test_published_setting_threshold_is_10_not_9():
    assert canary_threshold(0.1, 30, 1e-3) == 10
    # 9 would violate the level: P(X >= 9) > alpha
    assert stats.binom.sf(8, 30, 0.1) > 1e-3
    assert stats.binom.sf(9, 30, 0.1) <= 1e-3


@pytest.mark.parametrize("q,n,alpha", [(0.1, 30, 1e-3), (0.5, 20, 0.05), (0.01, 100, 1e-2), (0.3, 7, 0.1)])
def test_threshold_is_smallest_k_at_level(q, n, alpha):
    k = canary_threshold(q, n, alpha)
    assert stats.binom.sf(k - 1, n, q) <= alpha
    assert stats.binom.sf(k - 2, n, q) > alpha


def test_no_threshold_when_too_few_queries():
    assert canary_threshold(0.5, 3, 1e-3) == 4  # even 3/3 has P = 0.125


def test_power_matches_binomial_tail():
    k = canary_threshold(0.1, 30, 1e-3)
    assert canary_power(0.5, 0.1, 30, 1e-3) == pytest.approx(stats.binom.sf(k - 1, 30, 0.5))
    assert canary_power(0.5, 0.1, 30, 1e-3) < canary_power(0.5, 0.1, 60, 1e-3)


def test_queries_for_power():
    n = queries_for_power(0.5, 0.1, 1e-3, power=0.95)
    assert canary_power(0.5, 0.1, n, 1e-3) >= 0.95
    assert canary_power(0.5, 0.1, n - 1, 1e-3) < 0.95


def test_decisions():
    assert not canary_test(10, 30, 0.1).deleted
    assert canary_test(9, 30, 0.1).deleted
    assert canary_test(9, 30, 0.1).p_value == pytest.approx(stats.binom.sf(8, 30, 0.1))


def test_bad_input():
    with pytest.raises(BadInput):
        canary_threshold(1.5, 30, 1e-3)
    with pytest.raises(BadInput):
        canary_test(31, 30, 0.1)
