"""Differencing attack (Chen et al. 2021): separates deleted rows only when U changed on them."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import log_softmax

from attacks.differencing import ATTACK_MODELS, difference_features, make_folds, out_of_fold_scores
from attacks.metrics import auc


def _pair(shift_forget: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = 300
    member = np.r_[np.ones(100), np.zeros(200)].astype(int)
    z = rng.normal(size=(n, 4)) * 2
    zu = z + rng.normal(scale=0.1, size=z.shape)
    zu[member == 1, 0] -= shift_forget  # unlearning moved the forget rows' outputs
    return log_softmax(z, axis=1), log_softmax(zu, axis=1), member


@pytest.mark.parametrize("model", ATTACK_MODELS)
def test_attack_finds_rows_whose_outputs_moved(model: str) -> None:
    lo, lu, m = _pair(3.0)
    s = out_of_fold_scores(difference_features(lo, lu), m, make_folds(m, 5, 0), model=model)
    assert auc(s, m) > 0.8


@pytest.mark.parametrize("model", ATTACK_MODELS)
def test_attack_is_at_chance_when_nothing_distinguishes_the_rows(model: str) -> None:
    lo, lu, m = _pair(0.0)
    s = out_of_fold_scores(difference_features(lo, lu), m, make_folds(m, 5, 0), model=model)
    assert abs(auc(s, m) - 0.5) < 0.1


def test_unknown_attack_model_is_refused_even_on_constant_features() -> None:
    m = np.r_[np.ones(4), np.zeros(4)].astype(int)
    with pytest.raises(ValueError, match="attack model"):
        out_of_fold_scores(np.zeros((8, 2)), m, make_folds(m, 2, 0), model="nope")


def test_folds_are_stratified_and_reusable() -> None:
    m = np.r_[np.ones(20), np.zeros(40)].astype(int)
    f = make_folds(m, 5, 0)
    assert np.array_equal(f, make_folds(m, 5, 0))
    for k in range(5):
        assert m[f == k].sum() == 4


def test_feature_shapes_and_bad_input() -> None:
    lo, lu, _ = _pair(1.0)
    assert difference_features(lo, lu, ["direct_concat", "l2"]).shape == (300, 9)
    with pytest.raises(ValueError):
        difference_features(lo, lu, ["nope"])
    with pytest.raises(ValueError):
        make_folds(np.r_[1, 0, 0, 0], 5, 0)
