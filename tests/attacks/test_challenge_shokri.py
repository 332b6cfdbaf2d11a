"""NeurIPS-2023 challenge estimate (U vs R next to R vs R) and the Shokri shadow classifier."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import log_softmax

from attacks.challenge import challenge_estimate, example_epsilons, forgetting_quality
from attacks.metrics import auc
from attacks.shokri import ShadowClassifierAttack


def test_epsilon_closed_form_for_one_threshold() -> None:
    # 4 U and 4 R models on one example; best threshold splits 3/4 of U from all R but one
    u = np.array([[1.0], [2.0], [3.0], [-1.0]])
    r = np.array([[0.0], [-2.0], [-3.0], [1.5]])
    got = example_epsilons(u, r, delta=0.0)[0]
    # threshold 0: FPR = 1/4 (1.5), FNR = 1/4 (-1.0): log(0.75/0.25)
    assert got >= np.log(3.0) - 1e-12
    assert np.isfinite(got)


def test_quality_bins() -> None:
    assert forgetting_quality(np.array([0.0, 0.2])) == 1.0
    assert forgetting_quality(np.array([0.6])) == 0.5
    assert forgetting_quality(np.array([np.inf])) == pytest.approx(2 / 2**13)


def test_perfect_unlearner_matches_the_r_vs_r_floor_and_a_noop_does_not() -> None:
    rng = np.random.default_rng(0)
    s = 60
    r = rng.normal(size=(40, s))
    good = rng.normal(size=(20, s))
    bad = rng.normal(loc=2.0, size=(20, s))
    g = challenge_estimate(good, r)
    b = challenge_estimate(bad, r)
    assert g.epsilon_rr > 0  # biased upward even for R vs R
    assert abs(g.quality_u - g.quality_rr) < 0.15
    assert b.epsilon_u > g.epsilon_rr + 1.0 and b.quality_u < g.quality_rr


def test_shokri_attack_learns_membership_from_shadows() -> None:
    rng = np.random.default_rng(1)
    k, n = 6, 400
    y = rng.integers(0, 4, n)
    hard = rng.normal(0, 0.5, n)

    def outputs(member: np.ndarray) -> np.ndarray:
        z = rng.normal(size=(n, 4))
        z[np.arange(n), y] += 1.0 + hard + 2.0 * member
        return log_softmax(z, axis=1)

    m = rng.integers(0, 2, (k, n)).astype(bool)
    att = ShadowClassifierAttack().fit(np.stack([outputs(mm) for mm in m]), y, m)
    target_member = rng.integers(0, 2, n)
    assert auc(att.score(outputs(target_member), y), target_member) > 0.75
