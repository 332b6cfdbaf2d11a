"""With one retrained reference there is no retrain-to-retrain spread: nothing can pass or fail."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from audit.core.case import AuditCase
from audit.engine.runner import run_audit


def _lin(w):
    return lambda X: np.c_[np.zeros(len(X)), X[:, :4] @ w]


def test_one_reference_is_inconclusive_and_says_what_is_missing(tiny_frame) -> None:
    w = np.array([1.0, 0.5, 0.0, 0.0])
    case = AuditCase(original=_lin(w), unlearned=_lin(w), retrained=[_lin(w)], data=tiny_frame,
                     groups=["school"], id="row_id")
    res = run_audit(case)
    od = next(c for c in res["checks"] if c["id"] == "output_divergence")
    assert od["status"] == "inconclusive"
    assert any("second retrained reference" in m for m in od["missing"])
    assert res["verdict"] == "inconclusive" and res["exit_code"] == 3


def test_absolute_margin_does_not_replace_a_second_reference(tiny_frame) -> None:
    """An absolute margin says what difference matters, not what a fresh retrain would score."""
    w = np.array([1.0, 0.5, 0.0, 0.0])
    case = AuditCase(original=_lin(w + 1.0), unlearned=_lin(w), retrained=[_lin(w)], data=tiny_frame,
                     groups=["school"], id="row_id")
    res = run_audit(case, policy={"utility": {"accuracy_margin": 0.01}})
    ut = next(c for c in res["checks"] if c["id"] == "utility")
    assert ut["status"] == "inconclusive"
    assert all(m["status"] == "inconclusive" and m["k_to_settle"] == 2 for m in ut["metrics"])
    assert "needs >= 2 retrained references" in ut["metrics"][0]["note"]


@pytest.mark.parametrize("module", ["audit.core.stats", "audit.core.results", "audit.core.case", "audit.core.adapters",
                                    "audit.training.recipes", "audit.engine.runner", "audit.cli.contract"])
def test_docstring_examples_run(module: str) -> None:
    import importlib

    failures, _ = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert failures == 0
