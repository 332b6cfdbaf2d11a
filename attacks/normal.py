"""The normal limit of the row bootstrap, for statistics over many rows.

A row bootstrap of a mean over ``n`` rows costs ``n`` random counts per resample, and the
audit draws about a thousand resamples per interval: at a million rows that is the whole
cost of an audit. Past a row count the resampled statistic is, to first order, normal
with the bootstrap's own covariance, so its replicates can be drawn as

``reps = value + z @ S``,  ``z ~ N(0, I)``,  ``S.T @ S = sum over cells c of n_c Cov_c(A)``

for a statistic ``sum_j count_j A_j`` whose rows are resampled within cells (the whole
split, or one cell per stratum): exactly the covariance of the multinomial resampling
(``Cov_c`` with ``ddof = 0``). The decision kernel reads only the replicates' variances
(:func:`audit.core.null.leave_one_out_row_se`), which this reproduces; the reported
percentile intervals lose the bootstrap's skewness term, of size about
``|skew| (z^2 - 1) / (6 sqrt(n))`` standard errors (Edgeworth). :func:`skew_allows` takes
the normal limit only when that term is at most ``0.1 * 1.7 / 6`` of a standard error at
the 90 % interval's quantile — under half the Monte-Carlo error of a 1 000-resample
percentile (decision record 0022). A statistic over fewer rows than :func:`normal_from`, or
too skewed, gets the exact bootstrap.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np

__all__ = ["NORMAL_FROM", "MAX_SKEW_RATIO", "contrasts", "normal_from", "normal_from_rows", "skew_allows",
           "normal_limit", "cell_covariance", "normal_replicates", "count", "counting"]

NORMAL_FROM = 50_000  # rows from which a statistic's row bootstrap may be its normal limit
MAX_SKEW_RATIO = 0.1  # largest |skew| / sqrt(n) of a contrast for the normal limit
_PAIRWISE_UP_TO = 16  # columns up to which every pairwise difference is checked for skew
_LEAVE_TWO_UP_TO = 8  # ... and every column against the mean of the others but one (k (k - 1) contrasts)
_ROWS_PER_CHUNK = 1 << 16

_FROM: contextvars.ContextVar[int] = contextvars.ContextVar("normal_from", default=NORMAL_FROM)
_COUNTER: contextvars.ContextVar[Callable[[str, float], None] | None] = contextvars.ContextVar(
    "resample_counter", default=None)


def count(kind: str, n: float) -> None:
    """Report ``n`` units of work ``kind`` (resamples drawn, normal-limit replicates) to the active counter.

    The audit's cost meter (:func:`audit.core.cost.metered`) installs one; without it
    nothing happens.

    Parameters
    ----------
    kind : str
        What was done.
    n : float
        How much.

    Examples
    --------
    >>> seen = []
    >>> with counting(lambda kind, n: seen.append((kind, n))):
    ...     count("bootstrap_resamples", 1000)
    >>> seen
    [('bootstrap_resamples', 1000)]
    """
    fn = _COUNTER.get()
    if fn is not None:
        fn(kind, n)


@contextmanager
def counting(fn: Callable[[str, float], None]) -> Iterator[None]:
    """Within the block, :func:`count` calls ``fn(kind, n)``.

    Parameters
    ----------
    fn : callable
        Receives each count.

    Yields
    ------
    None

    Examples
    --------
    >>> with counting(print):
    ...     count("normal_limit_replicates", 5)
    normal_limit_replicates 5
    """
    token = _COUNTER.set(fn)
    try:
        yield
    finally:
        _COUNTER.reset(token)


def normal_from() -> int:
    """Rows from which the row bootstrap may be replaced by its normal limit (this context).

    Returns
    -------
    int

    Examples
    --------
    >>> normal_from() == NORMAL_FROM
    True
    """
    return _FROM.get()


@contextmanager
def normal_from_rows(rows: int) -> Iterator[None]:
    """Within the block, statistics over ``rows`` rows or more may use the normal limit.

    The audit sets it per check from the policy's ``[general] normal_from_rows``.

    Parameters
    ----------
    rows : int
        The threshold; a huge value keeps every bootstrap exact.

    Yields
    ------
    None

    Examples
    --------
    >>> with normal_from_rows(10**12):
    ...     normal_from()
    1000000000000
    """
    token = _FROM.set(int(rows))
    try:
        yield
    finally:
        _FROM.reset(token)


def contrasts(k: int) -> np.ndarray:
    """The contrasts of ``k`` columns the guards look at, as weight columns ``[k, m]``.

    Every column; every difference of two; every column against the mean of the others,
    and, up to 8 columns, against the mean of the others but one (the decision kernel's
    candidate-minus-references and leave-one-reference-out contrasts, whichever columns are
    the references). Past 16 columns: every column and its difference from the first.

    Parameters
    ----------
    k : int
        Columns.

    Returns
    -------
    ndarray, shape (k, m)

    Examples
    --------
    >>> contrasts(1).tolist()
    [[1.0]]
    >>> contrasts(3).shape   # 3 columns, 3 pairs, 3 leave-one-out, 6 leave-two-out
    (3, 15)
    """
    eye = np.eye(k)
    if k == 1:
        return eye
    if k > _PAIRWISE_UP_TO:
        return np.concatenate([eye, eye[:, 1:] - eye[:, :1]], axis=1)
    i, j = np.triu_indices(k, 1)
    cols = [eye, eye[:, i] - eye[:, j]]
    cols.append(np.stack([eye[a] - np.delete(eye, a, axis=0).mean(axis=0) for a in range(k)], axis=1))
    if 3 <= k <= _LEAVE_TWO_UP_TO:
        cols.append(np.stack([eye[a] - np.delete(eye, [a, b], axis=0).mean(axis=0)
                              for a in range(k) for b in range(k) if a != b], axis=1))
    return np.concatenate(cols, axis=1)


def _cell_sums(A: np.ndarray, cells: Sequence[np.ndarray] | None, third: bool, gated: int | None = None
               ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """``C = sum_c d.T @ d`` (``d``: a cell's rows minus the cell mean) and, with ``third``, the second
    and third cumulants ``sum (d @ W)^2``, ``sum (d @ W)^3`` of every contrast ``W`` (:func:`contrasts`).

    ``C`` is the resampled sum's covariance. The contrasts' moments are summed from the
    contrasted rows themselves (no cancellation between near-equal columns). Chunks of
    rows bound the memory."""
    A = np.asarray(A, dtype=np.float64)
    A = A[:, None] if A.ndim == 1 else A
    k = A.shape[1]
    g = k if gated is None else int(gated)  # the contrasts of the first g columns only
    W = np.vstack([contrasts(g), np.zeros((k - g, contrasts(g).shape[1]))]) if third else None
    C = np.zeros((k, k))
    k2 = np.zeros(W.shape[1]) if third else None
    k3 = np.zeros(W.shape[1]) if third else None
    for c in ([None] if cells is None else cells):
        rows = A if c is None else A[c]
        if len(rows) < 2:
            continue
        centre = rows.mean(axis=0)
        for a in range(0, len(rows), _ROWS_PER_CHUNK):
            d = rows[a:a + _ROWS_PER_CHUNK] - centre
            C += d.T @ d  # n_c * Cov_c, ddof 0: cells are independent, so their covariances add
            if third:
                X = d @ W
                X2 = X * X
                k2 += X2.sum(axis=0)
                k3 += (X2 * X).sum(axis=0)  # the resampled sum's cumulants: n_c times the cell's moments
    return C, k2, k3


def _skew_ok(k2: np.ndarray, k3: np.ndarray) -> bool:
    """Every contrast's skewness ``|k3| / k2^1.5`` within :data:`MAX_SKEW_RATIO` (constant ones aside)."""
    scale = float(np.max(k2)) if k2.size else 0.0
    live = k2 > 1e-24 * max(scale, 1e-300)  # a constant contrast has no spread to be skewed
    if not live.any():
        return True
    return bool(np.all(np.abs(k3[live]) / k2[live] ** 1.5 <= MAX_SKEW_RATIO))


def skew_allows(A: np.ndarray, cells: Sequence[np.ndarray] | None = None) -> bool:
    """Whether every contrast of ``A``'s columns (:func:`contrasts`) is near-normal when summed.

    The sum ``sum_j count_j A_j`` over ``n`` rows has skewness ``skew(A) / sqrt(n)`` (per
    cell, combined by the cells' third and second cumulants); the normal limit is allowed
    when it is at most :data:`MAX_SKEW_RATIO` for every contrast.

    Parameters
    ----------
    A : ndarray, shape (n, k)
        Per-row contributions.
    cells : sequence of index arrays, optional
        Rows resampled within each cell (default: one cell of all rows).

    Returns
    -------
    bool

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> skew_allows(rng.normal(size=(100_000, 2)))
    True
    >>> skew_allows(rng.pareto(1.5, size=(100_000, 1)))   # infinite variance: heavy right tail
    False
    """
    _, k2, k3 = _cell_sums(A, cells, third=True)
    return _skew_ok(k2, k3)


def normal_limit(A: np.ndarray, cells: Sequence[np.ndarray] | None = None, gated: int | None = None
                 ) -> np.ndarray | None:
    """The covariance of ``sum_j count_j A_j`` if :func:`skew_allows` it, else ``None`` (one pass).

    Parameters
    ----------
    A : ndarray, shape (n, k)
        Per-row contributions.
    cells : sequence of index arrays, optional
        Default: one cell of all rows.
    gated : int, optional
        Only the first ``gated`` columns' contrasts are checked for skew (the rest are
        reported, never decided on); default: all.

    Returns
    -------
    ndarray, shape (k, k), or None
        ``None`` also when a value is not finite.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> normal_limit(rng.normal(size=(50_000, 1)) / 50_000).shape
    (1, 1)
    >>> normal_limit(rng.pareto(1.5, size=(50_000, 1))) is None
    True
    """
    if not np.all(np.isfinite(A)):  # an infinite loss: the exact bootstrap's behaviour, not a NaN covariance
        return None
    C, k2, k3 = _cell_sums(A, cells, third=True, gated=gated)
    return C if _skew_ok(k2, k3) else None


def cell_covariance(A: np.ndarray, cells: Sequence[np.ndarray] | None = None) -> np.ndarray:
    """Covariance of ``sum_j count_j A_j`` when rows are resampled within ``cells``.

    Multinomial resampling of a cell of ``n_c`` rows gives ``n_c Cov_c(A)`` (``ddof = 0``);
    cells are independent.

    Parameters
    ----------
    A : ndarray, shape (n, k)
        Per-row contributions.
    cells : sequence of index arrays, optional
        Default: one cell of all rows.

    Returns
    -------
    ndarray, shape (k, k)

    Examples
    --------
    >>> A = np.array([[0.0], [1.0], [2.0], [3.0]]) / 4   # the mean of 0..3
    >>> bool(np.isclose(cell_covariance(A)[0, 0], np.var([0, 1, 2, 3]) / 4))
    True
    """
    return _cell_sums(A, cells, third=False)[0]


def normal_replicates(value: np.ndarray, cov: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """``n_boot`` draws of ``N(value, cov)``, shape ``(n_boot, k)`` (a singular ``cov`` is fine).

    Parameters
    ----------
    value : ndarray, shape (k,)
        The statistic.
    cov : ndarray, shape (k, k)
        Its covariance.
    n_boot : int
        Replicates.
    rng : numpy.random.Generator
        Source of the normal draws.

    Returns
    -------
    ndarray, shape (n_boot, k)

    Examples
    --------
    >>> r = normal_replicates(np.array([1.0, 1.0]), np.array([[4.0, 4.0], [4.0, 4.0]]), 20_000,
    ...                       np.random.default_rng(0))
    >>> round(float(r[:, 0].std()), 1), bool(np.allclose(r[:, 0], r[:, 1]))
    (2.0, True)
    """
    value = np.atleast_1d(np.asarray(value, dtype=np.float64))
    w, V = np.linalg.eigh(np.asarray(cov, dtype=np.float64))
    root = V * np.sqrt(np.clip(w, 0.0, None))  # root @ root.T == cov, also when cov is singular
    z = rng.standard_normal((int(n_boot), len(value)))
    return value[None, :] + z @ root.T
