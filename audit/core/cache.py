"""Output cache: every (model, split) goes through its model exactly once, in batches.

Checks read log-probabilities, losses, predictions and correctness from here; they
never call a model. ``calls`` counts forward passes so tests can prove it. A regression
cache (``task="regression"``) holds one prediction per row instead (:meth:`OutputCache.values`);
its loss is the squared error and it has no log-probabilities.
"""

from __future__ import annotations

import mmap
import os
import time
import weakref
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from audit.core.cache_dir import make_store_dir
from audit.core.cost import tally
from audit.core.outputs import check_output, check_values, field_of_role, normalise_logits
from audit.shared.errors import BadInput, one_line

__all__ = ["OutputCache", "SPILL_BYTES"]

SPILL_BYTES = 8 * 2**20
"""Outputs larger than this (float32 bytes; 200 000 rows x 10 classes) are memory-mapped from a
temporary file."""


@dataclass(frozen=True)
class _Stored:
    """One (role, split): float32 log-probabilities (in RAM or memory-mapped) and per-row columns."""

    logp: np.ndarray
    loss: np.ndarray
    pred: np.ndarray


class OutputCache:
    """Lazy, memoised per-(role, split) outputs, stored once as float32 plus per-row columns.

    Each (role, split) runs through its model once, batch by batch. The log-probabilities
    are kept as float32 ``[n, classes]`` (the stored form since issue 5) together with the
    per-row columns the checks read — ``loss`` (float64, computed from the float32 values)
    and ``pred`` (argmax) — so checks need not materialise ``[n, classes]`` float64 copies.
    An output larger than ``spill_bytes`` is written batch by batch into a memory-mapped
    file under a temporary directory of this cache (removed by :meth:`close`, at exit, or
    when the cache is garbage-collected); smaller ones stay in RAM. A one-column output
    (a regression model's predictions) fits the same store. After each full pass over a
    memory-mapped store its pages are released from the resident set (``MADV_DONTNEED``).

    The readers (:meth:`logprobs`, :meth:`losses`, :meth:`predictions` ...) take ``role``, a
    key of ``models`` or a role given to :meth:`add_model`, and ``split``, a split that
    ``features`` and ``labels`` answer for; the first read of a (role, split) runs the pass.

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
        Rows per forward call; also the rows per chunk of :meth:`rowwise`.
    spill_bytes : int, optional
        Outputs of more bytes (float32) than this go to a memory-mapped file; 0 spills
        all. Default :data:`SPILL_BYTES` (read when the cache is made).
    tmp_dir : path, optional
        Where the temporary directory is made (default: the system's temporary directory).
    task : str
        ``"classification"`` (log-probabilities) or ``"regression"`` (one prediction per row,
        stored as the ``pred`` column; the ``loss`` column is the squared error).

    Examples
    --------
    >>> f = lambda X: np.c_[np.zeros(len(X)), X[:, 0]]
    >>> X = {"test": np.array([[0.0], [3.0], [-2.0]], dtype=np.float32)}
    >>> y = {"test": np.array([0, 1, 1])}
    >>> from audit.core.adapters import CallableModel
    >>> with OutputCache({"unlearned": CallableModel(f)}, X.get, y.get, spill_bytes=0) as c:
    ...     c.predictions("unlearned", "test").tolist(), c.calls[("unlearned", "test")]
    ([0, 1, 0], 1)
    >>> c.store_dir is None   # closed: the memory-mapped files are gone
    True
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
        spill_bytes: int | None = None,
        tmp_dir: str | os.PathLike[str] | None = None,
        task: str = "classification",
    ) -> None:
        self.task = task
        self._models = dict(models)
        self._features = features
        self._labels = labels
        self.batch_size = int(batch_size)
        self.spill_bytes = int(SPILL_BYTES if spill_bytes is None else spill_bytes)
        self._tmp_parent = None if tmp_dir is None else str(tmp_dir)
        self._store: dict[tuple[str, str], _Stored] = {}
        self._y: dict[str, np.ndarray] = {}
        self._dir: str | None = None
        self._finalizer: weakref.finalize | None = None
        self.calls: Counter[tuple[str, str]] = Counter()

    # -- lifetime ------------------------------------------------------------
    @property
    def store_dir(self) -> str | None:
        """The temporary directory holding memory-mapped outputs (``None`` before any / after close)."""
        return self._dir

    def _file(self, role: str, split: str) -> str:
        if self._dir is None:
            self._dir, remove = make_store_dir(self._tmp_parent)
            self._finalizer = weakref.finalize(self, remove)
        safe = "".join(ch if ch.isalnum() else "_" for ch in f"{role}.{split}")
        return os.path.join(self._dir, f"{len(self._store)}-{safe}.f32")

    def close(self) -> None:
        """Forget every output and remove the temporary files (idempotent)."""
        self._store.clear()
        if self._finalizer is not None:
            self._finalizer()  # rmtree, once
        self._dir, self._finalizer = None, None

    def __enter__(self) -> OutputCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- roles ---------------------------------------------------------------
    @property
    def roles(self) -> list[str]:
        return list(self._models)

    @property
    def reference_roles(self) -> list[str]:
        return [r for r in self._models if r.startswith("retrained:")]

    def add_model(self, role: str, model: object) -> None:
        """Register another model (e.g. a shadow) under ``role``.

        Parameters
        ----------
        role : str
            A new role; one already registered raises ``ValueError``.
        model : adapter
            Anything with ``predict_logits(X)`` (:mod:`audit.core.adapters`).

        Examples
        --------
        >>> from audit.core.adapters import CallableModel
        >>> c, m = OutputCache({}, dict().get, dict().get), CallableModel(lambda X: X)
        >>> c.add_model("shadow:0", m); c.roles
        ['shadow:0']
        >>> c.add_model("shadow:0", m)
        Traceback (most recent call last):
        ...
        ValueError: role 'shadow:0' already registered
        """
        if role in self._models:
            raise ValueError(f"role {role!r} already registered")
        self._models[role] = model

    # -- the forward pass ------------------------------------------------------
    def _stored(self, role: str, split: str) -> _Stored:
        key = (role, split)
        if key not in self._store:
            self._store[key] = self._forward(role, split)
        return self._store[key]

    def _forward(self, role: str, split: str) -> _Stored:
        """Run ``role`` on ``split`` batch by batch into float32 storage plus its columns."""
        if self.task == "regression":
            return self._forward_values(role, split)
        X = self._features(split)
        y = self.labels(split)
        n = len(X)
        started = time.perf_counter()
        out: np.ndarray | None = None
        loss, pred = np.empty(n, dtype=np.float64), np.empty(n, dtype=np.int64)
        for start in range(0, n, self.batch_size):
            batch = X[start : start + self.batch_size]
            raw = self._predict(role, split, batch)
            z = check_output(raw, len(batch), role, split, None if out is None else out.shape[1], start)
            lp = normalise_logits(z).astype(np.float32)
            if out is None:
                out = self._allocate(role, split, n, lp.shape[1])
            stop = start + len(batch)
            out[start:stop] = lp
            lp64 = lp.astype(np.float64)
            yb = y[start:stop]
            loss[start:stop] = -lp64[np.arange(len(yb)), yb]
            pred[start:stop] = np.argmax(lp64, axis=1)
        self.calls[(role, split)] += 1
        tally("forward_passes")
        tally("rows_forwarded", n)
        tally("forward_seconds", time.perf_counter() - started)
        if out is None:
            return _Stored(np.zeros((0, 0), dtype=np.float32), loss, pred)
        if isinstance(out, np.memmap):
            out.flush()
            _release(out)
            out = np.memmap(out.filename, dtype=np.float32, mode="r", shape=out.shape)
        return _Stored(out, loss, pred)

    def _predict(self, role: str, split: str, batch: np.ndarray) -> object:
        try:
            return self._models[role].predict_logits(batch)  # type: ignore[attr-defined]
        except BadInput:
            raise
        except Exception as exc:  # noqa: BLE001 - name the model and split, not a traceback
            raise BadInput(field_of_role(role), f"fails on the {split} split: {one_line(exc)}") from exc

    def _forward_values(self, role: str, split: str) -> _Stored:
        """A regressor on ``split``: one prediction per row (``pred``) and its squared error (``loss``)."""
        X = self._features(split)
        y = np.asarray(self.labels(split), dtype=np.float64)
        n, started = len(X), time.perf_counter()
        pred = np.empty(n, dtype=np.float64)
        for start in range(0, n, self.batch_size):
            batch = X[start : start + self.batch_size]
            pred[start : start + len(batch)] = check_values(self._predict(role, split, batch), len(batch),
                                                            role, split, start)
        self.calls[(role, split)] += 1
        tally("forward_passes")
        tally("rows_forwarded", n)
        tally("forward_seconds", time.perf_counter() - started)
        return _Stored(np.zeros((0, 0), dtype=np.float32), (pred - y) ** 2, pred)

    def _allocate(self, role: str, split: str, n: int, classes: int) -> np.ndarray:
        if n * classes * 4 <= self.spill_bytes:
            return np.empty((n, classes), dtype=np.float32)
        return np.memmap(self._file(role, split), dtype=np.float32, mode="w+", shape=(n, classes))

    # -- outputs -------------------------------------------------------------
    def _classifier_only(self, what: str) -> None:
        if self.task == "regression":
            raise TypeError(f"a regression model has no {what}; read values() or losses()")

    def values(self, role: str, split: str) -> np.ndarray:
        """A regressor's predictions (a copy); a classifier's cache raises ``TypeError``.

        Parameters
        ----------
        role, split : str
            As for every reader (:class:`OutputCache`).

        Returns
        -------
        ndarray of float64, shape (n,)
        """
        if self.task != "regression":
            raise TypeError("values() are a regressor's predictions; a classifier has logprobs()")
        return self._stored(role, split).pred.copy()

    def logprobs32(self, role: str, split: str) -> np.ndarray:
        """The stored float32 log-probabilities, read-only, no copy (maybe memory-mapped).

        Parameters
        ----------
        role, split : str
            As for every reader (:class:`OutputCache`).

        Returns
        -------
        ndarray of float32, shape (n, classes)
        """
        self._classifier_only("log-probabilities")
        view = self._stored(role, split).logp.view()
        view.flags.writeable = False
        return view

    def logprobs(self, role: str, split: str) -> np.ndarray:
        """Log-probabilities as a float64 copy (prefer :meth:`rowwise` on large splits).

        Parameters
        ----------
        role, split : str
            As for every reader (:class:`OutputCache`).

        Returns
        -------
        ndarray of float64, shape (n, classes)
        """
        self._classifier_only("log-probabilities")
        stored = self._stored(role, split).logp
        out = stored.astype(np.float64)
        _release(stored)
        return out

    def probs(self, role: str, split: str) -> np.ndarray:
        """Probabilities ``[n, classes]`` of ``role`` on ``split`` (float64, ``exp`` of :meth:`logprobs`).

        Parameters
        ----------
        role : str
            ``unlearned``, ``original``, ``retrained:<i>`` or an added role.
        split : str
            ``forget``, ``retain``, ``test`` (or another split the case has).

        Returns
        -------
        ndarray, shape (n, classes)
        """
        return np.exp(self.logprobs(role, split))

    def rowwise(self, fn: Callable[..., Any], split: str, *roles: str) -> Any:
        """Apply a per-row function to float64 log-probabilities, one chunk of rows at a time.

        ``fn(logp_a, logp_b, ..., y)`` gets a ``[batch, classes]`` float64 chunk of each
        role in ``roles`` and the chunk's labels, and returns an array ``[batch]`` or a
        dict of such arrays; the chunks are concatenated. Only one chunk per role is
        ever held as float64, whatever the split's size.

        Parameters
        ----------
        fn : callable
            ``fn(*logps, y)`` as above.
        split : str
            The split whose rows are chunked (``batch_size`` rows a chunk).
        *roles : str
            The roles whose log-probabilities ``fn`` gets, in this order.

        Returns
        -------
        ndarray or dict of str to ndarray
            ``fn``'s per-chunk results concatenated, shape ``(n,)`` each.

        Examples
        --------
        >>> f = lambda X: np.c_[np.zeros(len(X)), X[:, 0]]
        >>> from audit.core.adapters import CallableModel
        >>> c = OutputCache({"u": CallableModel(f)}, lambda s: np.ones((5, 1), np.float32),
        ...                 lambda s: np.zeros(5, int), batch_size=2)
        >>> c.rowwise(lambda lp, y: {"p0": np.exp(lp[:, 0])}, "test", "u")["p0"].round(3).tolist()
        [0.269, 0.269, 0.269, 0.269, 0.269]
        """
        self._classifier_only("log-probabilities")
        stores = [self._stored(r, split).logp for r in roles]
        y = self.labels(split)
        parts: list[Any] = []
        for start in range(0, len(y), self.batch_size):
            stop = start + self.batch_size
            parts.append(fn(*(s[start:stop].astype(np.float64) for s in stores), y[start:stop]))
        for s in stores:
            _release(s)
        return _concat(parts)

    def labels(self, split: str) -> np.ndarray:
        """The labels of ``split`` (regression: the targets), read once and kept.

        Parameters
        ----------
        split : str
            A split of the case.

        Returns
        -------
        ndarray, shape (n,)
        """
        if split not in self._y:
            self._y[split] = np.asarray(self._labels(split))
        return self._y[split]

    def losses(self, role: str, split: str) -> np.ndarray:
        """Per-row cross-entropy ``-log p(y|x)`` (regression: squared error ``(f(x) - y)^2``).

        Parameters
        ----------
        role, split : str
            As for every reader (:class:`OutputCache`).

        Returns
        -------
        ndarray of float64, shape (n,)
            A copy of the stored column.
        """
        return self._stored(role, split).loss.copy()

    def predictions(self, role: str, split: str) -> np.ndarray:
        """Per-row predicted class, the argmax (regression: the predicted value).

        Parameters
        ----------
        role, split : str
            As for every reader (:class:`OutputCache`).

        Returns
        -------
        ndarray, shape (n,)
            A copy of the stored column: int64 classes (float64 values for a regressor).
        """
        return self._stored(role, split).pred.copy()

    def correct(self, role: str, split: str) -> np.ndarray:
        """Per-row 0/1 correctness (prediction == label); a regressor's cache raises ``TypeError``.

        Parameters
        ----------
        role, split : str
            As for every reader (:class:`OutputCache`).

        Returns
        -------
        ndarray of float64, shape (n,)
        """
        if self.task == "regression":
            raise TypeError("a regression model has no per-row correctness; read losses()")
        return (self._stored(role, split).pred == self.labels(split)).astype(np.float64)


def _release(arr: np.ndarray) -> None:
    """Drop a memory-mapped store's pages from this process's resident set (they stay in the file).

    The mapping is shared and file-backed, so a later read faults the same values back in
    from the page cache or the file; the resident set stays bounded by what is being read.
    """
    mm = getattr(arr, "_mmap", None)
    if isinstance(arr, np.memmap) and mm is not None and hasattr(mm, "madvise"):
        mm.madvise(mmap.MADV_DONTNEED)


def _concat(parts: list[Any]) -> Any:
    """Concatenate per-chunk arrays, or per-chunk dicts of arrays key by key."""
    if parts and isinstance(parts[0], dict):
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return np.concatenate(parts) if parts else np.zeros(0)
