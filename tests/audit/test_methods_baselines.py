"""Baseline methods behind one interface: effects in the expected direction, timing, bad input."""

import numpy as np
import pytest

from audit.lab.methods import METHODS, unlearn
from audit.shared.errors import BadInput
from audit.training.linear import fit_logreg
from audit.training.recipes import get_recipe


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5)).astype(np.float32)
    y = (X[:, 0] - X[:, 2] > 0).astype(np.int64)
    y[:30] = 1 - y[:30]  # the forget rows: a small cluster whose labels break the rule
    X[:30, 4] += 3.0
    recipe = get_recipe("torch-mlp", {"hidden": [64], "epochs": 80, "lr": 5e-3})
    original = recipe.fit(X, y, 2, seed=0)
    return (X[:30], y[:30]), (X[30:], y[30:]), recipe, original


def _forget_acc(model, F):
    return float((model.predict_logits(F[0]).argmax(1) == F[1]).mean())


def test_original_memorised_forget_rows(setup):
    F, _, _, original = setup
    assert _forget_acc(original, F) > 0.8


@pytest.mark.parametrize("method", ["retrain", "gradient_ascent", "random_labels"])
def test_methods_reduce_forget_accuracy(setup, method):
    F, R, recipe, original = setup
    params = {"gradient_ascent": {"steps": 20, "lr": 5e-3}, "random_labels": {"epochs": 10, "lr": 5e-3}}
    params = params.get(method, {})
    res = unlearn(method, original, F, R, recipe, seed=1, time_retrain=True, **params)
    assert _forget_acc(res.model, F) < 0.5
    assert res.seconds > 0 and res.retrain_seconds > 0 and res.speedup is not None


def test_noop_keeps_everything(setup):
    F, R, recipe, original = setup
    assert unlearn("noop", original, F, R, recipe, seed=0).model is original


def test_bad_input(setup):
    F, R, recipe, original = setup
    with pytest.raises(BadInput):
        unlearn("newton", original, F, R, recipe, seed=0)
    with pytest.raises(BadInput):
        unlearn("finetune", fit_logreg(np.c_[F[0], np.ones(30)], F[1], 1e-2), F, R, recipe, seed=0)
    with pytest.raises(BadInput):
        unlearn("nope", original, F, R, recipe, seed=0)
    with pytest.raises(BadInput):
        unlearn("noop", original, (F[0], F[1][:3]), R, recipe, seed=0)
    assert set(METHODS) >= {"retrain", "sisa", "newton", "fedavg_recover"}
