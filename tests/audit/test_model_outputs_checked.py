"""NaN / inf / wrong-shaped model outputs on any split are bad input naming the model and split."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from audit.core.adapters import CallableModel
from audit.core.cache import OutputCache
from audit.core.case import AuditCase
from audit.engine.runner import run_audit
from audit.shared.errors import BadInput


def _good(X: np.ndarray) -> np.ndarray:
    return np.c_[np.zeros(len(X)), X[:, 0]]


def _poison_where(flag: float, value: float) -> Callable[[np.ndarray], np.ndarray]:
    """A model that is fine except on rows whose second feature equals ``flag``."""
    def f(X: np.ndarray) -> np.ndarray:
        out = _good(X)
        out[X[:, 1] == flag, 1] = value
        return out
    return f


def _frame(tiny_frame: pd.DataFrame) -> pd.DataFrame:
    df = tiny_frame.copy()
    df.loc[df.index[-3], "f1"] = 7.0  # a test row, far from the probe rows
    return df


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("role", ["unlearned", "retrained:1"])
def test_non_finite_output_on_a_split_is_bad_input(role: str, value: float, tiny_frame: pd.DataFrame) -> None:
    models = {"original": _good, "unlearned": _good, "retrained": [_good, _good]}
    bad = _poison_where(7.0, value)
    if role == "unlearned":
        models["unlearned"] = bad
    else:
        models["retrained"] = [_good, bad]
    case = AuditCase(**models, data=_frame(tiny_frame), groups=["school"], id="row_id")  # probe passes
    with pytest.raises(BadInput) as err:
        run_audit(case)
    field = "models.unlearned" if role == "unlearned" else "models.retrained[1]"
    assert err.value.field == field
    assert "NaN/inf" in err.value.message and "test split" in err.value.message
    assert "row 97" in err.value.message  # the row within the test split, not within a batch


@pytest.mark.parametrize(("out", "words"), [
    (lambda X: np.zeros((len(X), 2, 1)), "output shape"),
    (lambda X: np.zeros((len(X) - 1, 2)), "output shape"),
    (lambda X: np.zeros((len(X), 1)), "output shape"),
    (lambda X: np.array([["a", "b"]] * len(X)), "fails on the forget split: ValueError"),
    (lambda X: 1 / 0, "fails on the forget split: ZeroDivisionError"),
])
def test_wrong_shape_or_type_names_model_and_split(out: Callable, words: str) -> None:
    X = np.zeros((10, 3), np.float32)
    cache = OutputCache({"original": CallableModel(out)}, lambda s: X, lambda s: np.zeros(10, int), batch_size=4)
    with pytest.raises(BadInput) as err:
        cache.logprobs("original", "forget")
    assert err.value.field == "models.original"
    assert words in err.value.message and "forget split" in err.value.message


def test_class_count_changing_between_batches_is_refused() -> None:
    calls = iter([2, 3])
    X = np.zeros((8, 3), np.float32)
    cache = OutputCache({"retrained:0": CallableModel(lambda Z: np.zeros((len(Z), next(calls))))},
                        lambda s: X, lambda s: np.zeros(8, int), batch_size=4)
    with pytest.raises(BadInput, match=r"models.retrained\[0\]: output has 3 classes on the retain split"):
        cache.logprobs("retrained:0", "retain")


def test_finite_outputs_still_pass_through_unchanged() -> None:
    X = np.random.default_rng(0).normal(size=(9, 3)).astype(np.float32)
    cache = OutputCache({"original": CallableModel(_good)}, lambda s: X, lambda s: np.zeros(9, int), batch_size=4)
    lp = cache.logprobs("original", "test")
    np.testing.assert_allclose(np.exp(lp).sum(axis=1), 1.0, rtol=1e-6)
