"""Population attacks: closed forms, direction (higher = member), stability."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import log_softmax
from scipy.stats import entropy

from attacks.metrics import auc
from attacks.population import ATTACKS, population_scores


@pytest.fixture()
def outputs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return log_softmax(rng.normal(size=(200, 5)) * 3, axis=1), rng.integers(0, 5, 200)


def test_closed_forms(outputs) -> None:
    lp, y = outputs
    p, py = np.exp(lp), np.exp(lp[np.arange(200), y])
    s = population_scores(lp, y)
    np.testing.assert_allclose(s["loss"], np.log(py))
    np.testing.assert_allclose(s["confidence"], py)
    np.testing.assert_allclose(s["entropy"], -entropy(p, axis=1))
    np.testing.assert_allclose(s["logit_confidence"], np.log(py / (1 - py)), rtol=1e-9)
    other = np.where(np.arange(5)[None, :] == y[:, None], 0.0, p * np.log(1 - p))
    mentr = -(1 - py) * np.log(py) - other.sum(axis=1)  # Song & Mittal 2021
    np.testing.assert_allclose(s["modified_entropy"], -mentr, rtol=1e-9)


def test_logit_confidence_resolves_near_certain_predictions() -> None:
    lp = np.array([[-1e-12, np.log(1e-12)], [-1e-9, np.log(1e-9)]])
    s = ATTACKS["logit_confidence"](lp, np.array([0, 0]))
    assert np.all(np.isfinite(s)) and s[0] > s[1]
    assert s[0] == pytest.approx(np.log(1e12), rel=1e-6)


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_members_score_higher_when_they_have_lower_loss(name: str) -> None:
    rng = np.random.default_rng(1)
    n = 400
    y = rng.integers(0, 3, n)
    member = np.r_[np.ones(n // 2), np.zeros(n // 2)].astype(int)
    z = rng.normal(size=(n, 3))
    z[np.arange(n), y] += np.where(member == 1, 4.0, 1.0)  # members fitted more tightly
    s = ATTACKS[name](log_softmax(z, axis=1), y)
    assert auc(s, member) > 0.8


def test_unknown_attack_rejected(outputs) -> None:
    with pytest.raises(ValueError, match="unknown attacks"):
        population_scores(*outputs, attacks=["nope"])
