"""A scikit-learn pipeline over a string column is audited as a table (issue 13, item 2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from audit.core.case import AuditCase
from audit.core.features import is_numeric_column
from audit.shared.errors import BadInput
from tests.conftest import run_cli, write_variant

COLUMNS = ["city", "x1", "x2", "member"]


def _data(seed: int = 0) -> pd.DataFrame:
    """Four cities; the forgotten rows are most of one city ("west"), labelled mostly 1."""
    rng = np.random.default_rng(seed)
    n = 960
    city = rng.choice(["north", "south", "east", "west"], size=n)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    label = (x1 + 0.5 * x2 + 0.4 * rng.normal(size=n) > 0).astype(int)
    split = rng.choice(["retain", "test"], size=n, p=[0.6, 0.4]).astype(object)
    west = np.flatnonzero(city == "west")
    forget = west[: int(0.8 * len(west))]
    split[forget] = "forget"
    label[forget] = (rng.random(len(forget)) < 0.9).astype(int)  # what the original memorises
    return pd.DataFrame({"city": city, "x1": x1, "x2": x2, "member": rng.random(n) < 0.5,
                         "label": label, "split": split})


def _pipeline(c: float = 10.0):  # noqa: ANN202 - a scikit-learn Pipeline
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    pre = ColumnTransformer([("city", OneHotEncoder(handle_unknown="ignore"), ["city"])],
                            remainder="passthrough")
    return Pipeline([("pre", pre), ("lr", LogisticRegression(C=c, max_iter=1000))])


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import skops.io as sio

    d = tmp_path_factory.mktemp("frame_pipeline")
    df = _data()
    df.to_parquet(d / "data.parquet")
    train, retain = df[df.split != "test"], df[df.split == "retain"]
    sio.dump(_pipeline().fit(train[COLUMNS], train["label"]), d / "original.skops")
    sio.dump(_pipeline().fit(retain[COLUMNS], retain["label"]), d / "retrain.skops")
    # a no-op with its own digest and outputs: the original's data, a slightly different C
    sio.dump(_pipeline(9.0).fit(train[COLUMNS], train["label"]), d / "near-original.skops")
    for i in range(3):  # references retrained on the retain rows (each a resample-free retrain)
        rows = retain.sample(frac=1.0, random_state=i)
        sio.dump(_pipeline().fit(rows[COLUMNS], rows["label"]), d / f"retrained-{i}.skops")
    (d / "case.toml").write_text("""
[models]
original = "original.skops"
unlearned = "retrain.skops"
retrained = ["retrained-0.skops", "retrained-1.skops", "retrained-2.skops"]

[data]
path = "data.parquet"

[policy.general]
n_bootstrap = 200

[policy.feature_removal]
enabled = true
feature = "city"
""")
    return d


def test_a_retrain_passes_through_the_cli(pipeline_dir: Path, tmp_path: Path) -> None:
    code, results = run_cli(pipeline_dir / "case.toml", tmp_path / "pass")
    assert code == 0, results["verdict_reason"]
    assert results["controls"]["power"] is True  # the original would have been caught
    assert results["data"]["features"]["names"] == COLUMNS
    assert results["models"]["original"]["features"]["input"] == "frame"
    removal = next(c for c in results["checks"] if c["id"] == "feature_removal")
    assert removal["status"] != "error" and any("score_gap skipped" in n for n in removal["notes"])


@pytest.mark.parametrize("unlearned", ["original.skops", "near-original.skops"])
def test_the_original_posing_as_unlearned_fails(pipeline_dir: Path, tmp_path: Path, unlearned: str) -> None:
    case = write_variant(pipeline_dir, tmp_path / "noop", unlearned=unlearned)
    code, results = run_cli(case, tmp_path / "fail")
    assert code == 1 and results["verdict"] == "fail", results["verdict_reason"]
    failed = {c["id"] for c in results["checks"] if c["status"] == "fail"}
    # byte-identical: the identity check; a near copy: the statistics themselves
    assert failed == {"identity"} if unlearned == "original.skops" else failed - {"identity"}, failed


def test_text_columns_reach_the_pipeline_as_a_frame(pipeline_dir: Path) -> None:
    case = AuditCase(str(pipeline_dir / "original.skops"), str(pipeline_dir / "retrain.skops"),
                     [str(pipeline_dir / "retrained-0.skops")], data=pipeline_dir / "data.parquet")
    X = case.inputs("test")
    assert isinstance(X, pd.DataFrame) and not is_numeric_column(X["city"])
    assert case.encoded_X("test").shape == (case.n["test"], 3 + 4)  # x1, x2, member + 4 cities
    with pytest.raises(BadInput, match="numeric matrix"):
        case.X("test")


def test_a_matrix_model_refuses_the_text_column_by_name(pipeline_dir: Path) -> None:
    f = lambda X: np.zeros((len(X), 2))  # noqa: E731 - a model fed a float matrix
    with pytest.raises(BadInput) as err:
        AuditCase(f, f, [f], data=pd.read_parquet(pipeline_dir / "data.parquet"))
    assert err.value.field == "data.features['city']" and "models.original" in err.value.message
