"""A second, differently generated dataset: the harmed group is found without being named.

Clinics record triage measurements; ``scanner`` (the device vendor) shifts the readings.
Clinic 3 withdraws; most of its patients were measured on the rare "Kappa" scanner, used by
a minority elsewhere. The same cheap random-label method unlearns Clinic 3; the check must
flag ``scanner = Kappa`` (named nowhere in the test) — and pass a retrain posing as U.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from audit.checks import registry
from audit.core.case import AuditCase
from audit.engine.runner import run_audit
from audit.scenarios.accent import approximate_unlearn

FEATS = ["hr", "bp", "spo2", "temp", "resp", "sig_a", "sig_b"]
POLICY = {"general": {"n_bootstrap": 400},
        **{cid: {"enabled": False} for cid in registry() if cid != "subgroup_shift"}}


def _frame(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    clinics = ["Clinic 1", "Clinic 2", "Clinic 3", "Clinic 4"]
    n_c = 1100
    clinic = np.repeat(clinics, n_c)
    p_kappa = {"Clinic 3": 0.85}
    scanner = np.array([rng.choice(["Alpha", "Beta", "Kappa"], p=(
        [0.1, 0.05, 0.85] if c in p_kappa else [0.55, 0.3, 0.15])) for c in clinic])
    n = len(clinic)
    sev = rng.normal(0, 1, n)
    shift = np.where(scanner == "Kappa", 1.0, 0.0)[:, None] * np.array([1.5, -1.2, 1.0, -0.8, 1.3])
    X = sev[:, None] * np.array([1.0, 0.8, -0.7, 0.6, 0.9]) + shift + rng.normal(0, 0.4, (n, 5))
    sig = np.c_[np.where(scanner == "Kappa", 2.5, np.where(scanner == "Beta", -1.0, 0.0)),
                np.where(scanner == "Kappa", -2.5, 0.0)] + rng.normal(0, 0.4, (n, 2))
    y = (rng.random(n) < 1 / (1 + np.exp(-4 * sev))).astype(int)
    test = rng.random(n) < 0.3
    split = np.where(test, "test", np.where(clinic == "Clinic 3", "forget", "retain"))
    df = pd.DataFrame(np.c_[X, sig], columns=FEATS)
    df["clinic"], df["scanner"], df["label"], df["split"] = clinic, scanner, y, split
    return df


def _fit(X: np.ndarray, y: np.ndarray, seed: int) -> MLPClassifier:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return MLPClassifier((24,), alpha=1e-3, learning_rate_init=3e-3, max_iter=150, random_state=seed).fit(X, y)


@pytest.fixture(scope="module")
def world() -> dict:
    df = _frame(7)
    X, y, s = df[FEATS].to_numpy(np.float32), df["label"].to_numpy(), df["split"].to_numpy()
    tr, re_, fo = s != "test", s == "retain", s == "forget"
    o = _fit(X[tr], y[tr], 11)
    return {"df": df, "O": o, "U": approximate_unlearn(o, X[fo], X[re_], y[re_], seed=5),
            "R": [_fit(X[re_], y[re_], 20 + k) for k in range(3)]}


def _check(w: dict, unlearned: object) -> dict:
    case = AuditCase(w["O"], unlearned, w["R"][:2], w["df"], groups=["scanner", "clinic"])
    res = run_audit(case, policy=POLICY, seed=1)
    return next(c for c in res["checks"] if c["id"] == "subgroup_shift")


def test_kappa_scanner_found_unprompted(world: dict) -> None:
    c = _check(world, world["U"])
    assert c["status"] == "fail"
    hits = [f for f in c["findings"] if f["slice"].get("scanner") == "Kappa" and f["status"] == "fail"]
    assert hits, c["summary"]
    acc = [f for f in hits if f["metric"] == "accuracy" and len(f["slice"]) == 1]
    assert acc and acc[0]["delta"] < -0.05 and acc[0]["p_adjusted"] < 0.05
    assert acc[0]["extra"]["forget_share[scanner=Kappa]"] > 0.6


def test_retrain_as_unlearned_is_within_margin(world: dict) -> None:
    c = _check(world, world["R"][2])
    assert not [f for f in c["findings"] if f["status"] == "fail"], c["summary"]
    m = next(m for m in c["metrics"] if m["name"] == "accuracy[scanner=Kappa]")
    assert m["status"] == "pass"
