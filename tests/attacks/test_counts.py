"""Bootstrap counts from conditioned Poisson draws: the multinomial law of resampling rows."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

import attacks.counts as counts_mod
from attacks.counts import POISSON_FROM, multinomial_counts, poisson_table


@pytest.mark.parametrize("lam", [0.5, 0.97, 1.0])
def test_byte_table_is_the_poisson_law(lam: float) -> None:
    thresholds, first, cdf = poisson_table(lam)
    count = np.array([(u >= thresholds).sum() for u in range(first)])  # what each exact byte says
    residual = np.diff(np.r_[0.0, cdf])
    got = np.bincount(count, minlength=len(residual)) / 256 + residual * (256 - first) / 256
    pmf = sps.poisson.pmf(np.arange(len(residual)), lam)
    np.testing.assert_allclose(got, pmf, atol=1e-15)


@pytest.mark.parametrize("m", [POISSON_FROM - 1, 3000])
def test_counts_follow_the_multinomial(m: int) -> None:
    c = multinomial_counts(m, 300, np.random.default_rng(4)).astype(np.int64)
    assert c.shape == (300, m) and (c.sum(axis=1) == m).all()
    vals, seen = np.unique(c, return_counts=True)
    k = 6  # cells 0..4 and >= 5
    obs = np.r_[[seen[vals == v].sum() for v in range(k - 1)], seen[vals >= k - 1].sum()]
    want = np.r_[sps.binom.pmf(np.arange(k - 1), m, 1 / m), sps.binom.sf(k - 2, m, 1 / m)] * c.size
    assert sps.chisquare(obs, want).pvalue > 1e-3
    # two rows of one resample are negatively correlated (-1 / (m - 1)), not independent
    cov = np.cov(c[:, 0], c[:, 1])[0, 1]
    assert abs(cov) < 5 / np.sqrt(300)


def test_same_seed_same_counts_and_rows_first_layout() -> None:
    a = multinomial_counts(5000, 7, np.random.default_rng(1))
    b = multinomial_counts(5000, 7, np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    t = multinomial_counts(5000, 7, np.random.default_rng(1), rows_first=True)
    assert t.shape == (5000, 7) and (t.sum(axis=0) == 5000).all()
    f = multinomial_counts(5000, 7, np.random.default_rng(1), dtype=np.float64)
    np.testing.assert_array_equal(f, a)


def test_an_overshooting_poisson_sum_is_redrawn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(counts_mod, "_Z", -3.0)  # lam > 1: most resamples overshoot m
    c = multinomial_counts(2000, 200, np.random.default_rng(2)).astype(np.int64)
    assert (c.sum(axis=1) == 2000).all()
    assert c.mean() == 1.0 and 0.9 < c.var() < 1.1
    cells = counts_mod.poisson_cells([1100, 3000], 200, np.random.default_rng(3)).astype(np.int64)
    for part, m in ((cells[:, :1100], 1100), (cells[:, 1100:], 3000)):  # redrawn per (resample, cell)
        assert (part.sum(axis=1) == m).all() and 0.9 < part.var() < 1.1


def test_cells_drawn_together_follow_their_own_multinomials() -> None:
    from attacks.counts import poisson_cells

    sizes = [1100, 5000, 1024]  # different Poisson tables: per-column thresholds
    c = poisson_cells(sizes, 200, np.random.default_rng(3)).astype(np.int64)
    bounds = np.cumsum([0] + sizes)
    for m, a, z in zip(sizes, bounds[:-1], bounds[1:], strict=True):
        cell = c[:, a:z]
        assert (cell.sum(axis=1) == m).all()
        vals, seen = np.unique(cell, return_counts=True)
        obs = np.r_[[seen[vals == v].sum() for v in range(4)], seen[vals >= 4].sum()]
        want = np.r_[sps.binom.pmf(np.arange(4), m, 1 / m), sps.binom.sf(3, m, 1 / m)] * cell.size
        assert sps.chisquare(obs, want).pvalue > 1e-3
