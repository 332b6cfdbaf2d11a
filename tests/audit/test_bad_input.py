"""Bad input: a clear message naming the field, exit code 2, nothing written."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from audit.cli.app import app

runner = CliRunner()


def _edit_toml(d: Path, old: str, new: str) -> None:
    p = d / "case.toml"
    text = p.read_text()
    assert old in text, old
    p.write_text(text.replace(old, new))


def _edit_data(d: Path, fn: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    df = pd.read_csv(d / "data.csv")
    fn(df).to_csv(d / "data.csv", index=False)


def _set(df: pd.DataFrame, col: str, rows: slice, value: object) -> pd.DataFrame:
    df[col] = df[col].astype(object) if isinstance(value, str) else df[col]
    df.loc[df.index[rows], col] = value
    return df


def _model_with(d: Path, name: str, n_features: int = 4, n_classes: int = 2) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, n_features))
    y = np.arange(60) % n_classes
    sio.dump(LogisticRegression().fit(X, y), d / name)


class HomeMadeClassifier(LogisticRegression):
    """A type nobody reviewed: skops must not load it implicitly."""


def _unreviewed_skops(d: Path) -> None:
    rng = np.random.default_rng(0)
    model = HomeMadeClassifier().fit(rng.normal(size=(40, 4)), np.arange(40) % 2)
    sio.dump(model, d / "unlearned.skops")


def _escaping_onnx(d: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    w = helper.make_tensor("W", TensorProto.FLOAT, [4, 2], np.zeros(8, np.float32).tobytes(), raw=True)
    w.data_location = TensorProto.EXTERNAL
    w.ClearField("raw_data")
    for k, v in (("location", "../../etc/passwd"), ("offset", "0"), ("length", "32")):
        e = w.external_data.add()
        e.key, e.value = k, v
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["Y"])], "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 2])], [w])
    onnx.save(helper.make_model(graph), str(d / "unlearned.onnx"))
    _edit_toml(d, 'unlearned = "unlearned.skops"', 'unlearned = "unlearned.onnx"')


CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "invalid_toml": (lambda d: (d / "case.toml").write_text("[case\nname="), "case"),
    "case_name_a_table": (lambda d: _edit_toml(d, 'name = "tiny"', 'name = {a = 1}'), "case.name"),
    "recipe_params_a_string": (lambda d: (d / "case.toml").write_text((d / "case.toml").read_text()
                               + '[training]\nrecipe = "sklearn"\nparams = "x"\n[references]\ntrain = 1\n'),
                               "training.params"),
    "label_an_integer": (lambda d: _edit_toml(d, 'label = "label"', "label = 3"), "data.label"),
    "unknown_section": (lambda d: _edit_toml(d, "[data]", "[dataa]"), "dataa"),
    "unknown_data_key": (lambda d: _edit_toml(d, 'label = "label"', 'lable = "label"'), "data.lable"),
    "missing_models_key": (lambda d: _edit_toml(d, 'original = "original.skops"\n', ""), "models.original"),
    "missing_model_file": (lambda d: (d / "unlearned.skops").unlink(), "models.unlearned"),
    "empty_retrained": (lambda d: _edit_toml(d, 'retrained = ["retrained-0.skops", "retrained-1.skops"]',
                                             "retrained = []"), "models.retrained"),
    "unknown_model_format": (lambda d: ((d / "m.h5").write_bytes(b"x"),
                                        _edit_toml(d, 'unlearned = "unlearned.skops"', 'unlearned = "m.h5"')),
                             "models.unlearned"),
    "pickle_not_allowed": (lambda d: ((d / "m.pkl").write_bytes(b"x"),
                                      _edit_toml(d, 'original = "original.skops"', 'original = "m.pkl"')),
                           "--allow-pickle"),
    "corrupt_skops": (lambda d: (d / "retrained-1.skops").write_bytes(b"not a zip"), "models.retrained[1]"),
    "unreviewed_skops_type": (_unreviewed_skops, "unreviewed types"),
    "onnx_external_data_escape": (_escaping_onnx, "escapes the model directory"),
    "safetensors_without_architecture": (
        lambda d: ((d / "w.safetensors").write_bytes(b"x"),
                   _edit_toml(d, 'unlearned = "unlearned.skops"', 'unlearned = "w.safetensors"')),
        "architecture"),
    "class_count_mismatch": (lambda d: _model_with(d, "retrained-1.skops", n_classes=3), "number of classes"),
    "feature_count_mismatch": (lambda d: _model_with(d, "unlearned.skops", n_features=5), "models.unlearned"),
    "label_outside_classes": (lambda d: _edit_data(d, lambda df: _set(df, "label", slice(0, 1), 7)), "data.label"),
    "nan_feature": (lambda d: _edit_data(d, lambda df: _set(df, "f2", slice(3, 5), np.nan)), "data.features['f2']"),
    "inf_feature": (lambda d: _edit_data(d, lambda df: _set(df, "f1", slice(0, 1), np.inf)), "data.features['f1']"),
    "non_numeric_feature": (lambda d: _edit_data(d, lambda df: _set(df, "f3", slice(0, 1), "high")), "data.features['f3']"),
    "missing_split_value": (lambda d: _edit_data(d, lambda df: _set(df, "split", slice(50, 52), np.nan)), "data.split"),
    "unknown_split_value": (lambda d: _edit_data(d, lambda df: _set(df, "split", slice(60, 61), "validation")), "data.split"),
    "empty_forget": (lambda d: _edit_data(d, lambda df: _set(df, "split", slice(0, 40), "retain")), "forget split is empty"),
    "empty_test": (lambda d: _edit_data(d, lambda df: _set(df, "split", slice(200, 300), "retain")), "test split is empty"),
    "id_in_forget_and_test": (lambda d: _edit_data(d, lambda df: _set(df, "row_id", slice(250, 251), "r0")), "data.id"),
    "missing_group_column": (lambda d: _edit_toml(d, 'groups = ["school"]', 'groups = ["district"]'), "data.groups[0]"),
    "missing_label_column": (lambda d: _edit_toml(d, 'label = "label"', 'label = "grade"'), "data.label"),
    "missing_data_file": (lambda d: (d / "data.csv").unlink(), "data.path"),
    "unsupported_data_format": (lambda d: _edit_toml(d, 'path = "data.csv"', 'path = "data.xlsx"'), "data.path"),
    "unknown_policy_key_in_case": (lambda d: (d / "case.toml").write_text(
        (d / "case.toml").read_text() + "\n[policy.utility]\naccuracy_margn = 0.1\n"),
        "case.policy.utility.accuracy_margn"),
    "unknown_policy_section_in_case": (lambda d: (d / "case.toml").write_text(
        (d / "case.toml").read_text() + "\n[policy.utilty]\nrequired = false\n"), "case.policy.utilty"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_exits_2_names_field_writes_nothing(name: str, tiny_dir: Path, tmp_path: Path) -> None:
    mutate, expected = CASES[name]
    d = tmp_path / "case"
    shutil.copytree(tiny_dir, d)
    mutate(d)
    out = tmp_path / "pack"
    res = runner.invoke(app, ["run", str(d / "case.toml"), "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    assert expected in res.output
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".pack")]


def test_missing_case_file(tmp_path: Path) -> None:
    res = runner.invoke(app, ["run", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "case file not found" in res.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(("policy", "field"), [
    ("[utility]\naccuracy_margn = 0.1\n", "policy.utility.accuracy_margn"),
    ("[utility]\naccuracy_margin = \"wide\"\n", "policy.utility.accuracy_margin"),
    ("[general]\nalpha = 0.7\n", "policy.general.alpha"),
    ("[nonsense]\nx = 1\n", "policy.nonsense"),
])
def test_bad_policy_file(policy: str, field: str, tiny_dir: Path, tmp_path: Path) -> None:
    p = tmp_path / "policy.toml"
    p.write_text(policy)
    out = tmp_path / "pack"
    res = runner.invoke(app, ["run", str(tiny_dir / "case.toml"), "--out", str(out), "--policy", str(p)])
    assert res.exit_code == 2 and field in res.output
    assert not out.exists()


def test_out_dir_that_is_not_a_pack_is_refused(tiny_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "precious"
    out.mkdir()
    (out / "thesis.txt").write_text("do not delete")
    res = runner.invoke(app, ["run", str(tiny_dir / "case.toml"), "--out", str(out)])
    assert res.exit_code == 2 and "--out" in res.output
    assert (out / "thesis.txt").read_text() == "do not delete"


def test_unknown_scenario_is_bad_input(tmp_path: Path) -> None:
    res = runner.invoke(app, ["scenario", "mnist", "--out", str(tmp_path / "s")])
    assert res.exit_code == 2 and "unknown scenario" in res.output


def test_pickle_allowed_when_asked(tiny_dir: Path, tmp_path: Path) -> None:
    import joblib

    d = tmp_path / "case"
    shutil.copytree(tiny_dir, d)
    joblib.dump(sio.load(d / "original.skops"), d / "original.joblib")
    _edit_toml(d, 'original = "original.skops"', 'original = "original.joblib"')
    res = runner.invoke(app, ["run", str(d / "case.toml"), "--out", str(tmp_path / "p"),
                              "--allow-pickle", "--format", "json"])
    assert res.exit_code in (0, 1, 3), res.output
    assert '"allow_pickle": true' in res.output
