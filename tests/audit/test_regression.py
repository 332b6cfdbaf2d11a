"""Regression cases (issue 13 item 3): the task, the cache, every check's support, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from audit.cli.app import app
from audit.core.adapters import CallableModel
from audit.core.cache import OutputCache
from audit.core.case import AuditCase
from audit.core.case_file import load_case
from audit.engine.runner import run_audit
from audit.shared.errors import BadInput
from tests.audit._regression_case import write_regression_case


def _frame(n: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    df["y"] = 2.0 * df["a"] - df["b"] + rng.normal(scale=0.3, size=n)
    df["split"] = np.repeat(["forget", "retain", "test"], [n // 6, n // 2, n - n // 6 - n // 2])
    return df


def _linear(w: float) -> CallableModel:
    return CallableModel(lambda X: (w * X[:, 0] - X[:, 1])[:, None])


def _case(df: pd.DataFrame | None = None, task: str | None = None, **models: object) -> AuditCase:
    m = {"original": _linear(2.0), "unlearned": _linear(1.9), "retrained": [_linear(1.95), _linear(2.05)]}
    m.update(models)
    return AuditCase(data=_frame() if df is None else df, label="y", task=task, **m)  # type: ignore[arg-type]


# -- the task -----------------------------------------------------------------
def test_regression_is_detected_from_one_column_models_and_recorded() -> None:
    case = _case()
    assert case.task == "regression" and case.task_info.declared is None
    assert "one value per row" in case.task_info.evidence
    assert case.y("test").dtype == np.float64


def test_sklearn_regressors_are_detected_even_with_integer_targets(tmp_path: Path) -> None:
    from sklearn.linear_model import Ridge

    df = _frame()
    df["y"] = np.round(df["y"]).astype(int) % 5  # five distinct integers look like classes ...
    X = df[["a", "b"]]
    ridge = Ridge().fit(X, df["y"])
    case = AuditCase(original=ridge, unlearned=ridge, retrained=[ridge], data=df, label="y")
    assert case.task == "regression"  # ... but an sklearn regressor says what it is
    assert "Ridge" in case.task_info.evidence


def test_one_column_callables_with_class_like_labels_must_declare_the_task() -> None:
    df = _frame()
    df["y"] = (df["a"] > 0).astype(int)
    with pytest.raises(BadInput) as err:
        _case(df)
    assert err.value.field == "case.task" and "class indices" in err.value.message
    assert _case(df, task="regression").task == "regression"


def test_declared_task_that_contradicts_the_models_is_bad_input() -> None:
    with pytest.raises(BadInput) as err:
        _case(task="classification")
    assert err.value.field == "case.task" and "models.original" in err.value.message
    clf = CallableModel(lambda X: np.c_[np.zeros(len(X)), X[:, 0]])
    df = _frame()
    df["y"] = (df["a"] > 0).astype(int)
    with pytest.raises(BadInput) as err:
        AuditCase(original=clf, unlearned=clf, retrained=[clf], data=df, label="y", task="regression")
    assert err.value.field == "case.task" and "class scores" in err.value.message


def test_models_that_disagree_on_the_task_are_bad_input() -> None:
    clf = CallableModel(lambda X: np.c_[np.zeros(len(X)), X[:, 0]])
    with pytest.raises(BadInput) as err:
        _case(unlearned=clf)
    assert err.value.field == "models" and "models.unlearned" in err.value.message


def test_unknown_task_and_class_forget_kind_are_bad_input() -> None:
    with pytest.raises(BadInput) as err:
        _case(task="regresion")
    assert err.value.field == "case.task"
    with pytest.raises(BadInput) as err:
        AuditCase(original=_linear(2.0), unlearned=_linear(1.9), retrained=[_linear(2.0)], data=_frame(),
                  label="y", forget_kind="class")
    assert err.value.field == "case.forget_kind"


def test_regression_targets_must_be_numbers() -> None:
    df = _frame()
    df["y"] = df["y"].astype(object)
    df.loc[3, "y"] = "high"
    with pytest.raises(BadInput) as err:
        _case(df, task="regression")
    assert err.value.field == "data.label" and "'high'" in err.value.message


# -- the cache ----------------------------------------------------------------
def test_cache_holds_predictions_once_and_squared_error_losses() -> None:
    case = _case()
    cache = OutputCache(case.models, case.inputs, case.y, batch_size=7, task="regression")
    pred = cache.values("unlearned", "test")
    assert pred.shape == (case.n["test"],)
    assert np.allclose(cache.losses("unlearned", "test"), (pred - case.y("test")) ** 2)
    assert np.array_equal(cache.predictions("unlearned", "test"), pred)
    cache.values("unlearned", "test")
    assert cache.calls[("unlearned", "test")] == 1  # one forward pass, batched
    with pytest.raises(TypeError, match="no log-probabilities"):
        cache.logprobs("unlearned", "test")


def test_a_nan_prediction_names_the_model_and_split() -> None:
    def bad(X: np.ndarray) -> np.ndarray:
        out = X[:, 0].astype(float).copy()
        if len(X) > 8:  # not on the 8 probe rows: only when the split is run
            out[1] = np.nan
        return out

    case = _case(retrained=[_linear(1.95), CallableModel(bad)])
    cache = OutputCache(case.models, case.inputs, case.y, task="regression")
    with pytest.raises(BadInput) as err:
        cache.values("retrained:1", "retain")
    assert err.value.field == "models.retrained[1]"
    assert "retain split" in err.value.message and "row 1" in err.value.message


# -- checks: support, or a plain reason ------------------------------------------
@pytest.fixture(scope="module")
def ridge_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_regression_case(tmp_path_factory.mktemp("ridge"), "ridge", "retrain", 0, groups=True)


def test_every_check_supports_regression_or_says_it_does_not(ridge_case: Path) -> None:
    result = run_audit(ridge_case)
    checks = {c["id"]: c for c in result["checks"]}
    assert result.verdict == "pass" and result["controls"]["power"]
    names = {m["name"] for m in checks["utility"]["metrics"]}
    assert names == {"rmse", "mae", "r2"}
    assert {m["name"] for m in checks["output_divergence"]["metrics"]} == {"abs_diff", "wasserstein"}
    assert {m["name"] for m in checks["membership_inference"]["metrics"] if m["comparator"] != "info"} == \
        {"loss_gap", "auc[loss]", "auc[lira_offline_refs]"}
    assert {m["name"].split("[")[0] for m in checks["subgroup_shift"]["metrics"]} == {"loss"}
    assert checks["unlearning_inference"]["status"] == "pass"
    fr = checks["feature_removal"]
    assert fr["status"] == "skipped" and not fr["required"]
    assert "does not support regression" in fr["summary"] and fr["missing"]


def test_a_required_unsupported_check_makes_the_verdict_inconclusive(ridge_case: Path) -> None:
    result = run_audit(ridge_case, policy={"feature_removal": {"required": True, "feature": "x0"}})
    fr = next(c for c in result["checks"] if c["id"] == "feature_removal")
    assert fr["status"] == "skipped" and fr["required"]
    assert result.verdict == "inconclusive" and result.exit_code == 3


def test_classification_attacks_asked_on_regression_are_named(ridge_case: Path) -> None:
    result = run_audit(ridge_case, policy={"membership_inference": {"attacks": ["loss", "entropy"]},
                                           "subgroup_shift": {"enabled": False, "required": False}})
    mi = next(c for c in result["checks"] if c["id"] == "membership_inference")
    assert any("entropy" in m and "class probabilities" in m for m in mi["missing"])
    assert {m["name"] for m in mi["metrics"] if m["comparator"] != "info"} == {"loss_gap", "auc[loss]"}


# -- bad input through the CLI ----------------------------------------------------
def _edit(case: Path, old: str, new: str) -> Path:
    case.write_text(case.read_text().replace(old, new, 1))
    return case


def test_cli_declared_classification_on_ridge_models_exits_2(tmp_path: Path) -> None:
    case = _edit(write_regression_case(tmp_path / "c", "ridge", "retrain", 0), "[case]\n",
                 '[case]\ntask = "classification"\n')
    res = CliRunner().invoke(app, ["run", str(case), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "case.task" in res.output
    assert not (tmp_path / "o").exists()


def test_cli_regression_label_nan_exits_2(tmp_path: Path) -> None:
    case = write_regression_case(tmp_path / "c", "ridge", "retrain", 0, declare=True)
    df = pd.read_csv(case.parent / "data.csv")
    df.loc[5, "target"] = np.nan
    df.to_csv(case.parent / "data.csv", index=False)
    res = CliRunner().invoke(app, ["run", str(case), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "data.label" in res.output
    assert not (tmp_path / "o").exists()


def test_declared_regression_case_file_loads(tmp_path: Path) -> None:
    case = load_case(write_regression_case(tmp_path, "ridge", "retrain", 0, declare=True))
    assert case.task_info.declared == "regression" and case.task == "regression"
    assert case.forget_kind is None


def test_sklearn_recipe_trains_regression_references_and_torch_mlp_is_refused(tmp_path: Path) -> None:
    from sklearn.linear_model import Ridge

    df = _frame()
    X, y, retain = df[["a", "b"]], df["y"], df["split"] == "retain"
    r = Ridge(alpha=1.0).fit(X[retain], y[retain])
    case = AuditCase(original=Ridge().fit(X, y), unlearned=r, retrained=[r], data=df, label="y",
                     recipe="sklearn", train_references=2)
    assert case.task == "regression" and len(case.reference_roles) == 3
    with pytest.raises(BadInput) as err:
        AuditCase(original=r, unlearned=r, retrained=[r], data=df, label="y", recipe="torch-mlp",
                  train_references=2)
    assert err.value.field == "training.recipe"
