"""Divergence and distance formulas against scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.special import log_softmax
from scipy.stats import entropy

from audit.checks.parameter_distance import flat_distances
from audit.core.divergence import row_divergences


def test_row_divergences_match_scipy() -> None:
    rng = np.random.default_rng(0)
    a = log_softmax(rng.normal(size=(50, 5)), axis=1)
    b = log_softmax(rng.normal(size=(50, 5)), axis=1)
    d = row_divergences(a, b)
    pa, pb = np.exp(a), np.exp(b)
    np.testing.assert_allclose(d["kl"], entropy(pa, pb, axis=1), rtol=1e-9)
    np.testing.assert_allclose(d["js"], jensenshannon(pa, pb, axis=1) ** 2, rtol=1e-7)
    np.testing.assert_allclose(d["tv"], 0.5 * np.abs(pa - pb).sum(1))
    assert np.all(row_divergences(a, a)["kl"] == 0)


def test_flat_distances() -> None:
    a = {"w": np.array([[1.0, 0.0]]), "b": np.array([0.0])}
    b = {"w": np.array([[0.0, 1.0]]), "b": np.array([0.0])}
    d = flat_distances(a, b)
    assert d["l2"] == pytest.approx(np.sqrt(2))
    assert d["relative_l2"] == pytest.approx(np.sqrt(2))
    assert d["cosine"] == pytest.approx(0.0)


def test_parameter_distance_skips_on_mismatched_architectures(tiny_frame) -> None:
    from audit.core.case import AuditCase
    from audit.engine.runner import run_audit

    class M:
        format, sha256 = "callable", None

        def __init__(self, shape):
            self.shape = shape

        def predict_logits(self, X):
            return np.c_[np.zeros(len(X)), X[:, 0]]

        def parameters(self):
            return {"w": np.zeros(self.shape)}

    case = AuditCase(original=M(4), unlearned=M(5), retrained=[M(4), M(4)], data=tiny_frame,
                     groups=["school"], id="row_id")
    res = run_audit(case)
    pd_check = next(c for c in res["checks"] if c["id"] == "parameter_distance")
    assert pd_check["status"] == "skipped"
    assert "different parameter names or shapes" in pd_check["missing"][0]
