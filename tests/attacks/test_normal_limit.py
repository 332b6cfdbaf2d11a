"""The normal limit of the row bootstrap agrees with the exact bootstrap, and its guards fall back."""

from __future__ import annotations

import numpy as np
import pytest

from attacks.normal import cell_covariance, counting, normal_from_rows, skew_allows
from attacks.resample import paired_roc_bootstrap
from audit.core.stats import bootstrap_means

B = 2000  # replicates: the SD of a replicate SD is ~1.6 % of it


def _counted(fn):  # noqa: ANN001, ANN202
    seen: dict[str, float] = {}
    with counting(lambda kind, n: seen.__setitem__(kind, seen.get(kind, 0) + n)):
        out = fn()
    return out, seen


def _exact(fn):  # noqa: ANN001, ANN202
    with normal_from_rows(10**12):
        return _counted(fn)


def _close_in_law(a: np.ndarray, b: np.ndarray, sd_tol: float = 0.07, q_tol: float = 0.25) -> None:
    """Same spread (within ``sd_tol``: 3 Monte-Carlo SEs of two 2 000-replicate SDs) and 5 / 50 / 95 %
    quantiles within ``q_tol`` standard deviations (~4 Monte-Carlo SEs of a difference of two 5 % quantiles)."""
    sa, sb = a.std(), b.std()
    assert sa == pytest.approx(sb, rel=sd_tol)
    qa, qb = np.quantile(a, [0.05, 0.5, 0.95]), np.quantile(b, [0.05, 0.5, 0.95])
    assert np.all(np.abs(qa - qb) <= q_tol * sb), (qa, qb, sb)


def test_means_past_the_threshold_are_the_normal_limit_of_the_exact_bootstrap() -> None:
    rng = np.random.default_rng(0)
    n = 60_000
    common = rng.gamma(2.0, 1.0, n)  # skewed losses, correlated across models as a paired audit's are
    v = np.stack([common + 0.3 * rng.gamma(2.0, 1.0, n) + 0.05 * k for k in range(4)], axis=1)
    (approx, how), (exact, how_exact) = _counted(lambda: bootstrap_means(v, B, np.random.default_rng(1))), \
        _exact(lambda: bootstrap_means(v, B, np.random.default_rng(1)))
    assert how == {} and how_exact == {}  # bootstrap_means tallies through the audit's meter, not the counter
    assert not np.array_equal(approx, exact)  # a different path was taken
    for j in range(4):
        _close_in_law(approx[:, j], exact[:, j])
    _close_in_law(approx[:, 0] - approx[:, 1:].mean(axis=1), exact[:, 0] - exact[:, 1:].mean(axis=1))
    assert np.allclose(approx.mean(axis=0), v.mean(axis=0), atol=4 * exact.std(axis=0).max() / np.sqrt(B))


def test_a_heavy_tail_keeps_the_exact_bootstrap() -> None:
    v = np.random.default_rng(2).pareto(1.5, size=(60_000, 2))
    assert not skew_allows(v)
    a = bootstrap_means(v, 200, np.random.default_rng(3))
    with normal_from_rows(10**12):
        b = bootstrap_means(v, 200, np.random.default_rng(3))
    assert np.array_equal(a, b)  # the very same resamples


def test_below_the_threshold_nothing_changes() -> None:
    v = np.random.default_rng(4).normal(size=(5_000, 3))
    a = bootstrap_means(v, 300, np.random.default_rng(5))
    with normal_from_rows(10**12):
        b = bootstrap_means(v, 300, np.random.default_rng(5))
    assert np.array_equal(a, b)


def test_the_stratified_covariance_is_the_sum_of_the_cells() -> None:
    rng = np.random.default_rng(6)
    A = rng.normal(size=(900, 2))
    cells = [np.arange(0, 300), np.arange(300, 900)]
    want = sum(len(c) * np.cov(A[c].T, ddof=0) for c in cells)
    assert np.allclose(cell_covariance(A, cells), want)


def _scores(seed: int, n1: int, n0: int, models: int, strata: int):  # noqa: ANN202
    rng = np.random.default_rng(seed)
    ps, ns = rng.integers(0, strata, n1), rng.integers(0, strata, n0)
    b1, b0 = rng.normal(0.3, 1, n1) + 0.2 * ps, rng.normal(0, 1, n0) + 0.2 * ns
    pos = {f"m{k}": np.round(b1 + 0.5 * rng.normal(size=n1) + 0.1 * (k == 0), 2) for k in range(models)}  # ties
    neg = {f"m{k}": np.round(b0 + 0.5 * rng.normal(size=n0), 2) for k in range(models)}
    return pos, neg, ps, ns


