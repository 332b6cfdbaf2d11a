"""Per-group deltas: paired exact tests, within-group bootstrap CIs, Holm / BH, small groups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats as sps

from audit.checks.subgroups import compare_groups, enumerate_slices
from audit.checks.subgroups.inference import sign_test
from audit.checks.subgroups.kernel import kernel_group_metrics
from audit.core.decision import Settings
from audit.core.stats import benjamini_hochberg, exact_mcnemar, holm

MARGINS = {"accuracy": 0.05, "fnr": 0.08, "fpr": 0.08, "loss": None, "loss_factor": 0.5}


def _world(seed: int = 0, n: int = 1200):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"g": rng.choice(["a", "b", "c", "tiny"], n, p=[0.45, 0.35, 0.197, 0.003])})
    y = rng.integers(0, 2, n)
    r_pred = np.where(rng.random(n) < 0.85, y, 1 - y)
    u_pred = r_pred.copy()
    harm = (frame["g"] == "b").to_numpy() & (rng.random(n) < 0.25)
    u_pred[harm] = 1 - y[harm]
    r_loss = rng.exponential(0.4, n)
    u_loss = r_loss + harm * 1.5 + rng.normal(0, 0.05, n)
    return frame, y, (u_pred, u_loss), (r_pred, r_loss), rng


def _run(frame, y, u, r, rng, metrics=("accuracy", "loss", "fnr", "fpr"), min_n=50):
    slices = enumerate_slices(frame, ["g"], max_depth=1)
    return slices, compare_groups(slices, y, u, {"U-R": ([r[0]], [r[1]]), "U-O": ([r[0]], [r[1]])},
                                  list(metrics), 0.05, 300, rng, min_n)


def test_accuracy_test_is_exact_mcnemar_on_the_groups_rows() -> None:
    frame, y, u, r, rng = _world()
    slices, tests = _run(frame, y, u, r, rng)
    for sl, mask in slices:
        t = next(t for t in tests if t.slice == sl and t.metric == "accuracy" and t.comparison == "U-R")
        uc, rc = u[0][mask] == y[mask], r[0][mask] == y[mask]
        b, c = int((uc & ~rc).sum()), int((~uc & rc).sum())
        assert t.p_value == pytest.approx(exact_mcnemar(b, c), rel=1e-12)
        assert t.test == "exact McNemar" and t.n == mask.sum()
        assert t.delta == pytest.approx(uc.mean() - rc.mean())


def test_loss_test_is_wilcoxon_and_fnr_uses_positives_only() -> None:
    frame, y, u, r, rng = _world(1)
    slices, tests = _run(frame, y, u, r, rng)
    sl, mask = slices[0]
    t = next(t for t in tests if t.slice == sl and t.metric == "loss" and t.comparison == "U-R")
    assert t.p_value == pytest.approx(sps.wilcoxon(u[1][mask] - r[1][mask]).pvalue)
    f = next(t for t in tests if t.slice == sl and t.metric == "fnr" and t.comparison == "U-R")
    assert f.n == int((y[mask] == 1).sum())


def test_holm_and_bh_across_all_groups_and_metrics() -> None:
    frame, y, u, r, rng = _world(2)
    _, tests = _run(frame, y, u, r, rng)
    fam = [t for t in tests if t.comparison == "U-R" and t.n >= 50]
    p = np.array([t.p_value for t in fam])
    assert [t.p_holm for t in fam] == pytest.approx(holm(p).tolist())
    assert [t.p_bh for t in fam] == pytest.approx(benjamini_hochberg(p).tolist())
    assert all(t.p_holm >= t.p_value for t in fam)  # raw kept next to adjusted


def test_compare_groups_describes_and_never_decides() -> None:
    frame, y, u, r, rng = _world(3)
    _, tests = _run(frame, y, u, r, rng)
    assert all(t.status is None for t in tests)  # the decision kernel decides, nowhere else
    acc = {t.slice["g"]: t for t in tests if t.comparison == "U-R" and t.metric == "accuracy"}
    assert acc["b"].ci[1] < -0.05 and acc["a"].delta == 0.0


def test_harmed_group_fails_others_pass_through_the_kernel() -> None:
    frame, y, u, r, rng = _world(3)
    refs = {}
    for i in range(3):  # references: r with 2 % of its predictions re-drawn (retrain noise)
        pred = r[0].copy()
        flip = np.random.default_rng(100 + i).random(len(y)) < 0.02
        pred[flip] = 1 - pred[flip]
        refs[f"retrained:{i}"] = (pred, r[1] + np.random.default_rng(200 + i).normal(0, 0.02, len(y)))
    slices = enumerate_slices(frame, ["g"], max_depth=1)
    decided = kernel_group_metrics(slices, y, {"unlearned": u, "original": r, **refs}, list(refs), ["accuracy"],
                                   MARGINS, Settings(), 50, 300, rng)
    assert decided[("g=b", "accuracy")].status == "fail"
    assert decided[("g=a", "accuracy")].status == "pass"
    assert decided[("g=tiny", "accuracy")].status == "inconclusive"  # 0.3 % of 1 200 rows


def test_small_groups_reported_inconclusive_never_dropped() -> None:
    frame, y, u, r, rng = _world(4)
    slices, tests = _run(frame, y, u, r, rng)
    tiny = [t for t in tests if t.slice == {"g": "tiny"}]
    assert tiny and all(t.status is None for t in tiny)
    assert all(t.n < 50 and t.p_holm is None for t in tiny)
    assert any("min_group_size" in " ".join(t.notes) for t in tiny if t.comparison == "U-R")
    # one-row and zero-positive groups do not crash
    one = pd.DataFrame({"g": ["solo"] + ["rest"] * 99})
    yy = np.r_[0, np.ones(99, int)]
    _, t1 = _run(one, yy, (yy.copy(), np.zeros(100)), (yy.copy(), np.zeros(100)), rng)
    solo = [t for t in t1 if t.slice == {"g": "solo"}]
    assert {t.metric: t.n for t in solo if t.comparison == "U-R"} == {"accuracy": 1, "loss": 1, "fnr": 0, "fpr": 1}
    assert all("min_group_size" in " ".join(t.notes) for t in solo if t.comparison == "U-R")


def test_ci_is_within_group_and_settles() -> None:
    frame, y, u, r, rng = _world(5)
    _, tests = _run(frame, y, u, r, rng, metrics=("accuracy",), min_n=10)
    for t in tests:
        if t.ci is not None and t.n >= 10:
            assert t.ci[0] <= t.delta <= t.ci[1]
    c = next(t for t in tests if t.slice == {"g": "c"} and t.comparison == "U-R")
    a = next(t for t in tests if t.slice == {"g": "a"} and t.comparison == "U-R")
    assert c.n < a.n


@pytest.mark.parametrize(("b", "c"), [(0, 0), (3, 0), (10, 2), (7, 7), (40, 55)])
def test_sign_test_equals_exact_mcnemar(b: int, c: int) -> None:
    assert sign_test(b, c) == pytest.approx(exact_mcnemar(b, c), rel=1e-12)


def test_discrete_bootstrap_matches_row_bootstrap() -> None:
    from audit.checks.subgroups.inference import within_group_ci
    from audit.core.stats import bootstrap_mean_ci

    rng = np.random.default_rng(9)
    d = rng.choice([-1.0, 0.0, 1.0, 0.5], 400, p=[0.2, 0.6, 0.1, 0.1])
    fast = within_group_ci(d, 4000, 0.9, np.random.default_rng(1))
    slow = bootstrap_mean_ci(d, 4000, 0.9, np.random.default_rng(2))
    assert fast == pytest.approx((float(slow[0]), float(slow[1])), abs=0.01)
    cont = rng.normal(size=300)  # many distinct values -> the row bootstrap itself
    assert within_group_ci(cont, 500, 0.9, np.random.default_rng(3)) == pytest.approx(
        tuple(map(float, bootstrap_mean_ci(cont, 500, 0.9, np.random.default_rng(3)))))
