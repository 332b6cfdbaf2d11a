"""ROC metrics: known answers against scikit-learn and closed forms."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from attacks.epsilon import clopper_pearson, empirical_epsilon
from attacks.metrics import (
    LowFPRWarning,
    advantage,
    auc,
    auc_from_ranks,
    balanced_accuracy,
    calibrate_threshold,
    tpr_at_fpr,
)


@pytest.mark.parametrize("seed", range(5))
def test_auc_equals_sklearn_exactly_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    m = rng.integers(0, 2, 400)
    s = np.round(rng.normal(size=400) + 0.5 * m, 1)  # rounding makes many ties
    assert auc(s, m) == roc_auc_score(m, s)
    assert auc_from_ranks(s[m == 1], s[m == 0]) == pytest.approx(roc_auc_score(m, s), abs=1e-12)


def test_auc_from_ranks_is_vectorised_over_resamples() -> None:
    rng = np.random.default_rng(0)
    pos, neg = rng.normal(1, 1, (7, 50)), rng.normal(0, 1, (7, 80))
    got = auc_from_ranks(pos, neg)
    want = [roc_auc_score(np.r_[np.ones(50), np.zeros(80)], np.r_[p, q]) for p, q in zip(pos, neg, strict=True)]
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_member_is_positive_class() -> None:
    assert auc(np.array([1.0, 0.0]), np.array([1, 0])) == 1.0
    assert auc(np.array([0.0, 1.0]), np.array([1, 0])) == 0.0


def test_tpr_at_fpr_known_answer_and_warning() -> None:
    neg = np.arange(1000) / 1000.0  # 0 .. 0.999
    pos = np.r_[np.full(30, 2.0), np.full(70, 0.5)]
    s, m = np.r_[pos, neg], np.r_[np.ones(100), np.zeros(1000)]
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = tpr_at_fpr(s, m)
    assert out[0.01] == pytest.approx(0.30)  # threshold above 0.99 lets only the 2.0s through
    assert out[0.001] == pytest.approx(0.30)
    assert [x.category for x in w] == [LowFPRWarning]  # only 0.01 % is unresolvable with 1000


def test_threshold_is_calibrated_on_held_out_data_not_the_evaluation_set() -> None:
    rng = np.random.default_rng(1)
    m = rng.integers(0, 2, 2000)
    held, ev = rng.normal(size=2000) + m, rng.normal(size=2000) + m
    t = calibrate_threshold(held, m)
    assert 0.2 < t < 0.8  # the two unit normals cross at 0.5
    ba = balanced_accuracy(ev, m, t)
    assert ba == balanced_accuracy_score(m, (ev >= t).astype(int))
    assert advantage(ev, m, t) == pytest.approx(2 * ba - 1)


def test_pure_noise_scores_give_no_advantage() -> None:
    rng = np.random.default_rng(2)
    m = rng.integers(0, 2, 4000)
    t = calibrate_threshold(rng.normal(size=4000), m)
    assert abs(advantage(rng.normal(size=4000), m, t)) < 0.06


def test_clopper_pearson_matches_scipy_binomtest() -> None:
    from scipy.stats import binomtest

    got = clopper_pearson(np.array([3]), np.array([50]), 0.95)[0]
    want = binomtest(3, 50).proportion_ci(0.90, method="exact").high  # one-sided 95 % = two-sided 90 %
    assert got == pytest.approx(want, rel=1e-9)


def test_empirical_epsilon_perfect_attack_closed_form() -> None:
    s = np.r_[np.ones(500), np.zeros(500)]
    b = empirical_epsilon(s, s, thresholds=np.array([0.5]))
    fpr_hi = 1 - 0.05 ** (1 / 500)  # CP upper bound with zero errors
    assert b.epsilon_lb == pytest.approx(np.log((1 - fpr_hi) / fpr_hi), rel=1e-9)


def test_empirical_epsilon_near_zero_for_random_scores() -> None:
    rng = np.random.default_rng(3)
    m = rng.integers(0, 2, 3000)
    assert empirical_epsilon(rng.normal(size=3000), m).epsilon_lb < 0.1


def test_bad_input_rejected() -> None:
    with pytest.raises(ValueError):
        auc(np.array([0.1, 0.2]), np.array([1, 1]))
    with pytest.raises(ValueError):
        auc(np.array([np.nan, 0.2]), np.array([1, 0]))
