"""A case without declared groups (like digits) passes on discovery alone — never a required inconclusive."""

from __future__ import annotations

import numpy as np
import pandas as pd

from audit.checks import registry
from audit.core.case import AuditCase
from audit.engine.runner import run_audit


def test_no_groups_passes_with_note() -> None:
    rng = np.random.default_rng(0)
    n = 600
    df = pd.DataFrame({"x0": rng.normal(size=n), "x1": rng.normal(size=n)})
    df["label"] = (df["x0"] > 0).astype(int)
    df["split"] = rng.choice(["forget", "retain", "test"], n, p=[0.2, 0.4, 0.4])

    def model(X: np.ndarray) -> np.ndarray:
        return np.c_[np.zeros(len(X)), 3 * X[:, 0]]

    case = AuditCase(model, model, [model], df)
    pol = {cid: {"enabled": False} for cid in registry() if cid != "subgroup_shift"}
    c = next(c for c in run_audit(case, policy=pol, seed=0)["checks"] if c["id"] == "subgroup_shift")
    assert c["status"] == "pass" and c["findings"] == []
    assert c["missing"] and "no [data] groups" in c["missing"][0]
