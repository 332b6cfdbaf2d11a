"""Features are matched to the models' input names, never by position (issue 13, item 1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from audit.cli.app import app
from audit.core.case import AuditCase
from audit.shared.errors import BadInput
from tests.conftest import run_cli

FEATURES = ["a", "b", "c", "d"]


def _frame(seed: int = 0, n: int = 480) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    # the label depends on a and d with opposite signs: feeding d as a flips the model
    y = (X[:, 0] - 0.8 * X[:, 3] + 0.3 * rng.normal(size=n) > 0).astype(int)
    df = pd.DataFrame(X, columns=FEATURES)
    df["label"] = y
    df["split"] = np.repeat(["forget", "retain", "test"], [80, 240, 160])
    return df


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """skops random forests fitted on DataFrames (they know their feature names)."""
    import skops.io as sio
    from sklearn.ensemble import RandomForestClassifier

    d = tmp_path_factory.mktemp("by_name")
    df = _frame()
    train = df[df.split != "test"]
    retain = df[df.split == "retain"]

    def fit(rows: pd.DataFrame, seed: int) -> RandomForestClassifier:
        return RandomForestClassifier(n_estimators=15, max_depth=4, random_state=seed).fit(
            rows[FEATURES], rows["label"])

    sio.dump(fit(train, 0), d / "original.skops")
    sio.dump(fit(retain, 10), d / "unlearned.skops")
    for i in range(3):
        sio.dump(fit(retain, 20 + i), d / f"retrained-{i}.skops")
    df.to_csv(d / "ordered.csv", index=False)
    shuffled = df[["d", "split", "c", "label", "b", "a"]].copy()
    shuffled.insert(2, "note", np.arange(len(df)) % 7)  # a column no model uses
    shuffled.to_csv(d / "reordered.csv", index=False)
    df.drop(columns=["c"]).to_csv(d / "missing.csv", index=False)
    return d


def _case(d: Path, data: str) -> Path:
    path = d / f"case-{data}.toml"
    path.write_text(f"""
[models]
original = "original.skops"
unlearned = "unlearned.skops"
retrained = ["retrained-0.skops", "retrained-1.skops", "retrained-2.skops"]

[data]
path = "{data}"

[policy.general]
n_bootstrap = 200
""")
    return path


def _metric_values(results: dict) -> dict[tuple[str, str, str], float | None]:
    return {(c["id"], m["name"], m["split"]): m["value"] for c in results["checks"] for m in c["metrics"]}


def test_reordered_columns_give_the_same_results(case_dir: Path, tmp_path: Path) -> None:
    code_a, ordered = run_cli(_case(case_dir, "ordered.csv"), tmp_path / "a")
    code_b, reordered = run_cli(_case(case_dir, "reordered.csv"), tmp_path / "b")
    assert code_a == code_b
    assert _metric_values(ordered) and _metric_values(ordered) == _metric_values(reordered)
    assert [c["status"] for c in ordered["checks"]] == [c["status"] for c in reordered["checks"]]
    assert reordered["data"]["features"] == {"names": FEATURES, "source": "models"}
    fed = reordered["models"]["unlearned"]["features"]
    assert fed == {"columns": FEATURES, "matched_by": "name", "input": "frame"}


def test_missing_column_is_bad_input_naming_it(case_dir: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["run", str(_case(case_dir, "missing.csv")), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2, res.output
    assert "models.original" in res.output and "['c']" in res.output
    assert not (tmp_path / "o").exists()


def _named(names: list[str], weights: dict[str, float]):  # noqa: ANN202 - a test model
    def f(X: pd.DataFrame) -> np.ndarray:
        z = sum(w * X[c].to_numpy(dtype=float) for c, w in weights.items())
        return np.c_[np.zeros(len(X)), z]

    f.feature_names, f.takes_frame = names, True
    return f


def test_models_with_different_names_are_reconciled_per_model() -> None:
    df = _frame()[["d", "c", "b", "a", "label", "split"]]
    original = _named(["a", "b", "c", "d"], {"a": 1.0, "d": -1.0})
    retrain = _named(["a", "b"], {"a": 1.0})  # a retrain that never saw c and d
    case = AuditCase(original, original, [retrain], data=df)
    assert case.features == ["a", "b", "c", "d"]
    assert case.models["retrained:0"].feature_columns == ["a", "b"]
    expected = df["a"].to_numpy() - df["d"].to_numpy()
    X = case.inputs("test")
    assert np.allclose(case.models["original"].predict_logits(X)[:, 1], expected[case.mask("test")])


def test_unnamed_model_gets_the_declared_order_by_position() -> None:
    df = _frame()[["d", "c", "b", "a", "label", "split"]]
    first = lambda X: np.c_[np.zeros(len(X)), X[:, 0]]  # noqa: E731
    case = AuditCase(first, first, [first], data=df, features=["a", "b"])
    assert case.models["original"].feature_entry() == {"columns": ["a", "b"], "matched_by": "position",
                                                       "input": "matrix"}
    out = case.models["original"].predict_logits(case.inputs("forget"))
    assert np.allclose(out[:, 1], df.loc[case.mask("forget"), "a"].to_numpy(dtype=np.float32))


def test_model_needing_an_undeclared_column_is_bad_input() -> None:
    m = _named(["a", "d"], {"a": 1.0})
    with pytest.raises(BadInput) as err:
        AuditCase(m, m, [m], data=_frame(), features=["a", "b"])
    assert err.value.field == "data.features" and "['d']" in err.value.message


def test_declared_model_features_must_match_its_own_names(tmp_path: Path) -> None:
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    df = _frame()
    sio.dump(LogisticRegression().fit(df[FEATURES], df["label"]), tmp_path / "m.skops")
    from audit.core.adapters import load_model

    with pytest.raises(BadInput) as err:
        load_model({"path": "m.skops", "features": ["d", "c", "b", "a"]}, "models.original", tmp_path)
    assert err.value.field == "models.original.features"
    assert load_model({"path": "m.skops", "features": FEATURES}, "m", tmp_path).feature_names == FEATURES


def _two_input_onnx(path: Path) -> None:
    """An ONNX graph with one [n, 1] input per column (as skl2onnx exports DataFrame pipelines)."""
    import onnx
    from onnx import TensorProto, helper

    inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [None, 1]) for n in ("a", "d")]
    w = helper.make_tensor("w", TensorProto.FLOAT, [2, 2], [0.0, 1.0, 0.0, -1.0])
    nodes = [helper.make_node("Concat", ["a", "d"], ["x"], axis=1),
             helper.make_node("MatMul", ["x", "w"], ["logits"])]
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, 2])
    graph = helper.make_graph(nodes, "two_inputs", inputs, [out], initializer=[w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


def test_onnx_inputs_are_fed_by_name(tmp_path: Path) -> None:
    _two_input_onnx(tmp_path / "m.onnx")
    df = _frame()[["d", "split", "b", "a", "label"]]
    case = AuditCase("m.onnx", "m.onnx", ["m.onnx"], data=df, base_dir=tmp_path)
    assert case.features == ["a", "d"] and case.feature_source == "models"
    out = case.models["original"].predict_logits(case.inputs("test"))
    test = df[case.mask("test")]
    assert np.allclose(out[:, 1], (test["a"] - test["d"]).to_numpy(), atol=1e-5)
