"""Messages name the real cause: model files, feature lists, labels, tiny splits."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from audit.cli.app import app
from audit.core.case import AuditCase
from audit.engine.runner import run_audit
from audit.shared.errors import BadInput

runner = CliRunner()


def _run(d: Path, tmp_path: Path) -> tuple[int, str]:
    res = runner.invoke(app, ["run", str(d / "case.toml"), "--out", str(tmp_path / "p")])
    assert "Traceback" not in res.output and not (tmp_path / "p").exists()
    return res.exit_code, res.output


def _copy(tiny_dir: Path, tmp_path: Path, old: str = "", new: str = "") -> Path:
    d = tmp_path / "case"
    shutil.copytree(tiny_dir, d)
    if old:
        (d / "case.toml").write_text((d / "case.toml").read_text().replace(old, new))
    return d


def test_corrupt_torchscript_is_one_line_naming_the_file(tiny_dir: Path, tmp_path: Path) -> None:
    d = _copy(tiny_dir, tmp_path, 'unlearned = "unlearned.skops"', 'unlearned = "u.pt"')
    (d / "u.pt").write_bytes(b"PK\x03\x04 half a zip")
    code, out = _run(d, tmp_path)
    assert code == 2 and out.count("\n") == 1
    assert "models.unlearned: u.pt is not a loadable TorchScript archive (RuntimeError:" in out


class _Wrong(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ torch.ones(7, 2)  # the data has 4 features


def test_torchscript_failing_in_forward_is_one_line(tiny_dir: Path, tmp_path: Path) -> None:
    d = _copy(tiny_dir, tmp_path, 'unlearned = "unlearned.skops"', 'unlearned = "u.pt"')
    torch.jit.save(torch.jit.script(_Wrong()), str(d / "u.pt"))
    code, out = _run(d, tmp_path)
    assert code == 2 and out.count("\n") == 1, out
    assert out.startswith("error: models.unlearned: fails on the data's 4 feature columns: RuntimeError:")


def test_features_given_as_a_string(tiny_dir: Path, tmp_path: Path) -> None:
    d = _copy(tiny_dir, tmp_path, 'id = "row_id"', 'id = "row_id"\nfeatures = "f0"')
    code, out = _run(d, tmp_path)
    assert code == 2 and "data.features: features must be a list of column names, got 'f0'" in out


@pytest.mark.parametrize("label", [2, -1, 9])
def test_out_of_range_label_names_the_field_and_value(label: int, tiny_frame: pd.DataFrame) -> None:
    df = tiny_frame.copy()
    df.loc[5, "label"] = label
    f = lambda X: np.c_[np.zeros(len(X)), X[:, 0]]  # noqa: E731 - no classes_: indices 0..1
    with pytest.raises(BadInput) as err:
        AuditCase(original=f, unlearned=f, retrained=[f], data=df, groups=["school"], id="row_id")
    assert err.value.field == "data.label" and f"e.g. {label}" in err.value.message


def test_unknown_label_of_a_classifier_with_classes(tiny_dir: Path, tmp_path: Path) -> None:
    d = _copy(tiny_dir, tmp_path)
    df = pd.read_csv(d / "data.csv")
    df.loc[3, "label"] = 5
    df.to_csv(d / "data.csv", index=False)
    code, out = _run(d, tmp_path)
    assert code == 2 and "data.label" in out and "e.g. 5" in out


@pytest.mark.parametrize("split", ["forget", "test"])
def test_a_single_row_split_never_decides_the_verdict(split: str, tiny_frame: pd.DataFrame) -> None:
    df = tiny_frame.copy()
    rows = df.index[df["split"] == split]
    df.loc[rows[1:], "split"] = "retain"  # one row left in the split
    w = np.array([1.0, 0.5, 0.0, 0.0])
    model = lambda s: (lambda X: np.c_[np.zeros(len(X)), X @ (w * s)])  # noqa: E731
    case = AuditCase(original=model(3.0), unlearned=model(1.0), retrained=[model(1.0), model(1.01), model(0.99)],
                     data=df, groups=["school"], id="row_id")
    res = run_audit(case, policy={"general": {"n_bootstrap": 200}})
    assert res["verdict"] not in ("pass", "fail"), res["verdict_reason"]
    assert res["exit_code"] == 3
