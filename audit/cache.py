"""Output cache: every (model, split) goes through its model exactly once, in batches.

Checks read log-probabilities, losses, predictions and correctness from here; they
never call a model. ``calls`` counts forward passes so tests can prove it. A regression
cache (``task="regression"``) holds one prediction per row instead (:meth:`OutputCache.values`);
its loss is the squared error and it has no log-probabilities.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping

import numpy as np
from scipy.special import log_softmax

from audit.cost import tally
from audit.errors import BadInput, one_line

__all__ = ["OutputCache", "normalise_logits", "check_output", "check_values", "field_of_role"]


def field_of_role(role: str) -> str:
    """The case-file field of a model role, for messages.

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

    The message names the model (``models.retrained[1]``) and the split; ``offset`` is the
    batch's first row within the split.

    >>> check_output(np.zeros((3, 2)), 3, "unlearned", "forget").shape
    (3, 2)
    >>> check_output(np.array([[0.0, np.nan]]), 1, "retrained:1", "test")
    Traceback (most recent call last):
    ...
    audit.errors.BadInput: models.retrained[1]: 1 NaN/inf output value(s) on the test split (first at row 0)
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

    >>> check_values(np.ones((3, 1)), 3, "unlearned", "forget").shape
    (3,)
    >>> check_values(np.array([1.0, np.inf]), 2, "retrained:0", "retain", offset=10)
    Traceback (most recent call last):
    ...
    audit.errors.BadInput: models.retrained[0]: 1 NaN/inf prediction(s) on the retain split (first at row 11)
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
    """
    z = np.asarray(out, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"model output must be 2-D [n, classes], got shape {z.shape}")
    return log_softmax(z, axis=1)


class OutputCache:
    """Lazy, memoised per-(role, split) outputs.

    Parameters
    ----------
    models : mapping role -> adapter
        Roles are ``original``, ``unlearned`` and ``retrained:0`` ... ``retrained:k-1``
        (plus any extra roles a caller adds).
    features : callable split -> ndarray
        Returns the float32 feature matrix of a split.
    labels : callable split -> ndarray
        Returns the integer class indices of a split.
    batch_size : int
        Rows per forward call.
    task : str
        ``"classification"`` (log-probabilities) or ``"regression"`` (one prediction per row).

    Examples
    --------
    >>> from audit.adapters import CallableModel
    >>> X = {"test": np.arange(4.0)[:, None]}; y = {"test": np.array([0.0, 1.0, 2.0, 4.0])}
    >>> c = OutputCache({"unlearned": CallableModel(lambda X: X[:, 0])}, X.get, y.get, task="regression")
    >>> c.values("unlearned", "test").tolist(), c.losses("unlearned", "test").tolist()
    ([0.0, 1.0, 2.0, 3.0], [0.0, 0.0, 0.0, 1.0])
    """

    def __init__(
        self,
        models: Mapping[str, object],
        features: Callable[[str], np.ndarray],
        labels: Callable[[str], np.ndarray],
        batch_size: int = 4096,
        task: str = "classification",
    ) -> None:
        self.task = task
        self._values: dict[tuple[str, str], np.ndarray] = {}
        self._models = dict(models)
        self._features = features
        self._labels = labels
        self.batch_size = int(batch_size)
        self._logp: dict[tuple[str, str], np.ndarray] = {}
        self.calls: Counter[tuple[str, str]] = Counter()

    # -- roles ---------------------------------------------------------------
    @property
    def roles(self) -> list[str]:
        return list(self._models)

    @property
    def reference_roles(self) -> list[str]:
        return [r for r in self._models if r.startswith("retrained:")]

    def add_model(self, role: str, model: object) -> None:
        """Register another model (e.g. a shadow) under ``role``."""
        if role in self._models:
            raise ValueError(f"role {role!r} already registered")
        self._models[role] = model

    # -- outputs -------------------------------------------------------------
    def logprobs(self, role: str, split: str) -> np.ndarray:
        """Log-probabilities ``[n, classes]`` (float64) of ``role`` on ``split``."""
        if self.task == "regression":
            raise TypeError("a regression model has no log-probabilities; read values() or losses()")
        key = (role, split)
        if key not in self._logp:
            X = self._features(split)
            model = self._models[role]
            started = time.perf_counter()
            parts: list[np.ndarray] = []
            for start in range(0, len(X), self.batch_size):
                batch = X[start : start + self.batch_size]
                try:
                    out = model.predict_logits(batch)  # type: ignore[attr-defined]
                except BadInput:
                    raise
                except Exception as exc:  # noqa: BLE001 - name the model and split, not a traceback
                    raise BadInput(field_of_role(role), f"fails on the {split} split: {one_line(exc)}") from exc
                out = check_output(out, len(batch), role, split, parts[0].shape[1] if parts else None, start)
                parts.append(normalise_logits(out).astype(np.float32))
            self.calls[key] += 1
            tally("forward_passes")
            tally("rows_forwarded", len(X))
            tally("forward_seconds", time.perf_counter() - started)
            if parts:
                self._logp[key] = np.concatenate(parts, axis=0)
            else:
                self._logp[key] = np.zeros((0, 0), dtype=np.float32)
        return self._logp[key].astype(np.float64)

    def values(self, role: str, split: str) -> np.ndarray:
        """A regressor's predictions ``[n]`` (float64) of ``role`` on ``split``, computed once."""
        if self.task != "regression":
            raise TypeError("values() are a regressor's predictions; a classifier has logprobs()")
        key = (role, split)
        if key not in self._values:
            X = self._features(split)
            model, started, parts = self._models[role], time.perf_counter(), []
            for start in range(0, len(X), self.batch_size):
                batch = X[start : start + self.batch_size]
                try:
                    out = model.predict_logits(batch)  # type: ignore[attr-defined]
                except BadInput:
                    raise
                except Exception as exc:  # noqa: BLE001 - name the model and split, not a traceback
                    raise BadInput(field_of_role(role), f"fails on the {split} split: {one_line(exc)}") from exc
                parts.append(check_values(out, len(batch), role, split, start))
            self.calls[key] += 1
            tally("forward_passes")
            tally("rows_forwarded", len(X))
            tally("forward_seconds", time.perf_counter() - started)
            self._values[key] = np.concatenate(parts) if parts else np.zeros(0)
        return self._values[key]

    def probs(self, role: str, split: str) -> np.ndarray:
        return np.exp(self.logprobs(role, split))

    def labels(self, split: str) -> np.ndarray:
        return np.asarray(self._labels(split))

    def losses(self, role: str, split: str) -> np.ndarray:
        """Per-row cross-entropy ``-log p(y|x)`` (regression: squared error ``(f(x) - y)^2``)."""
        if self.task == "regression":
            return (self.values(role, split) - self.labels(split)) ** 2
        lp = self.logprobs(role, split)
        y = self.labels(split)
        return -lp[np.arange(len(y)), y]

    def predictions(self, role: str, split: str) -> np.ndarray:
        """Predicted class per row (regression: the predicted value)."""
        if self.task == "regression":
            return self.values(role, split)
        return np.argmax(self.logprobs(role, split), axis=1)

    def correct(self, role: str, split: str) -> np.ndarray:
        """Per-row 0/1 correctness as float64 (a classifier's; a regressor has none)."""
        if self.task == "regression":
            raise TypeError("a regression model has no per-row correctness; read losses()")
        return (self.predictions(role, split) == self.labels(split)).astype(np.float64)
