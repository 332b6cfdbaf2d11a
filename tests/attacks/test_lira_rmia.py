"""LiRA (online/offline, fixed/per-example variance), U-LiRA and RMIA on synthetic known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from attacks.lira import gaussian_moments, lira_offline, lira_online, ulira
from attacks.metrics import auc
from attacks.rmia import marginal_probability, rmia_scores


def _world(seed: int = 0, k: int = 32, n: int = 400, gap: float = 1.5):
    """Per-row difficulty d_i; a model that trained on row i has phi = d_i + gap + noise."""
    rng = np.random.default_rng(seed)
    d = rng.normal(0, 3, n)  # large per-example difficulty: population attacks are weak
    inn = (np.argsort(rng.random((k, n)), axis=0) < k // 2)
    shadow = d + gap * inn + rng.normal(0, 0.5, (k, n))
    member = rng.integers(0, 2, n)
    target = d + gap * member + rng.normal(0, 0.5, n)
    return target, shadow, inn, member


def test_moments_closed_form() -> None:
    phi = np.array([[1.0, 2.0], [3.0, 6.0], [5.0, 0.0]])
    mask = np.array([[1, 1], [1, 1], [0, 1]], bool)
    mu, s = gaussian_moments(phi, mask, fixed_variance=False)
    np.testing.assert_allclose(mu, [2.0, 8 / 3])
    np.testing.assert_allclose(s, [np.std([1, 3], ddof=1), np.std([2, 6, 0], ddof=1)])
    _, sf = gaussian_moments(phi, mask, fixed_variance=True)
    assert sf[0] == sf[1] == pytest.approx(np.sqrt((1 + 1 + (2 / 3) ** 2 + (10 / 3) ** 2 + (8 / 3) ** 2) / 3))


@pytest.mark.parametrize("fixed", [True, False])
def test_lira_beats_the_population_attack_under_per_example_difficulty(fixed: bool) -> None:
    target, shadow, inn, member = _world()
    pop = auc(target, member)
    on = auc(lira_online(target, shadow, inn, fixed), member)
    off = auc(lira_offline(target, shadow, inn, fixed), member)
    assert pop < 0.7 and on > 0.9 and off > 0.9


def test_online_lira_is_the_gaussian_likelihood_ratio() -> None:
    target, shadow, inn, _ = _world(n=5)
    got = lira_online(target, shadow, inn)
    i = 3
    a, b = shadow[inn[:, i], i], shadow[~inn[:, i], i]
    want = (sps.norm.logpdf(target[i], a.mean(), a.std(ddof=1))
            - sps.norm.logpdf(target[i], b.mean(), b.std(ddof=1)))
    assert got[i] == pytest.approx(want)


def test_lira_has_no_power_against_non_members() -> None:
    target, shadow, inn, member = _world(gap=0.0)
    assert abs(auc(lira_online(target, shadow, inn, True), member) - 0.5) < 0.08


def test_ulira_tells_unlearned_from_retrained_targets() -> None:
    rng = np.random.default_rng(1)
    n, k = 300, 16
    d = rng.normal(0, 2, n)
    unl = d + 0.8 + rng.normal(0, 0.3, (k, n))  # the method leaves a trace of 0.8
    ret = d + rng.normal(0, 0.3, (k, n))
    is_unlearned = rng.integers(0, 2, n)
    target = d + 0.8 * is_unlearned + rng.normal(0, 0.3, n)
    assert auc(ulira(target, unl, ret), is_unlearned) > 0.9
    perfect = d + rng.normal(0, 0.3, (k, n))  # a perfect method: unlearned == retrained
    assert abs(auc(ulira(d + rng.normal(0, 0.3, n), perfect, ret, True), is_unlearned) - 0.5) < 0.1


def test_rmia_chunked_equals_sorted_search_and_finds_members() -> None:
    rng = np.random.default_rng(2)
    n, m, k = 500, 300, 8
    diff = rng.uniform(0.2, 0.9, n)
    member = rng.integers(0, 2, n)
    px = np.clip(diff + 0.08 * member + rng.normal(0, 0.02, n), 1e-6, 1)
    pref = np.clip(diff + rng.normal(0, 0.02, (k, n)), 1e-6, 1)
    pz = rng.uniform(0.2, 0.9, m)
    pzref = np.clip(pz + rng.normal(0, 0.02, (k, m)), 1e-6, 1)
    for gamma, a in [(1.0, None), (2.0, None), (1.0, 0.3)]:
        c = rmia_scores(px, pref, pz, pzref, gamma=gamma, a=a, chunk=37)
        s = rmia_scores(px, pref, pz, pzref, gamma=gamma, a=a, method="sort")
        np.testing.assert_array_equal(c, s)
    assert auc(rmia_scores(px, pref, pz, pzref), member) > 0.85


def test_rmia_offline_marginal_formula() -> None:
    p = np.array([[0.2, 0.6], [0.4, 0.8]])
    np.testing.assert_allclose(marginal_probability(p, a=0.5), 0.5 * (1.5 * np.array([0.3, 0.7]) + 0.5))
    np.testing.assert_allclose(marginal_probability(p), [0.3, 0.7])


def test_missing_shadows_rejected() -> None:
    with pytest.raises(ValueError):
        lira_online(np.zeros(2), np.zeros((3, 2)), np.zeros((3, 2), bool))
