"""The `logreg` recipe and the `influence` method: Newton / influence removal in method mode.

Fast: the recipe's intercept is carried through `newton` and `influence` (`unlearn`), which land
where the linear algebra says (Newton at the exact retrain of a small removal, influence between it
and the original). Slow: a breast-cancer method audit with the planted signal — `retrain` passes,
`noop` fails, `influence` keeps the planted feature (Izzo et al. 2021's finding) and fails.
"""

from __future__ import annotations

import numpy as np
import pytest

from audit.lab.methods import unlearn
from audit.shared.errors import BadInput
from audit.training.recipes import get_recipe


def _data(seed: int, n: int = 400, d: int = 6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) + 1.0  # off-centre: a model without its intercept would be far off
    y = (X @ rng.normal(size=d) + 0.5 * rng.normal(size=n) > X.sum(1).mean() * 0.1).astype(int)
    forget = np.zeros(n, dtype=bool)
    forget[rng.choice(n, 12, replace=False)] = True
    return X, y, forget


@pytest.mark.parametrize("seed", [0, 1])
def test_newton_and_influence_with_the_recipe_intercept(seed: int) -> None:
    X, y, f = _data(seed)
    recipe = get_recipe("logreg", {"lam": 1e-2})
    orig = recipe.fit(X, y, 2, seed)
    exact = recipe.fit(X[~f], y[~f], 2, seed)
    assert orig.intercept and orig.theta.shape == (X.shape[1] + 1,)
    forget, retain = (X[f], y[f]), (X[~f], y[~f])
    newton = unlearn("newton", orig, forget, retain, recipe, seed).model
    infl = unlearn("influence", orig, forget, retain, recipe, seed).model
    d = {name: float(np.linalg.norm(m.theta - exact.theta)) for name, m in
         (("noop", orig), ("newton", newton), ("influence", infl))}
    assert d["newton"] < 0.05 * d["noop"] and d["newton"] < d["influence"] < d["noop"], d
    assert np.allclose(newton.predict_logits(X), exact.predict_logits(X), atol=1e-2)


def test_logreg_recipe_bad_input() -> None:
    X, y, f = _data(0)
    with pytest.raises(BadInput, match="binary"):
        get_recipe("logreg").fit(X, y, 3, 0)
    with pytest.raises(BadInput, match="LogReg"):
        unlearn("influence", object(), (X[f], y[f]), (X[~f], y[~f]), None, 0)


@pytest.mark.slow  # ~1 min on the shared 2-core machine
def test_method_audit_on_breast_cancer_logreg(tmp_path) -> None:
    from audit.core.case_file import load_case
    from audit.lab.method_audit import run_method_audit
    from benchmarks.method_comparison import _cancer_case

    case = load_case(_cancer_case(tmp_path / "cancer"))
    res = run_method_audit(case, ["retrain", "noop", "influence"], [0, 1, 2, 3, 4],
                           policy={"general": {"n_bootstrap": 200}})
    st = {c["id"]: c for c in res["checks"]}
    assert st["method_retrain"]["status"] == "pass" and st["method_noop"]["status"] == "fail"
    inj = [m["value"] for m in st["method_influence"]["metrics"] if m["name"].startswith("injection_ratio[")]
    assert st["method_influence"]["status"] == "fail" and min(inj) > 0.5, inj  # the planted feature stays
