"""Statistics: paired bootstrap CIs, multiplicity control, exact tests.

Statuses are decided in one place, :mod:`audit.core.decision`; this module only measures.

Conventions
-----------
* Reported intervals are at level ``1 - 2*alpha`` (:func:`ci_level`; 90 % at the
  default ``alpha = 0.05``).
* Bootstraps are *paired*: when U and R are compared on the same rows, the same
  resampled rows are used for both, so the per-row difference is what is resampled.
* Resampling is vectorised and chunked so that memory stays bounded in ``n``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
from scipy import stats as sps

from attacks.blocks import Scratch, block_size, map_blocks
from attacks.counts import POISSON_FROM, multinomial_counts, poisson_block
from attacks.normal import normal_from, normal_limit, normal_replicates
from attacks.threads import one_blas_thread
from audit.core.cost import tally

__all__ = [
    "bootstrap_indices",
    "bootstrap_stat",
    "bootstrap_mean_ci",
    "bootstrap_means",
    "ci_level",
    "holm",
    "benjamini_hochberg",
    "exact_mcnemar",
    "winsorize_by_references",
]

_CHUNK_ELEMENTS = 20_000_000  # elements of one resample chunk of bootstrap_indices (~160 MB of float64)
_MEAN_CHUNK_ELEMENTS = 1_600_000  # rows x resamples of one chunk of bootstrap_means below POISSON_FROM rows
_MAX_MEAN_CHUNK = 256
_GEMV_UP_TO = 16  # columns of bootstrap_means done as matrix-vector products
_FLOAT_ELEMENTS = 1 << 19  # counts converted to float64 at a time (4 MiB: measured 1.5x faster than a block)


def ci_level(alpha: float) -> float:
    """Confidence level of the interval used for a TOST at level ``alpha``.

    Parameters
    ----------
    alpha : float
        The test's level.

    Returns
    -------
    float
        ``1 - 2 * alpha``.

    Examples
    --------
    >>> ci_level(0.05)
    0.9
    """
    return round(1.0 - 2.0 * alpha, 12)


def bootstrap_indices(
    n: int, n_boot: int, rng: np.random.Generator, width: int = 1
) -> Iterator[np.ndarray]:
    """Yield chunks of bootstrap row indices, shape ``[b, n]``, ``b`` summing to ``n_boot``.

    ``width`` is the number of values per row the caller will gather, used only to
    size chunks so that ``b * n * width`` stays below a fixed budget.

    Parameters
    ----------
    n : int
        Rows to resample.
    n_boot : int
        Resamples in all.
    rng : numpy.random.Generator
        The stream the indices are drawn from.
    width : int
        Values per row the caller gathers.

    Yields
    ------
    ndarray of int, shape (b, n)
        Row indices of ``b`` resamples.

    Examples
    --------
    >>> sum(len(c) for c in bootstrap_indices(10, 25, np.random.default_rng(0)))
    25
    """
    if n <= 0:
        raise ValueError("bootstrap needs at least one row")
    per_chunk = max(1, _CHUNK_ELEMENTS // max(1, n * width))
    done = 0
    while done < n_boot:
        b = min(per_chunk, n_boot - done)
        yield rng.integers(0, n, size=(b, n), dtype=np.int64 if n > 2**31 - 1 else np.int32)
        done += b


def bootstrap_stat(
    statistic: Callable[[np.ndarray], np.ndarray],
    n: int,
    n_boot: int,
    rng: np.random.Generator,
    width: int = 1,
) -> np.ndarray:
    """Evaluate ``statistic(idx)`` on every bootstrap resample.

    Parameters
    ----------
    statistic : callable
        Receives an index array ``[b, n]`` and returns ``[b]`` or ``[b, k]``.
    n : int
        Rows to resample.
    n_boot : int
        Resamples.
    rng : numpy.random.Generator
        The stream the indices are drawn from.
    width : int
        Values per row ``statistic`` gathers (sizes the chunks).

    Returns
    -------
    ndarray, shape (n_boot,) or (n_boot, k)
        The stacked replicates.

    Examples
    --------
    >>> x = np.arange(5.0)
    >>> bootstrap_stat(lambda idx: x[idx].mean(axis=1), 5, 100, np.random.default_rng(0)).shape
    (100,)
    """
    parts = [np.asarray(statistic(idx)) for idx in bootstrap_indices(n, n_boot, rng, width)]
    tally("bootstrap_resamples", int(n_boot))
    return np.concatenate(parts, axis=0)


def bootstrap_means(values: np.ndarray, n_boot: int, rng: np.random.Generator,
                    threads: int | None = None) -> np.ndarray:
    """Column means of ``values [n, k]`` on ``n_boot`` resamples of its rows: ``[n_boot, k]``.

    Every column is resampled with the same rows (paired). Resamples are row counts
    (the multinomial law of resampling rows with replacement) and the means one matrix
    product ``counts @ values / n`` per block of resamples. From ``POISSON_FROM`` rows
    on the blocks are drawn by :func:`attacks.blocks.map_blocks` — conditioned-Poisson
    counts, one random byte per row, a child seed per block, ``threads`` threads, the
    same replicates on any number of threads (``docs/decisions/0019-parallel-bootstrap-blocks.md``);
    fewer rows are drawn from ``rng`` directly as before (decision record 0018). From
    :func:`attacks.normal.normal_from` rows on (50 000 by default), when no contrast of the
    columns the kernel reads is too skewed (:func:`attacks.normal.skew_allows`), the
    replicates are the bootstrap's normal limit: draws with the same covariance
    (decision record 0022).

    Parameters
    ----------
    values : ndarray, shape (n,) or (n, k)
        Per-row values; columns share the resampled rows.
    n_boot : int
        Number of resamples.
    rng : numpy.random.Generator
        Source of the resamples.
    threads : int, optional
        Worker threads (default: the CPUs this process may use).

    Returns
    -------
    ndarray, shape (n_boot, k)

    Examples
    --------
    >>> v = np.c_[np.arange(4.0), np.ones(4)]
    >>> r = bootstrap_means(v, 3, np.random.default_rng(0))
    >>> w = multinomial_counts(4, 3, np.random.default_rng(0))
    >>> bool(np.allclose(r[:, 0], w @ v[:, 0] / 4)), r[:, 1].tolist()
    (True, [1.0, 1.0, 1.0])
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[:, None] if v.ndim == 1 else v
    n, k = v.shape
    if n <= 0:
        raise ValueError("bootstrap needs at least one row")
    cov = normal_limit(v / n) if n >= normal_from() else None  # attacks.normal, decision record 0022
    if cov is not None:
        tally("normal_limit_replicates", int(n_boot))
        return normal_replicates(v.mean(axis=0), cov, int(n_boot), rng)
    out = np.empty((int(n_boot), k))
    if n >= POISSON_FROM:
        cols, scratch = np.asfortranarray(v), Scratch()

        step = max(1, _FLOAT_ELEMENTS // n)  # resamples turned into floats at a time (cache-sized)

        def block(start: int, stop: int, g: np.random.Generator) -> None:
            counts = poisson_block(n, stop - start, g, scratch.array("counts", (stop - start, n), np.uint8), scratch)
            for a in range(0, stop - start, step):
                part = counts[a:a + step]
                c = scratch.array("counts_float", part.shape, np.float64)
                np.copyto(c, part)
                rows = slice(start + a, start + a + len(part))
                if k > _GEMV_UP_TO:
                    np.matmul(c, v, out=out[rows])
                else:  # a few columns: one matrix-vector product each (measured 2.5x a small-k gemm)
                    for j in range(k):
                        out[rows, j] = c @ cols[:, j]

        map_blocks(block, int(n_boot), block_size(n), rng, threads)
    else:
        step = int(max(1, min(_MAX_MEAN_CHUNK, _MEAN_CHUNK_ELEMENTS // n)))
        # a [b, n] x [n, k] product with small b and k is memory-bound: BLAS threads only contend
        with one_blas_thread():
            for done in range(0, int(n_boot), step):
                b = min(step, int(n_boot) - done)
                counts = multinomial_counts(n, b, rng, dtype=np.float64)
                np.matmul(counts, v, out=out[done:done + b])
    out /= n
    tally("bootstrap_resamples", int(n_boot))
    return out


def bootstrap_mean_ci(
    values: np.ndarray,
    n_boot: int,
    confidence: float,
    rng: np.random.Generator,
    threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap CI of the column means of ``values`` (``[n]`` or ``[n, k]``).

    For a paired comparison pass the per-row difference (or stack the per-row
    quantities as columns: every column is resampled with the same rows).

    Parameters
    ----------
    values : ndarray, shape (n,) or (n, k)
        Per-row values; columns are resampled with the same rows.
    n_boot : int
        Resamples.
    confidence : float
        Level of the percentile interval.
    rng : numpy.random.Generator
        The stream the resamples are drawn from.
    threads : int, optional
        As in :func:`bootstrap_means` (the interval does not depend on it).

    Returns
    -------
    tuple
        ``(lo, hi)``, scalars for 1-D input, arrays of length ``k`` otherwise.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> lo, hi = bootstrap_mean_ci(rng.normal(size=500), 2000, 0.95, rng)
    >>> bool(lo < 0 < hi)
    True
    """
    v = np.asarray(values, dtype=np.float64)
    one_d = v.ndim == 1
    if one_d:
        v = v[:, None]
    reps = bootstrap_means(v, n_boot, rng, threads)
    tail = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(reps, [tail, 1.0 - tail], axis=0)
    if one_d:
        return lo[0], hi[0]
    return lo, hi


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1).

    Parameters
    ----------
    p_values : ndarray
        Unadjusted p-values.

    Returns
    -------
    ndarray
        Adjusted p-values, in the input's order.

    Examples
    --------
    >>> holm(np.array([0.01, 0.04, 0.03])).round(3).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=float)
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    adj_sorted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adj_sorted, 1.0)
    return out


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (scipy's ``false_discovery_control``).

    Parameters
    ----------
    p_values : ndarray
        Unadjusted p-values.

    Returns
    -------
    ndarray
        Adjusted p-values, in the input's order.

    Examples
    --------
    >>> benjamini_hochberg(np.array([0.01, 0.04, 0.03])).round(3).tolist()
    [0.03, 0.04, 0.04]
    """
    p = np.asarray(p_values, dtype=float)
    if p.size == 0:
        return p.copy()
    return np.asarray(sps.false_discovery_control(p, method="bh"))


def exact_mcnemar(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts ``b`` and ``c``.

    Under H0 the ``b`` discordant pairs of one kind among ``b + c`` follow
    Binomial(b + c, 1/2).

    Parameters
    ----------
    b, c : int
        The two kinds of discordant pairs.

    Returns
    -------
    float
        The two-sided p-value.

    Examples
    --------
    >>> round(exact_mcnemar(10, 2), 4)
    0.0386
    """
    n = int(b) + int(c)
    if n == 0:
        return 1.0
    return float(sps.binomtest(int(b), n, 0.5, alternative="two-sided").pvalue)


def winsorize_by_references(
    rows: dict[str, np.ndarray], refs: list[str], q: float = 0.99
) -> tuple[dict[str, np.ndarray], float]:
    """Cap every model's per-row values at the references' pooled ``q`` quantile.

    Per-row log-losses are heavy-tailed: a random forest that gives a row probability 0
    scores ``-log(1e-12) = 27.6`` there, and one such row moves a reference's mean loss by
    more than the spread of all the others. A Winsorised mean (the same cap for every model,
    taken from the references) keeps the comparison about the bulk: a row beyond the cap
    counts as "at least as bad as the retrains' worst 1 %".

    Parameters
    ----------
    rows : dict of str to ndarray
        Per-row values of every model.
    refs : list of str
        The references, whose pooled values set the cap.
    q : float
        The quantile of the cap.

    Returns
    -------
    tuple
        ``(capped rows, cap)``.

    Examples
    --------
    >>> rows = {"u": np.array([0.1, 30.0]), "r": np.r_[np.full(200, 0.2), 5.0, 5.0]}
    >>> capped, cap = winsorize_by_references(rows, ["r"])
    >>> round(cap, 2), capped["u"].tolist()
    (0.2, [0.1, 0.2])
    """
    pooled = np.concatenate([np.asarray(rows[r], dtype=np.float64) for r in refs]) if refs else np.empty(0)
    if pooled.size == 0:
        return dict(rows), float("inf")
    cap = float(np.quantile(pooled, q))
    return {k: np.minimum(np.asarray(v, dtype=np.float64), cap) for k, v in rows.items()}, cap
