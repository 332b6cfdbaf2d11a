"""With one retrained reference there is no noise floor: auto margins cannot pass."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from audit.case import AuditCase
from audit.runner import run_audit


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


def test_absolute_margin_works_with_one_reference(tiny_frame) -> None:
    w = np.array([1.0, 0.5, 0.0, 0.0])
    case = AuditCase(original=_lin(w), unlearned=_lin(w), retrained=[_lin(w)], data=tiny_frame,
                     groups=["school"], id="row_id")
    res = run_audit(case, policy={"output_divergence": {"kl_margin": 0.01}})
    od = next(c for c in res["checks"] if c["id"] == "output_divergence")
    assert od["status"] == "pass"


@pytest.mark.parametrize("module", ["audit.stats", "audit.results", "audit.case", "audit.adapters",
                                    "audit.recipes", "audit.runner"])
def test_docstring_examples_run(module: str) -> None:
    import importlib

    failures, _ = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert failures == 0
