"""Model outputs checked where they enter the cache: finite, the right shape, named for the user.

Every (model, split) output goes through :func:`check_output` (classifiers: ``[rows, classes]``
logits, log-probabilities or probabilities, normalised by :func:`normalise_logits`) or
:func:`check_values` (regressors: ``[rows]``) before :class:`audit.core.cache.OutputCache` stores
it; a bad output is bad input naming the model's case-file field (:func:`field_of_role`).
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_softmax

from audit.shared.errors import BadInput

__all__ = ["normalise_logits", "check_output", "check_values", "field_of_role"]


def field_of_role(role: str) -> str:
    """The case-file field of a model role, for messages.

    Parameters
    ----------
    role : str
        A cache role: ``original``, ``unlearned``, ``retrained:<i>`` or another (kept as is).

    Returns
    -------
    str
        ``models.original``, ``models.unlearned``, ``models.retrained[<i>]``, else ``role``.

    Examples
    --------
    >>> field_of_role("retrained:2"), field_of_role("unlearned"), field_of_role("shadow:3")
    ('models.retrained[2]', 'models.unlearned', 'shadow:3')
    """
    if role.startswith("retrained:"):
        return f"models.retrained[{role.split(':', 1)[1]}]"
    if role in ("original", "unlearned"):
        return f"models.{role}"
    return role


def check_output(out: object, rows: int, role: str, split: str, classes: int | None = None,
                 offset: int = 0) -> np.ndarray:
    """Refuse a model output that is not a finite ``[rows, classes >= 2]`` array (``BadInput``).

    Parameters
    ----------
    out : array_like
        One batch of a model's output (logits or log-probabilities).
    rows : int
        Rows the batch must have.
    role, split : str
        The model's role and the split, for the message (:func:`field_of_role`).
    classes : int, optional
        Columns earlier batches had; a batch with another count is refused.
    offset : int
        The batch's first row within the split (the message's first bad row counts from it).

    Returns
    -------
    ndarray, shape (rows, classes)
        ``out`` as float64.

    Raises
    ------
    BadInput
        Naming the model (``models.retrained[1]``): not numeric, wrong shape, a class count
        other than ``classes``, or NaN / inf values.

    Examples
    --------
    >>> check_output(np.zeros((3, 2)), 3, "unlearned", "forget").shape
    (3, 2)
    >>> check_output(np.array([[0.0, np.nan]]), 1, "retrained:1", "test")
    Traceback (most recent call last):
    ...
    audit.shared.errors.BadInput: models.retrained[1]: 1 NaN/inf output value(s) on the test split (first at row 0)
    """
    field = field_of_role(role)
    try:
        z = np.asarray(out, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise BadInput(field, f"output on the {split} split is not numeric: {exc}") from exc
    if z.ndim != 2 or z.shape[0] != rows or z.shape[1] < 2:
        raise BadInput(field, f"output shape {z.shape} on the {split} split is not [{rows}, classes>=2]")
    if classes is not None and z.shape[1] != classes:
        raise BadInput(field, f"output has {z.shape[1]} classes on the {split} split, "
                       f"earlier batches had {classes}")
    bad = ~np.isfinite(z)
    if bad.any():
        raise BadInput(field, f"{int(bad.sum())} NaN/inf output value(s) on the {split} split "
                       f"(first at row {offset + int(np.argwhere(bad)[0][0])})")
    return z


def check_values(out: object, rows: int, role: str, split: str, offset: int = 0) -> np.ndarray:
    """Refuse a regressor's output that is not ``rows`` finite numbers (``[rows]`` or ``[rows, 1]``).

    Parameters
    ----------
    out : array_like
        One batch of a regressor's predictions.
    rows : int
        Rows the batch must have.
    role, split : str
        The model's role and the split, for the :class:`BadInput` message.
    offset : int
        The batch's first row within the split.

    Returns
    -------
    ndarray, shape (rows,)
        ``out`` as float64, a ``[rows, 1]`` column flattened.

    Examples
    --------
    >>> check_values(np.ones((3, 1)), 3, "unlearned", "forget").shape
    (3,)
    >>> check_values(np.array([1.0, np.inf]), 2, "retrained:0", "retain", offset=10)
    Traceback (most recent call last):
    ...
    audit.shared.errors.BadInput: models.retrained[0]: 1 NaN/inf prediction(s) on the retain split (first at row 11)
    """
    field = field_of_role(role)
    try:
        z = np.asarray(out, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise BadInput(field, f"output on the {split} split is not numeric: {exc}") from exc
    if z.ndim == 2 and z.shape[1] == 1:
        z = z[:, 0]
    if z.ndim != 1 or z.shape[0] != rows:
        raise BadInput(field, f"output shape {z.shape} on the {split} split is not [{rows}] or [{rows}, 1]")
    bad = ~np.isfinite(z)
    if bad.any():
        raise BadInput(field, f"{int(bad.sum())} NaN/inf prediction(s) on the {split} split "
                       f"(first at row {offset + int(np.flatnonzero(bad)[0])})")
    return z


def normalise_logits(out: np.ndarray) -> np.ndarray:
    """Turn raw model output (logits or log-probabilities) into log-probabilities.

    ``log_softmax`` is idempotent on log-probabilities, so either input is accepted.

    Parameters
    ----------
    out : array_like, shape (n, classes)
        Raw output; anything not 2-D raises ``ValueError``.

    Returns
    -------
    ndarray, shape (n, classes)
        float64 log-probabilities (each row's ``exp`` sums to 1).

    Examples
    --------
    >>> lp = normalise_logits(np.array([[0.0, np.log(3.0)]]))
    >>> np.exp(lp).round(2).tolist(), bool(np.allclose(normalise_logits(lp), lp))
    ([[0.25, 0.75]], True)
    """
    z = np.asarray(out, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"model output must be 2-D [n, classes], got shape {z.shape}")
    return log_softmax(z, axis=1)
