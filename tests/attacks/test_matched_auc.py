"""Matched (stratified) AUC: known answers, brute force, sklearn per stratum, bootstrap."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from attacks.metrics import auc
from attacks.resample import paired_roc_bootstrap
from attacks.strata import match_strata, matched_auc


def _brute(pos, neg, ps, ns) -> float:
    """sum_s w_s * P(member of s outranks non-member of s), by explicit pair loops."""
    total, n_matched = 0.0, sum(1 for s in ps if s in set(ns))
    for s in sorted(set(ps) & set(ns)):
        p = [x for x, t in zip(pos, ps, strict=True) if t == s]
        n = [x for x, t in zip(neg, ns, strict=True) if t == s]
        wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in p for b in n)
        total += len(p) / n_matched * wins / (len(p) * len(n))
    return total


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_matches_brute_force_and_sklearn_per_stratum(seed: int) -> None:
    rng = np.random.default_rng(seed)
    pos, neg = np.round(rng.normal(0.3, 1, 60), 1), np.round(rng.normal(0, 1, 90), 1)  # ties
    ps, ns = rng.integers(0, 4, 60), rng.integers(0, 5, 90)  # stratum 4: negatives only
    r = matched_auc(pos, neg, ps, ns)
    assert r.auc == pytest.approx(_brute(pos.tolist(), neg.tolist(), ps.tolist(), ns.tolist()), abs=1e-12)
    for s, a in r.stratum_auc.items():
        p, n = pos[ps == s], neg[ns == s]
        assert a == pytest.approx(roc_auc_score(np.r_[np.ones(len(p)), np.zeros(len(n))], np.r_[p, n]))
        assert r.weights[s] == pytest.approx(len(p) / 60)
    assert 4 not in r.stratum_auc and r.dropped == () and r.n_matched == 60


def test_one_stratum_is_the_plain_auc() -> None:
    rng = np.random.default_rng(5)
    pos, neg = rng.normal(1, 1, 40), rng.normal(0, 1, 50)
    r = matched_auc(pos, neg, np.zeros(40), np.zeros(50))
    assert r.auc == pytest.approx(auc(np.r_[pos, neg], np.r_[np.ones(40), np.zeros(50)]))


def _label_mix(rng: np.random.Generator, n: int = 400) -> tuple[np.ndarray, ...]:
    """No membership signal; class 1 simply scores 3 higher. Members are 90 % class 1,
    non-members 10 % class 1 - the mix of a (mostly) removed class against the test set."""
    ps = (rng.random(n) < 0.9).astype(int)
    ns = (rng.random(n) < 0.1).astype(int)
    pos, neg = rng.normal(3 * ps, 1), rng.normal(3 * ns, 1)
    return pos, neg, ps, ns


def test_label_mix_inflates_unmatched_but_not_matched_auc() -> None:
    pos, neg, ps, ns = _label_mix(np.random.default_rng(6), 2000)  # ~200 class-1 non-members
    unmatched = auc(np.r_[pos, neg], np.r_[np.ones(len(pos)), np.zeros(len(neg))])
    assert unmatched > 0.8  # "membership" that is only the label
    assert abs(matched_auc(pos, neg, ps, ns).auc - 0.5) < 0.06  # ~3 SE of the class-1 AUC


def test_dropped_strata_are_reported() -> None:
    pos, neg = np.array([0.9, 0.8, 0.7, 0.1]), np.array([0.5, 0.4])
    r = matched_auc(pos, neg, np.array(["a", "b", "b", "c"]), np.array(["c", "c"]))
    assert r.dropped == ("a", "b") and r.n_dropped == 3 and r.n_matched == 1
    assert r.auc == 0.0 and r.weights == {"c": 1.0}
    with pytest.raises(ValueError, match="no stratum"):
        matched_auc(pos, neg, np.array(["a"] * 4), np.array(["c", "c"]))
    with pytest.raises(ValueError, match="strata"):
        matched_auc(pos, neg, np.array(["a"] * 3), np.array(["c", "c"]))


def test_match_strata_cells_cover_every_row_once() -> None:
    m = match_strata(np.array([2, 0, 2, 1]), np.array([0, 0, 3]))
    assert m.strata == (0,) and m.dropped == (1, 2) and m.n_dropped == 3
    assert sorted(np.concatenate(m.pos_cells).tolist()) == [0, 1, 2, 3]
    assert sorted(np.concatenate(m.neg_cells).tolist()) == [0, 1, 2]


def test_bootstrap_is_stratified_within_member_and_stratum() -> None:
    # stratum a: members above non-members; stratum b: below. Any stratified resample
    # keeps AUC_a = 1, AUC_b = 0, so the matched AUC is exactly n_a / n = 0.6.
    pos = np.r_[np.full(6, 5.0), np.full(4, -5.0)] + np.arange(10) * 0.01
    neg = np.r_[np.full(5, 0.0), np.full(7, 0.0)] + np.arange(12) * 0.01
    ps, ns = np.r_[["a"] * 6, ["b"] * 4], np.r_[["a"] * 5, ["b"] * 7]
    reps = paired_roc_bootstrap({"m": pos}, {"m": neg}, 100, np.random.default_rng(0), (0.1,), ps, ns)
    np.testing.assert_allclose(reps["m"]["auc"], 0.6)
    assert reps["m"]["tpr"].shape == (100, 1)


def test_bootstrap_stays_paired_across_models() -> None:
    pos, neg, ps, ns = _label_mix(np.random.default_rng(7), 200)
    noise = np.random.default_rng(8).normal(0, 0.3, 400)
    reps = paired_roc_bootstrap({"u": pos, "r": pos + noise[:200]}, {"u": neg, "r": neg + noise[200:]},
                                300, np.random.default_rng(1), (), ps, ns)
    d = reps["u"]["auc"] - reps["r"]["auc"]
    assert d.std() < 0.5 * reps["u"]["auc"].std()  # pairing cancels the shared row noise
    same = paired_roc_bootstrap({"a": pos, "b": pos.copy()}, {"a": neg, "b": neg.copy()}, 50,
                                np.random.default_rng(2), (), ps, ns)
    np.testing.assert_array_equal(same["a"]["auc"], same["b"]["auc"])


def test_bootstrap_without_strata_is_unchanged() -> None:
    rng = np.random.default_rng(3)
    pos, neg = rng.normal(0.5, 1, 30), rng.normal(0, 1, 40)
    reps = paired_roc_bootstrap({"m": pos}, {"m": neg}, 5, np.random.default_rng(9))
    draw = np.random.default_rng(9)  # the same draws: member rows, then non-member rows
    from attacks.metrics import auc_from_ranks
    d1, d0 = draw.integers(0, 30, size=(5, 30)), draw.integers(0, 40, size=(5, 40))
    for b in range(5):
        i1, i0 = d1[b], d0[b]
        assert reps["m"]["auc"][b] == pytest.approx(auc_from_ranks(pos[i1], neg[i0]))
    np.testing.assert_array_equal(reps["m"]["auc"], reps["m"]["auc_unmatched"])
    with pytest.raises(ValueError, match="both"):
        paired_roc_bootstrap({"m": pos}, {"m": neg}, 5, rng, pos_strata=np.zeros(30))


def test_bootstrap_ci_covers_the_true_matched_auc() -> None:
    """90 % percentile CIs of the matched AUC cover the truth about 90 % of the time.

    Members of stratum s ~ N(mu_s + d, 1), non-members ~ N(mu_s, 1): every AUC_s, hence
    the matched AUC, is Phi(d / sqrt 2) whatever the (different) stratum mixes.
    """
    d, truth, hits, n_sets = 0.5, stats.norm.cdf(0.5 / np.sqrt(2)), 0, 60
    rng = np.random.default_rng(11)
    for _ in range(n_sets):
        ps, ns = rng.choice(3, 120, p=[0.7, 0.2, 0.1]), rng.choice(3, 150, p=[0.2, 0.3, 0.5])
        mu = np.array([0.0, 2.0, -1.0])
        pos, neg = rng.normal(mu[ps] + d, 1), rng.normal(mu[ns], 1)
        reps = paired_roc_bootstrap({"m": pos}, {"m": neg}, 150, rng, (), ps, ns)
        lo, hi = np.quantile(reps["m"]["auc"], [0.05, 0.95])
        hits += lo <= truth <= hi
    assert hits / n_sets >= 0.78  # nominal 0.9; 60 sets: SE ~ 0.04
