"""feature_removal building blocks against known answers and sklearn's permutation importance."""

import numpy as np
import pandas as pd
import pytest
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression

from audit.checks.feature_removal import dependence_rows
from audit.core.case import AuditCase
from audit.core.model_objects import SklearnModel
from audit.engine.runner import run_audit
from audit.shared.errors import BadInput


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    X = np.c_[rng.normal(size=(1500, 2)), rng.integers(0, 2, 1500)].astype(np.float32)
    y = (X[:, 0] + 2.0 * X[:, 2] - 1 + 0.3 * rng.normal(size=1500) > 0).astype(int)
    return X, y, LogisticRegression().fit(X, y)


def test_binary_toggle_and_gap_by_hand(fitted):
    X, y, est = fitted
    rows = dependence_rows(SklearnModel(est), X, y, col=2, positive=1, n_repeats=1, seed=0)
    X1, X0 = X.copy(), X.copy()
    X1[:, 2], X0[:, 2] = 1, 0
    np.testing.assert_allclose(rows["gap"], est.predict_proba(X1)[:, 1] - est.predict_proba(X0)[:, 1], atol=1e-9)
    Xt = X.copy()
    Xt[:, 2] = 1 - Xt[:, 2]
    np.testing.assert_array_equal(rows["flip"], (est.predict(Xt) != est.predict(X)).astype(float))


def test_permutation_importance_matches_sklearn(fitted):
    X, y, est = fitted
    ours = dependence_rows(SklearnModel(est), X, y, col=2, positive=1, n_repeats=30, seed=1)["importance"].mean()
    theirs = permutation_importance(est, X, y, scoring="accuracy", n_repeats=30, random_state=1)
    assert ours == pytest.approx(theirs.importances_mean[2], abs=0.01)
    assert ours > 0.1
    unused = dependence_rows(SklearnModel(est), X, y, col=1, positive=1, n_repeats=30, seed=1)["importance"]
    assert abs(unused.mean()) < 0.01


def _case(feature_in_policy):
    rng = np.random.default_rng(1)
    n = 400
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.integers(0, 2, n).astype(float)})
    df["label"] = ((df.a + df.b) > 0.5).astype(int)
    df["split"] = ["forget"] * 50 + ["retain"] * 200 + ["test"] * 150
    m = LogisticRegression().fit(df[["a", "b"]].to_numpy(), df.label)
    return AuditCase(m, m, [m], df, policy={"feature_removal": {"feature": feature_in_policy}}
                     if feature_in_policy is not None else None)


def test_skipped_without_feature_and_bad_feature_name():
    res = run_audit(_case(None), seed=0)
    check = next(c for c in res["checks"] if c["id"] == "feature_removal")
    assert check["status"] == "skipped" and check["missing"]
    with pytest.raises(BadInput):
        run_audit(_case("nope"), seed=0)
