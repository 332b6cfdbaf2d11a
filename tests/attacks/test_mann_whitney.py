"""The one-pair Mann-Whitney AUC and its per-row shares equal scikit-learn's ROC AUC, ties included."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from attacks.metrics import auc_from_ranks, mann_whitney_shares


@pytest.mark.parametrize(("n1", "n0"), [(40, 3000), (3000, 40), (500, 500), (1, 7)])
@pytest.mark.parametrize("decimals", [0, 1, 6])  # 0 decimals: almost every score tied
def test_one_pair_auc_and_shares_equal_roc_auc_score(n1: int, n0: int, decimals: int) -> None:
    rng = np.random.default_rng(n1 * 7 + n0 + decimals)
    pos, neg = np.round(rng.normal(0.4, 1, n1), decimals), np.round(rng.normal(0, 1, n0), decimals)
    want = roc_auc_score(np.r_[np.ones(n1), np.zeros(n0)], np.r_[pos, neg])
    assert float(auc_from_ranks(pos, neg)) == pytest.approx(want, abs=1e-12)
    v10, v01 = mann_whitney_shares(pos, neg)
    assert v10.mean() == pytest.approx(want, abs=1e-12) and v01.mean() == pytest.approx(want, abs=1e-12)
    brute = (pos[:, None] > neg[None]) + 0.5 * (pos[:, None] == neg[None])
    np.testing.assert_allclose(v10, brute.mean(axis=1), atol=1e-12)
    np.testing.assert_allclose(v01, brute.mean(axis=0), atol=1e-12)


def test_batched_auc_still_ranks() -> None:
    rng = np.random.default_rng(0)
    pos, neg = rng.normal(size=(3, 20)), rng.normal(size=(3, 30))
    got = auc_from_ranks(pos, neg)
    assert got.shape == (3,)
    for b in range(3):
        assert got[b] == pytest.approx(float(auc_from_ranks(pos[b], neg[b])), abs=1e-12)


@pytest.mark.parametrize(("n1", "n0"), [(30, 5000), (500, 500), (3000, 40)])
@pytest.mark.parametrize("decimals", [0, 1, 8])
def test_roc_on_grid_is_the_interpolated_roc_curve(n1: int, n0: int, decimals: int) -> None:
    from attacks.metrics import roc, roc_on_grid

    rng = np.random.default_rng(n1 + n0 + decimals)
    pos, neg = np.round(rng.normal(0.5, 1, n1), decimals), np.round(rng.normal(0, 1, n0), decimals)
    grid = np.r_[np.linspace(0, 1, 101), 1 / n0, 3 / n0]  # exact vertices too
    fpr, tpr, _ = roc(np.r_[pos, neg], np.r_[np.ones(n1), np.zeros(n0)])
    np.testing.assert_allclose(roc_on_grid(pos, neg, grid), np.interp(grid, fpr, tpr), atol=1e-12)
