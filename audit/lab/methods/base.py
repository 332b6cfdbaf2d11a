"""One interface for every unlearning method, and the timing wrapper around it.

A method is ``fn(model, forget, retain, recipe, seed, **params) -> model`` where
``forget`` / ``retain`` are ``(X, y)`` pairs, ``recipe`` is an :class:`audit.training.recipes.Recipe`
(used by methods that retrain anything) and the returned model has ``predict_logits``.
:func:`run_method` times a method and, when asked, the exact retrain it replaces.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from audit.shared.errors import BadInput

__all__ = ["Data", "MethodResult", "run_method", "n_classes_of", "as_data"]

Data = tuple[np.ndarray, np.ndarray]


@dataclass
class MethodResult:
    """An unlearned model and what it cost.

    ``seconds`` is the method's wall time, ``retrain_seconds`` that of the exact retrain
    on the same retain set (None when not measured); ``storage_bytes`` is any extra state
    the method keeps (SISA checkpoints), ``extra`` method-specific numbers.

    Parameters
    ----------
    method : str
        The method's name.
    model : adapter
        The unlearned model.
    seconds : float
        The method's wall time.
    retrain_seconds : float, optional
        The exact retrain's wall time.
    storage_bytes : int
        Extra state kept by the method.
    extra : dict of str to float
        Method-specific numbers.
    """

    method: str
    model: Any
    seconds: float
    retrain_seconds: float | None = None
    storage_bytes: int = 0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def speedup(self) -> float | None:
        """Retrain time over method time (> 1: the method is faster)."""
        if self.retrain_seconds is None or self.seconds <= 0:
            return None
        return self.retrain_seconds / self.seconds


def as_data(pair: Any, name: str) -> Data:
    """Validate an ``(X, y)`` pair.

    Parameters
    ----------
    pair : (X, y)
        Features and labels.
    name : str
        The argument named in the error.

    Returns
    -------
    (ndarray, ndarray)
        ``X`` as float32 ``[n, d]``, ``y`` as ``[n]``.

    Examples
    --------
    >>> X, y = as_data(([[1, 2]], [0]), "forget")
    >>> X.dtype, y.tolist()
    (dtype('float32'), [0])
    """
    try:
        X, y = pair
    except (TypeError, ValueError) as exc:
        raise BadInput(name, "expected an (X, y) pair") from exc
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y, dtype=np.int64)
    if X.ndim != 2 or len(X) != len(y):
        raise BadInput(name, f"X must be 2-D with one label per row, got {X.shape} and {y.shape}")
    if not np.isfinite(X).all():
        raise BadInput(name, "features contain NaN or inf")
    return X, y


def n_classes_of(model: Any, X: np.ndarray) -> int:
    """Number of classes from the width of the model's output.

    Parameters
    ----------
    model : adapter
        A classifier.
    X : ndarray
        Rows it can score (one is used).

    Returns
    -------
    int
    """
    return int(np.asarray(model.predict_logits(np.asarray(X[:1], dtype=np.float32))).shape[1])


def run_method(
    fn: Callable[..., Any],
    name: str,
    model: Any,
    forget: Data,
    retain: Data,
    recipe: Any,
    seed: int,
    time_retrain: bool = False,
    **params: Any,
) -> MethodResult:
    """Run ``fn`` and time it (and the exact retrain, if ``time_retrain``).

    Parameters
    ----------
    fn : callable
        The method, ``fn(model, forget, retain, recipe, seed, **params)``.
    name : str
        Its name.
    model, forget, retain, recipe, seed
        As for every method.
    time_retrain : bool
        Also time the exact retrain.
    **params
        Passed to ``fn``.

    Returns
    -------
    MethodResult
    """
    forget, retain = as_data(forget, "forget"), as_data(retain, "retain")
    t0 = time.perf_counter()
    out = fn(model, forget, retain, recipe, seed, **params)
    seconds = time.perf_counter() - t0
    retrain_seconds = None
    if time_retrain and recipe is not None:
        t0 = time.perf_counter()
        recipe.fit(retain[0], retain[1], n_classes_of(model, retain[0]), seed)
        retrain_seconds = time.perf_counter() - t0
    storage = int(getattr(out, "storage_bytes", 0) or 0)
    extra = dict(getattr(out, "extra", {}) or {})
    return MethodResult(name, out, seconds, retrain_seconds, storage, extra)
