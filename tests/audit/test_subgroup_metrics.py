"""Per-group metrics equal Fairlearn's MetricFrame on the same inputs (single and intersections)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, false_negative_rate, false_positive_rate
from sklearn.metrics import accuracy_score, log_loss

from audit.checks.subgroups import enumerate_slices, group_metrics, rates, slice_mask


def _data(seed: int, n: int = 900) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "lang": rng.choice(["en", "es", "vi"], n, p=[0.5, 0.3, 0.2]),
        "district": rng.choice(["A", "B", "C", "D"], n),
    })
    y = rng.integers(0, 2, n)
    p1 = np.clip(0.5 + 0.35 * (2 * y - 1) + rng.normal(0, 0.25, n), 0.01, 0.99)
    pred = (p1 > 0.5).astype(int)
    loss = -np.log(np.where(y == 1, p1, 1 - p1))
    return df, y, pred, loss, p1


@pytest.mark.parametrize("seed", [0, 1])
def test_accuracy_fnr_fpr_match_metricframe(seed: int) -> None:
    df, y, pred, loss, _ = _data(seed)
    slices = enumerate_slices(df, ["lang", "district"], max_depth=2)
    ours = group_metrics(y, {"u": pred}, {"u": loss}, slices).set_index("slice")
    metrics = {"accuracy": accuracy_score, "fnr": false_negative_rate, "fpr": false_positive_rate}
    checked = 0
    for cols in (["lang"], ["district"], ["lang", "district"]):
        mf = MetricFrame(metrics=metrics, y_true=y, y_pred=pred, sensitive_features=df[cols])
        for key, row in mf.by_group.iterrows():
            key = key if isinstance(key, tuple) else (key,)
            label = " & ".join(f"{c}={v}" for c, v in zip(cols, key, strict=True))
            if label not in ours.index:  # empty intersection: fairlearn gives NaN
                assert np.isnan(row["accuracy"])
                continue
            for m in metrics:
                assert ours.loc[label, m] == pytest.approx(row[m], abs=1e-12), (label, m)
            checked += 1
    assert checked == len(slices)
    # n per group equals the pandas count
    counts = df.groupby("lang").size()
    for v, c in counts.items():
        assert ours.loc[f"lang={v}", "n"] == c


def test_loss_matches_sklearn_log_loss() -> None:
    df, y, pred, loss, p1 = _data(2)
    out = group_metrics(y, {"u": pred}, {"u": loss}, enumerate_slices(df, ["lang"], max_depth=1))
    for _, row in out.iterrows():
        m = slice_mask(df, {"lang": row["slice"].split("=")[1]})
        ref = log_loss(y[m], np.c_[1 - p1[m], p1[m]], labels=[0, 1])
        assert row["loss"] == pytest.approx(ref, rel=1e-9)


def test_several_roles_and_undefined_rates() -> None:
    y = np.array([1, 1, 1])
    r = rates(y, np.array([1, 0, 1]))
    assert r["fnr"] == pytest.approx(1 / 3) and np.isnan(r["fpr"]) and np.isnan(r["loss"])
    df = pd.DataFrame({"g": ["a", "a", "b"]})
    out = group_metrics(y, {"original": y, "unlearned": 1 - y}, {"original": np.zeros(3), "unlearned": np.ones(3)},
                        enumerate_slices(df, ["g"], 1), binary=False)
    assert list(out.columns) == ["slice", "depth", "role", "n", "accuracy", "loss"]
    assert out.query("role == 'unlearned'")["accuracy"].tolist() == [0.0, 0.0]


def test_missing_group_column_is_bad_input() -> None:
    from audit.shared.errors import BadInput

    with pytest.raises(BadInput, match="nope"):
        enumerate_slices(pd.DataFrame({"g": ["a"]}), ["nope"])
