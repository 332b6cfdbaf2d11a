"""The accent scenario reproduces its story (checked with plain numpy / scikit-learn)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio

from audit.scenarios.accent import FEATURES, SHARED_LANGUAGE, WITHDRAWN_DISTRICT, accent_frame

REVIEWED = ["sklearn.neural_network._stochastic_optimizers.AdamOptimizer"]
MODELS = ["original", "unlearned", "retrained-0", "retrained-1", "extra/retrained-other-seed"]


def _load(d: Path, name: str):
    path = str(d / f"{name}.skops")
    assert sio.get_untrusted_types(file=path) == REVIEWED
    return sio.load(path, trusted=REVIEWED)


def _accuracies(d: Path) -> tuple[dict[str, dict[str, float]], pd.DataFrame]:
    df = pd.read_parquet(d / "data.parquet")
    te = df[df["split"] == "test"]
    X = te[list(FEATURES)].to_numpy(np.float32)
    y = te["label"].to_numpy()
    elsewhere = (te["district"] != WITHDRAWN_DISTRICT).to_numpy()
    shared = elsewhere & (te["home_language"] == SHARED_LANGUAGE).to_numpy()
    rest = elsewhere & ~shared
    out = {}
    for name in MODELS:
        correct = _load(d, name).predict(X) == y
        out[name] = {"shared": correct[shared].mean(), "rest": correct[rest].mean(), "all": correct.mean()}
    return out, te


def test_files_and_columns(accent_dir: Path) -> None:
    text = (accent_dir / "case.toml").read_text()
    assert 'groups = ["home_language", "district"]' in text and 'recipe = "sklearn"' in text
    df = pd.read_parquet(accent_dir / "data.parquet")
    assert pd.api.types.is_string_dtype(df["student_id"]) and df["student_id"].is_unique
    assert set(df["split"]) == {"forget", "retain", "test"}
    assert set(df["label"].unique()) == {0, 1} and df["label"].dtype == np.int64
    # forget = every training row of District A; the test split holds students of all districts
    assert (df.loc[df["split"] == "forget", "district"] == WITHDRAWN_DISTRICT).all()
    assert not (df.loc[df["split"] == "retain", "district"] == WITHDRAWN_DISTRICT).any()
    assert df.loc[df["split"] == "test", "district"].nunique() == 5
    # District A's dominant language is a minority language elsewhere
    a = df[df["district"] == WITHDRAWN_DISTRICT]["home_language"].value_counts(normalize=True)
    other = df[df["district"] != WITHDRAWN_DISTRICT]["home_language"].value_counts(normalize=True)
    assert a.idxmax() == SHARED_LANGUAGE and 0.05 < other[SHARED_LANGUAGE] < 0.3


def test_story_holds(accent_dir: Path) -> None:
    acc, te = _accuracies(accent_dir)
    refs = [acc["retrained-0"], acc["retrained-1"]]
    r_shared = np.mean([r["shared"] for r in refs])
    r_rest = np.mean([r["rest"] for r in refs])
    drop_shared = acc["unlearned"]["shared"] - r_shared
    drop_rest = acc["unlearned"]["rest"] - r_rest
    # the shared-language group elsewhere loses clearly more under U than the rest does
    assert drop_shared < -0.10, acc
    assert abs(drop_rest) < 0.03, acc
    assert drop_shared < drop_rest - 0.08
    # the retrain with another seed sits next to the references (known-answer rerun)
    other = acc["extra/retrained-other-seed"]
    assert abs(other["shared"] - r_shared) < 0.05 and abs(other["rest"] - r_rest) < 0.03
    # retrains with different seeds differ: the R-R noise floor is non-zero
    X = te[list(FEATURES)].to_numpy(np.float32)
    p0 = _load(accent_dir, "retrained-0").predict_proba(X)
    p1 = _load(accent_dir, "retrained-1").predict_proba(X)
    assert np.abs(p0 - p1).max() > 1e-3


def test_case_loads_with_foundation(accent_dir: Path) -> None:
    from audit.core.case_file import load_case

    case = load_case(accent_dir / "case.toml")
    assert sorted(case.features) == sorted(FEATURES)
    assert case.groups == ["home_language", "district"]


@pytest.mark.parametrize("seed", [1, 2])
def test_frame_other_seeds_well_formed(seed: int) -> None:
    df = accent_frame(seed, students_per_district=200)
    assert len(df) == 1000 and df["student_id"].is_unique
    assert np.isfinite(df[list(FEATURES)].to_numpy()).all()
