"""Paired bootstrap of ROC metrics: agrees with the point metrics and pairs the rows."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from attacks.metrics import tpr_at_fpr
from attacks.resample import paired_roc_bootstrap, tpr_at_fpr_rows


def test_tpr_rows_match_roc_definition() -> None:
    rng = np.random.default_rng(0)
    for _ in range(5):
        pos, neg = np.round(rng.normal(1, 1, 120), 1), np.round(rng.normal(0, 1, 700), 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = tpr_at_fpr(np.r_[pos, neg], np.r_[np.ones(120), np.zeros(700)], (0.01, 0.1))
        got = tpr_at_fpr_rows(pos[None], neg[None], (0.01, 0.1))[0]
        assert got.tolist() == pytest.approx([want[0.01], want[0.1]])


def test_paired_bootstrap_of_identical_models_has_zero_difference() -> None:
    rng = np.random.default_rng(1)
    pos, neg = rng.normal(0.5, 1, 80), rng.normal(0, 1, 90)
    reps = paired_roc_bootstrap({"a": pos, "b": pos.copy()}, {"a": neg, "b": neg.copy()}, 300, rng, (0.1,))
    np.testing.assert_array_equal(reps["a"]["auc"], reps["b"]["auc"])
    assert reps["a"]["tpr"].shape == (300, 1)
    assert 0.02 < reps["a"]["auc"].std() < 0.08  # ~ the AUC sampling error at n = 80 + 90


def test_weighted_replicates_equal_ranking_the_resampled_scores() -> None:
    from attacks.metrics import auc_from_ranks

    rng = np.random.default_rng(3)
    pos, neg = np.round(rng.normal(0.7, 1, 150), 1), np.round(rng.normal(0, 1, 400), 1)  # ties
    reps = paired_roc_bootstrap({"m": pos}, {"m": neg}, 20, np.random.default_rng(9), (0.01, 0.05))
    draw = np.random.default_rng(9)  # the same draws: member rows, then non-member rows
    d1 = draw.integers(0, 150, size=(20, 150))
    d0 = draw.integers(0, 400, size=(20, 400))
    for b in range(20):
        i1, i0 = d1[b], d0[b]
        assert reps["m"]["auc"][b] == pytest.approx(auc_from_ranks(pos[i1], neg[i0]), abs=1e-12)
        want = tpr_at_fpr_rows(pos[i1][None], neg[i0][None], (0.01, 0.05))[0]
        np.testing.assert_allclose(reps["m"]["tpr"][b], want)


def test_weighted_roc_matches_sklearn_on_resampled_rows() -> None:
    from sklearn.metrics import roc_auc_score

    from attacks.counts import multinomial_counts
    from attacks.resample import weighted_roc

    rng = np.random.default_rng(5)
    pos, neg = np.round(rng.normal(0.6, 1, 1500), 1), np.round(rng.normal(0, 1, 2500), 1)  # ties
    w1 = multinomial_counts(1500, 6, rng, rows_first=True)
    w0 = multinomial_counts(2500, 6, rng, rows_first=True)
    auc, tpr = weighted_roc(pos, neg, w1, w0, (0.01, 0.1))
    for b in range(6):
        p, n = np.repeat(pos, w1[:, b]), np.repeat(neg, w0[:, b])
        want = roc_auc_score(np.r_[np.ones(len(p)), np.zeros(len(n))], np.r_[p, n])
        assert auc[b] == pytest.approx(want, abs=1e-12)
        np.testing.assert_allclose(tpr[b], tpr_at_fpr_rows(p[None], n[None], (0.01, 0.1))[0])


def test_poisson_path_replicates_spread_like_index_resampling() -> None:
    from attacks.metrics import auc_from_ranks

    rng = np.random.default_rng(6)
    pos, neg = rng.normal(0.3, 1, 1200), rng.normal(0, 1, 3000)  # cells above POISSON_FROM
    reps = paired_roc_bootstrap({"m": pos}, {"m": neg}, 600, np.random.default_rng(1), (0.05,))
    again = paired_roc_bootstrap({"m": pos}, {"m": neg}, 600, np.random.default_rng(1), (0.05,))
    np.testing.assert_array_equal(reps["m"]["auc"], again["m"]["auc"])
    draw = np.random.default_rng(2)
    peer = np.array([auc_from_ranks(pos[draw.integers(0, 1200, 1200)], neg[draw.integers(0, 3000, 3000)])
                     for _ in range(600)])
    assert reps["m"]["auc"].std() == pytest.approx(peer.std(), rel=0.15)
    assert reps["m"]["auc"].mean() == pytest.approx(peer.mean(), abs=0.003)
