"""Forget-kind detection: random rows, a class, half a class, a group, declared kinds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression

from attacks.strata import matched_auc
from audit.core.case import AuditCase
from audit.core.case_file import load_case
from audit.core.forget_kind import detect_forget_kind
from audit.core.limits import limits_of
from audit.shared.errors import BadInput


def _table(seed: int, n: int = 900) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "x": rng.normal(size=n), "label": rng.integers(0, 3, n),
        "district": rng.choice(["A", "B", "C"], n), "pair": np.arange(n) // 2,  # 2-row groups
        "split": np.where(np.arange(n) < 700, "retain", "test")})


def _forget(df: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    df = df.copy()
    df.loc[rows, "split"] = "forget"
    return df


def _case(df: pd.DataFrame, **kw: object) -> AuditCase:
    f = lambda X: np.c_[np.zeros(len(X)), X[:, 0], -X[:, 0]]  # noqa: E731
    # "pair" has hundreds of 2-row groups: above the default general.max_group_values
    kw.setdefault("limits", {**limits_of(), "max_group_values": 10_000})
    return AuditCase(original=f, unlearned=f, retrained=[f], data=df, label="label", split="split",
                     groups=["district", "pair"], features=["x"], **kw)


def _train(df: pd.DataFrame) -> np.ndarray:
    return (df["split"] == "retain").to_numpy()


@pytest.mark.parametrize("seed", [0, 1, pytest.param(2, marks=pytest.mark.slow)])
def test_random_rows(seed: int) -> None:
    df = _table(seed)
    rows = np.random.default_rng(seed).choice(np.flatnonzero(_train(df)), 70, replace=False)
    fk = detect_forget_kind(_case(_forget(df, rows)))
    assert fk.kind == "random" and fk.detected == "random"
    assert fk.strata_columns == ("label",)  # a 2-row "pair" fully forgotten is chance, not a group
    assert fk.evidence.startswith("no label or group value is concentrated")


@pytest.mark.parametrize("seed", [0, 1])
def test_whole_class(seed: int) -> None:
    df = _table(seed)
    rows = np.flatnonzero(_train(df) & (df["label"] == 2).to_numpy())
    fk = detect_forget_kind(_case(_forget(df, rows)))
    assert fk.kind == "class" and fk.strata_columns == ("label",)
    assert fk.evidence == f"class 2: all {len(rows)} training rows are in the forget set"


def test_half_a_class() -> None:
    df = _table(3)
    rows = np.flatnonzero(_train(df) & (df["label"] == 1).to_numpy())
    rows = rows[: len(rows) // 2 + 1]
    fk = detect_forget_kind(_case(_forget(df, rows)))
    assert fk.kind == "class"
    assert fk.evidence.startswith("class 1: 5") and "% of its" in fk.evidence


def test_group_removal_matches_on_label_and_group() -> None:
    df = _table(4)
    rows = np.flatnonzero(_train(df) & (df["district"] == "A").to_numpy())
    case = _case(_forget(df, rows))
    fk = detect_forget_kind(case)
    assert fk.kind == "group" and fk.strata_columns == ("label", "district")
    assert fk.evidence == f"district = A: all {len(rows)} rows of this value are forgotten"
    keys = fk.strata(case.frame("forget"))
    assert set(keys) == {f"label={k}, district=A" for k in range(3)}


def test_group_removal_from_frames() -> None:
    df = _table(5)
    df = _forget(df, np.flatnonzero(_train(df) & (df["district"] == "C").to_numpy()))
    fk = detect_forget_kind(forget=df[df.split == "forget"], retain=df[df.split == "retain"],
                            groups=["district"])
    assert fk.kind == "group" and fk.declared is None


def test_matched_auc_on_detected_strata_removes_the_class_effect() -> None:
    """End to end: the loss of a model that never saw class 2 is high on every class-2
    row, member or not. Unmatched, the forget rows (all class 2) look 'different';
    matched on the detected strata, they do not."""
    df = _table(6, 3000)
    df["split"] = np.where(np.arange(3000) < 2000, "retain", "test")
    df = _forget(df, np.flatnonzero(_train(df) & (df["label"] == 2).to_numpy()))
    case = _case(df)
    fk = detect_forget_kind(case)
    rng = np.random.default_rng(0)
    score = {s: -rng.normal(np.where(case.frame(s)["label"] == 2, 3.0, 0.5), 1) for s in ("forget", "test")}
    ps, ns = fk.strata(case.frame("forget")), fk.strata(case.frame("test"))
    from attacks.metrics import auc
    plain = auc(np.r_[score["forget"], score["test"]], np.r_[np.ones(len(ps)), np.zeros(len(ns))])
    assert plain < 0.2 and abs(matched_auc(score["forget"], score["test"], ps, ns).auc - 0.5) < 0.06


def test_declared_kind_wins_and_strata_are_still_computed() -> None:
    df = _table(7)
    df = _forget(df, np.flatnonzero(_train(df) & (df["district"] == "B").to_numpy()))
    fk = detect_forget_kind(_case(df, forget_kind="random"))
    assert (fk.kind, fk.declared, fk.detected) == ("random", "random", "group")
    assert fk.strata_columns == ("label", "district")
    assert fk.evidence.startswith("declared in the case file as random; the rows alone suggest group")
    agree = detect_forget_kind(_case(df, forget_kind="group"))
    assert agree.kind == "group" and agree.evidence.startswith("declared in the case file as group, and")
    feat = detect_forget_kind(_case(df, forget_kind="feature"))
    assert feat.kind == "feature"


def test_bad_declared_kind_names_the_field() -> None:
    with pytest.raises(BadInput) as exc:
        _case(_forget(_table(8), np.arange(10)), forget_kind="classes")
    assert exc.value.field == "case.forget_kind" and "'classes'" in exc.value.message
    with pytest.raises(BadInput, match="case.forget_kind"):
        detect_forget_kind(forget=pd.DataFrame({"label": [1]}), retain=pd.DataFrame({"label": [0]}),
                           declared="everything")


def _case_dir(tmp_path: Path, kind_line: str) -> Path:
    df = _forget(_table(9), np.arange(50))
    df.to_csv(tmp_path / "data.csv", index=False)
    rng = np.random.default_rng(0)
    sio.dump(LogisticRegression().fit(rng.normal(size=(60, 1)), np.arange(60) % 3), tmp_path / "m.skops")
    (tmp_path / "case.toml").write_text(
        f'[case]\nname = "t"\n{kind_line}\n[models]\noriginal = "m.skops"\nunlearned = "m.skops"\n'
        'retrained = ["m.skops"]\n[data]\npath = "data.csv"\nlabel = "label"\nsplit = "split"\n'
        'groups = ["district"]\nfeatures = ["x"]\n')
    return tmp_path / "case.toml"


def test_case_file_declares_the_kind(tmp_path: Path) -> None:
    case = load_case(_case_dir(tmp_path, 'forget_kind = "group"'))
    assert case.forget_kind == "group" and detect_forget_kind(case).kind == "group"


def test_case_file_bad_kind_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput) as exc:
        load_case(_case_dir(tmp_path, 'forget_kind = "district"'))
    assert exc.value.field == "case.forget_kind"
