"""The case's task: classification or regression, declared (``[case] task``) or detected.

A classifier returns ``[rows, classes >= 2]`` scores per row; a regressor one value per row
(``[rows]`` or ``[rows, 1]``). Detection is conservative:

* every model returning one value per row makes a regression case, except when no model is
  a known scikit-learn regressor (``sklearn.base.is_regressor``) and the labels look like
  class indices (few distinct integers) — one probability column of a binary classifier
  looks the same, so that case must be declared;
* every model returning class scores makes a classification case;
* a mix, a multi-output regressor, or a declaration the models contradict is bad input
  naming ``case.task`` (or ``models`` when nothing was declared).

What was decided, and why, is recorded in results.json ``data.task``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from audit.shared.errors import BadInput

__all__ = ["TASKS", "CASE_TASKS", "TaskInfo", "validate_task", "model_task", "decide_task", "encode_targets"]

TASKS = ("classification", "regression")
#: every task a case may declare: the two above, and a causal language model (:mod:`audit.lm`)
CASE_TASKS = (*TASKS, "language_model")
# labels with at most this many distinct integer values look like class indices
_CLASS_LIKE_VALUES = 20


@dataclass(frozen=True)
class TaskInfo:
    """The task of a case and why (results.json ``data.task``).

    Parameters
    ----------
    task : str
        ``classification`` or ``regression``.
    declared : str or None
        ``[case] task``.
    detected : str
        What the outputs say.
    evidence : str
        Why, in words.

    Examples
    --------
    >>> TaskInfo("regression", None, "regression", "every model returns one value per row").to_dict()["task"]
    'regression'
    """

    task: str
    declared: str | None
    detected: str
    evidence: str

    def to_dict(self) -> dict[str, Any]:
        """results.json ``data.task`` and its evidence.

        Returns
        -------
        dict
            The JSON form written to results.json (numbers cleaned: non-finite floats as null).
        """
        return asdict(self)


def validate_task(value: object, field: str = "case.task") -> str | None:
    """``None`` or one of :data:`TASKS`; anything else is :class:`BadInput`.

    Parameters
    ----------
    value : object
        The declared task.
    field : str
        The field named in errors.

    Returns
    -------
    str or None

    Examples
    --------
    >>> validate_task("regression")
    'regression'
    >>> validate_task("regresion")
    Traceback (most recent call last):
    ...
    audit.shared.errors.BadInput: case.task: must be "classification", "regression" or "language_model", got 'regresion'
    """
    if value is None or value in CASE_TASKS:
        return value  # type: ignore[return-value]
    raise BadInput(field, f'must be "classification", "regression" or "language_model", got {value!r}')


def model_task(model: Any) -> str | None:
    """``"regression"`` / ``"classification"`` for a scikit-learn model, else ``None`` (unknown).

    A feature binding forwards to the adapter it wraps (:class:`audit.core.model_objects.SklearnModel`).

    Parameters
    ----------
    model : adapter
        A model.

    Returns
    -------
    str or None

    Examples
    --------
    >>> model_task(object()) is None
    True
    """
    task = getattr(model, "task", None)
    return task if task in TASKS else None


def _columns(out: np.ndarray, rows: int, field: str) -> int:
    if out.ndim not in (1, 2) or out.shape[0] != rows or (out.ndim == 2 and out.shape[1] < 1):
        raise BadInput(field, f"output shape {out.shape} is neither [rows, classes>=2] (a classifier) "
                       "nor [rows] / [rows, 1] (a regressor)")
    return 1 if out.ndim == 1 else int(out.shape[1])


def _class_like(labels: pd.Series) -> int | None:
    """The number of distinct values when the labels look like class indices, else ``None``."""
    values = pd.to_numeric(labels, errors="coerce").to_numpy(dtype=float)
    if np.isnan(values).any() or not np.all(values == np.round(values)):
        return None
    distinct = len(np.unique(values))
    return distinct if distinct <= _CLASS_LIKE_VALUES else None


def _names(fields: list[str], verb: str = "return") -> str:
    """``"models.a, models.b return"`` / ``"models.a returns"`` (at most three names)."""
    names = ", ".join(fields[:3]) + (f" and {len(fields) - 3} more" if len(fields) > 3 else "")
    return f"{names} {verb}{'s' if len(fields) == 1 else ''}"


def decide_task(models: Mapping[str, Any], outputs: Mapping[str, np.ndarray], rows: int,
                declared: str | None, labels: pd.Series, field_of: Callable[[str], str]) -> TaskInfo:
    """The case's task from the models' outputs on a few probe rows (see the module docstring).

    Parameters
    ----------
    models : mapping
        The case's models by role.
    outputs : mapping
        Their outputs on the probe rows.
    rows : int
        Probe rows.
    declared : str or None
        ``[case] task``.
    labels : Series
        The label column.
    field_of : callable
        Role to case-file field.

    Returns
    -------
    TaskInfo

    Examples
    --------
    >>> outs = {"original": np.zeros((4, 1)), "unlearned": np.zeros(4)}
    >>> labels = pd.Series([0.5, 1.7, 2.2, 3.9])
    >>> decide_task({}, outs, 4, None, labels, str).task
    'regression'
    >>> decide_task({}, outs, 4, "classification", labels, str)
    Traceback (most recent call last):
    ...
    audit.shared.errors.BadInput: case.task: declared "classification", but original, unlearned return one value per row (a regressor)
    """
    cols = {role: _columns(np.asarray(out), rows, field_of(role)) for role, out in outputs.items()}
    kinds = {role: model_task(models[role]) if role in models else None for role in outputs}
    for role, k in cols.items():
        if kinds[role] == "regression" and k > 1:
            raise BadInput(field_of(role), f"a multi-output regressor ({k} values per row) is not supported; "
                           "audit one target at a time")
    one = [field_of(r) for r, k in cols.items() if k == 1]
    many = [field_of(r) for r, k in cols.items() if k > 1]
    if declared == "regression" and many:
        raise BadInput("case.task", f'declared "regression", but {_names(many)} class scores '
                       f"({max(cols.values())} per row): a classifier")
    if declared == "classification" and one:
        raise BadInput("case.task", f'declared "classification", but {_names(one)} one value per '
                       "row (a regressor)")
    if one and many:
        raise BadInput("models", f"models disagree on the task: {_names(one)} one value per row "
                       f"(a regressor), {_names(many)} class scores (a classifier)")
    if many:
        return TaskInfo("classification", declared, "classification",
                        f"every model returns class scores ({max(cols.values())} per row)")
    regressors = sorted({type(getattr(models[r], "estimator", None)).__name__
                         for r in cols if kinds[r] == "regression"})
    evidence = "every model returns one value per row" + (
        f" (scikit-learn regressors: {', '.join(regressors)})" if regressors else "")
    if declared is None and not regressors:
        distinct = _class_like(labels)
        if distinct is not None:
            raise BadInput("case.task", f"every model returns one value per row, but the labels look like "
                           f"class indices ({distinct} distinct integers): declare [case] task = "
                           '"regression" if they are regression targets, or return [rows, classes] '
                           "scores for a classifier")
    return TaskInfo("regression", declared, "regression",
                    ("declared in the case file, and " if declared else "") + evidence)


def encode_targets(labels: pd.Series) -> np.ndarray:
    """Regression targets as float64; non-numeric or infinite values are bad input.

    Parameters
    ----------
    labels : Series
        The label column.

    Returns
    -------
    ndarray of float64

    Examples
    --------
    >>> encode_targets(pd.Series([1, 2.5])).tolist()
    [1.0, 2.5]
    >>> encode_targets(pd.Series(["a", "1"]))
    Traceback (most recent call last):
    ...
    audit.shared.errors.BadInput: data.label: regression targets must be numbers; 1 value(s) are not, e.g. 'a'
    """
    values = pd.to_numeric(labels, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(values) & labels.notna().to_numpy()
    if bad.any():
        raise BadInput("data.label", f"regression targets must be numbers; {int(bad.sum())} value(s) are not, "
                       f"e.g. {labels[bad].iloc[0]!r}")
    if np.isnan(values).any():
        raise BadInput("data.label", f"{int(np.isnan(values).sum())} rows have no label")
    if not np.isfinite(values).all():
        raise BadInput("data.label", f"{int((~np.isfinite(values)).sum())} infinite target value(s)")
    return values