@pytest.mark.parametrize("stratified", [False, True])
def test_auc_with_many_non_members_agrees_with_the_exact_bootstrap(stratified: bool) -> None:
    pos, neg, ps, ns = _scores(7, 800, 60_000, 4, 5)
    strata = (ps, ns) if stratified else (None, None)
    levels = (0.01, 0.001)

    def run():  # noqa: ANN202
        return paired_roc_bootstrap(pos, neg, B, np.random.default_rng(8), levels, *strata)

    (lin, how), (ex, how_exact) = _counted(run), _exact(run)
    assert how == {"normal_limit_replicates": B} and how_exact == {"bootstrap_resamples": B}
    for key in ("auc", "auc_unmatched"):
        for m in pos:
            _close_in_law(lin[m][key], ex[m][key])
        _close_in_law(lin["m0"][key] - np.mean([lin[m][key] for m in ("m1", "m2", "m3")], axis=0),
                      ex["m0"][key] - np.mean([ex[m][key] for m in ("m1", "m2", "m3")], axis=0))
    for j in range(len(levels)):  # the TPR's quantiles (a count of members: compare in members)
        q_lin, q_ex = np.quantile(lin["m0"]["tpr"][:, j], [0.05, 0.5, 0.95]), np.quantile(ex["m0"]["tpr"][:, j],
                                                                                          [0.05, 0.5, 0.95])
        assert np.all(np.abs(q_lin - q_ex) * 800 <= max(2.0, 0.15 * ex["m0"]["tpr"][:, j].std() * 800))


def test_a_separated_model_keeps_the_exact_auc_bootstrap() -> None:
    """No spread in the members' shares: the left-out cross term would dominate, so no normal limit."""
    pos, neg, _, _ = _scores(9, 300, 60_000, 2, 1)
    pos = {k: v + 100.0 for k, v in pos.items()}
    (_, how) = _counted(lambda: paired_roc_bootstrap(pos, neg, 50, np.random.default_rng(0)))
    assert how == {"bootstrap_resamples": 50}


def test_few_non_members_keep_the_exact_auc_bootstrap() -> None:
    pos, neg, _, _ = _scores(10, 300, 20_000, 2, 1)
    (_, how) = _counted(lambda: paired_roc_bootstrap(pos, neg, 50, np.random.default_rng(0)))
    assert how == {"bootstrap_resamples": 50}


def test_many_members_too_agree_with_the_exact_bootstrap() -> None:
    """Both sides past the threshold: both terms in their normal limit, the TPR's members too."""
    pos, neg, ps, ns = _scores(11, 60_000, 60_000, 2, 3)
    levels = (0.01,)

    def run():  # noqa: ANN202
        return paired_roc_bootstrap(pos, neg, 1000, np.random.default_rng(12), levels, ps, ns)

    (lin, how), (ex, _) = _counted(run), _exact(run)
    assert how == {"normal_limit_replicates": 1000}
    for m in pos:
        _close_in_law(lin[m]["auc"], ex[m]["auc"], sd_tol=0.1, q_tol=0.35)
        _close_in_law(lin[m]["tpr"][:, 0], ex[m]["tpr"][:, 0], sd_tol=0.12, q_tol=0.4)
    _close_in_law(lin["m0"]["auc"] - lin["m1"]["auc"], ex["m0"]["auc"] - ex["m1"]["auc"], sd_tol=0.1, q_tol=0.35)


def test_an_infinite_value_keeps_the_exact_bootstrap() -> None:
    v = np.random.default_rng(13).normal(size=(60_000, 2))
    v[5, 1] = np.inf  # a forest's probability 0: an infinite log-loss
    a = bootstrap_means(v, 50, np.random.default_rng(14))
    with normal_from_rows(10**12):
        b = bootstrap_means(v, 50, np.random.default_rng(14))
    assert np.array_equal(a, b, equal_nan=True)


def test_fine_strata_of_similar_models_carry_the_cross_term() -> None:
    """100 strata of 10 members and 500 non-members, five near-identical models: the cross term is
    ~8 % of a leave-one-out contrast's variance (not of one model's); drawn with its estimated
    covariance, the contrast's spread is the exact bootstrap's (it was 12 % too small without)."""
    rng = np.random.default_rng(15)
    ps, ns = np.repeat(np.arange(100), 10), np.repeat(np.arange(100), 500)
    b1, b0 = rng.normal(0.3, 1, len(ps)), rng.normal(0, 1, len(ns))
    pos = {f"m{k}": b1 + 0.05 * rng.normal(size=len(ps)) for k in range(5)}
    neg = {f"m{k}": b0 + 0.05 * rng.normal(size=len(ns)) for k in range(5)}

    def run():  # noqa: ANN202
        return paired_roc_bootstrap(pos, neg, B, np.random.default_rng(0), (), ps, ns)

    (lin, how), (ex, _) = _counted(run), _exact(run)
    assert how == {"normal_limit_replicates": B}
    loo = [lin["m0"]["auc"] - np.mean([lin[f"m{k}"]["auc"] for k in range(1, 5)], axis=0),
           ex["m0"]["auc"] - np.mean([ex[f"m{k}"]["auc"] for k in range(1, 5)], axis=0)]
    _close_in_law(*loo)
