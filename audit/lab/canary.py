"""Backdoor canaries (Athena, Sommer et al. 2022): probabilistic verification of deletion.

A user plants a trigger with a personal target label in their rows before training. After
they ask for deletion, they query the model with ``n`` triggered inputs and count how often
it answers their target label. Under H0 ("the data was deleted") the success probability is
the backdoor-free rate ``q`` (e.g. ``1 / n_classes``); under H1 ("not deleted") it is the
backdoor success rate ``p``. Reject H0 — i.e. declare the data *not deleted* — when the count
reaches the threshold ``k``: the smallest ``k`` with ``P_H0(X >= k) <= alpha``.

The published helper takes the smallest ``k`` with ``P_H0(X > k) <= alpha`` and so reports a
threshold one too low (at ``q=0.1, n=30, alpha=1e-3`` it says 9; the correct value is 10,
because ``P(X >= 9) = 1.5e-3 > alpha``). This module uses ``scipy.stats.binom.sf(k - 1)``.

:func:`canary_test` is exact when ``q`` is *known* (e.g. ``1 / n_classes`` for a planted
trigger on a model that never saw it). When ``q`` is only *estimated* — the hit rate of a
retrained model on the same triggered queries — plugging the estimate in as if it were
known ignores its noise, and the false-detection rate exceeds ``alpha`` (0.7-2.9 % at a
claimed 0.1 %). :func:`canary_two_sample_test` treats both counts as binomials with one
unknown common rate under H0 and tests them exactly, conditionally on their sum (one-sided
Fisher exact test), so its level holds for every ``q``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.special import gammaln

from audit.shared.errors import BadInput

__all__ = [
    "canary_threshold",
    "canary_power",
    "queries_for_power",
    "plant_trigger",
    "CanaryTest",
    "canary_test",
    "CanaryTwoSampleTest",
    "canary_two_sample_power",
    "canary_two_sample_test",
]


def _check_prob(name: str, value: float) -> float:
    v = float(value)
    if not 0.0 < v < 1.0:
        raise BadInput(name, f"must lie strictly between 0 and 1, got {value!r}")
    return v


def canary_threshold(q: float, n: int, alpha: float) -> int:
    """Smallest ``k`` with ``P(X >= k) <= alpha`` for ``X ~ Binomial(n, q)``.

    Returns ``n + 1`` when even ``n`` successes out of ``n`` are not rare enough
    (the test can then never reject with this many queries).

    Parameters
    ----------
    q : float
        Trigger hit rate under H0 (deleted).
    n : int
        Queries.
    alpha : float
        Level.

    Returns
    -------
    int

    Examples
    --------
    >>> canary_threshold(0.1, 30, 1e-3)
    10
    """
    q = _check_prob("canary.q", q)
    alpha = _check_prob("canary.alpha", alpha)
    if int(n) < 1:
        raise BadInput("canary.n", f"need at least one query, got {n!r}")
    ks = np.arange(0, int(n) + 2)
    tail = stats.binom.sf(ks - 1, int(n), q)  # P(X >= k)
    ok = np.nonzero(tail <= alpha)[0]
    return int(ks[ok[0]]) if len(ok) else int(n) + 1


def canary_power(p: float, q: float, n: int, alpha: float) -> float:
    """Power ``1 - beta = P_H1(X >= k)`` with ``X ~ Binomial(n, p)`` and ``k`` from H0.

    Parameters
    ----------
    p : float
        Hit rate of the backdoored model (H1).
    q : float
        Hit rate under H0.
    n : int
        Queries.
    alpha : float
        Level.

    Returns
    -------
    float

    Examples
    --------
    >>> round(canary_power(0.9, 0.1, 30, 1e-3), 6)
    1.0
    """
    p = _check_prob("canary.p", p)
    k = canary_threshold(q, n, alpha)
    return float(stats.binom.sf(k - 1, int(n), p))


def queries_for_power(p: float, q: float, alpha: float, power: float = 0.95, n_max: int = 10_000) -> int | None:
    """Fewest queries ``n`` whose test reaches ``power``; ``None`` beyond ``n_max``.

    Parameters
    ----------
    p, q : float
        Hit rates under H1 and H0.
    alpha : float
        Level.
    power : float
        Power wanted.
    n_max : int
        Largest ``n`` tried.

    Returns
    -------
    int or None

    Examples
    --------
    >>> queries_for_power(0.9, 0.1, 0.05)
    3
    """
    _check_prob("canary.power", power)
    for n in range(1, int(n_max) + 1):
        if canary_power(p, q, n, alpha) >= power:
            return n
    return None


def plant_trigger(
    X: np.ndarray, cols: np.ndarray | list[int], value: float | np.ndarray
) -> np.ndarray:
    """Copy of ``X`` with the trigger (``X[:, cols] = value``) stamped on every row.

    Parameters
    ----------
    X : ndarray, shape (n, d)
        Rows.
    cols : array-like of int
        Trigger columns.
    value : float or ndarray
        Trigger value(s).

    Returns
    -------
    ndarray
        A copy.

    Examples
    --------
    >>> plant_trigger(np.zeros((1, 3)), [2], 5.0).tolist()
    [[0.0, 0.0, 5.0]]
    """
    out = np.array(X, dtype=np.float32, copy=True)
    out[:, np.asarray(cols, dtype=int)] = value
    return out


@dataclass(frozen=True)
class CanaryTest:
    """Outcome of one Athena test.

    ``deleted`` is False when H0 (deleted) is rejected at ``alpha``; ``p_value`` is
    ``P_H0(X >= successes)``; ``power`` is the test's power against the backdoor
    success rate ``p`` measured on the original model (or given).

    Parameters
    ----------
    successes, n : int
        Trigger hits of the unlearned model out of ``n`` queries.
    q, alpha : float
        H0 hit rate and level.
    threshold : int
        Smallest count rejected.
    p_value : float
        ``P_H0(X >= successes)``.
    deleted : bool
        H0 stands.
    p, power : float or None
        The backdoor rate and the test's power against it.
    """

    successes: int
    n: int
    q: float
    alpha: float
    threshold: int
    p_value: float
    deleted: bool
    p: float | None
    power: float | None


def canary_test(
    successes: int, n: int, q: float, alpha: float = 1e-3, p: float | None = None
) -> CanaryTest:
    """Binomial test of a backdoor's success count after unlearning.

    Parameters
    ----------
    successes, n : int
        Triggered queries answered with the user's target label, and queries sent.
    q : float
        Success probability without the backdoor (H0: the data was deleted).
    alpha : float
        Type-I error (wrongly declaring "not deleted").
    p : float, optional
        Backdoor success rate with the data (H1), for the power.

    Returns
    -------
    CanaryTest

    Examples
    --------
    >>> t = canary_test(12, 30, q=0.1, alpha=1e-3, p=0.9)
    >>> (t.threshold, t.deleted, round(t.power, 3))
    (10, False, 1.0)
    """
    k = canary_threshold(q, n, alpha)
    s = int(successes)
    if not 0 <= s <= int(n):
        raise BadInput("canary.successes", f"must lie in 0..{n}, got {successes!r}")
    p_value = float(stats.binom.sf(s - 1, int(n), q))
    power = None
    if p is not None:
        p = min(max(float(p), 1e-12), 1 - 1e-12)
        power = canary_power(p, q, n, alpha)
    return CanaryTest(s, int(n), float(q), float(alpha), k, p_value, s < k, p, power)


def _counts(value: int | Sequence[int], field: str) -> int:
    total = int(np.sum(np.atleast_1d(np.asarray(value, dtype=np.int64))))
    if np.any(np.atleast_1d(np.asarray(value)) < 0):
        raise BadInput(field, f"counts must be >= 0, got {value!r}")
    return total


def _fisher_sf(n_u: int, n_r: int) -> np.ndarray:
    """``sf[t, x] = P(X >= x | t)``, ``X ~ Hypergeom(n_u + n_r, t, n_u)``: every one-sided
    Fisher p-value of U's count ``x`` given the total ``t``, in O((n_u + n_r) * n_u)."""
    t, x = np.arange(n_u + n_r + 1)[:, None], np.arange(n_u + 1)[None, :]
    ok = (x <= t) & (t - x <= n_r)
    lc = lambda a, b: gammaln(a + 1) - gammaln(b + 1) - gammaln(np.maximum(a - b, 0) + 1)  # noqa: E731
    logpmf = np.where(ok, lc(n_u, x) + lc(n_r, np.clip(t - x, 0, n_r)) - lc(n_u + n_r, t), -np.inf)
    pmf = np.exp(logpmf)
    return np.minimum(np.cumsum(pmf[:, ::-1], axis=1)[:, ::-1], 1.0)  # small tail terms summed first


def canary_two_sample_power(p: float, q: float, n: int, n_ref: int, alpha: float) -> float:
    """Exact rejection probability of :func:`canary_two_sample_test`.

    ``x_u ~ Binomial(n, p)`` (the unlearned model) and ``x_r ~ Binomial(n_ref, q)``
    (the retrains); summed exactly over all ``(n + 1) x (n_ref + 1)`` outcomes, so the cost
    is O(n * n_ref). With ``p == q`` it is the test's **false-detection rate** (size) at that
    rate, which is at most ``alpha`` for every ``q`` (the test is exact, hence conservative
    through discreteness); with ``p`` = the backdoor success rate it is the power.

    Parameters
    ----------
    p : float
        The unlearned model's hit rate.
    q : float
        The retrains' hit rate.
    n, n_ref : int
        Queries of U and of the pooled retrains.
    alpha : float
        Level.

    Returns
    -------
    float

    Examples
    --------
    >>> 0 < canary_two_sample_power(0.3, 0.3, 20, 40, 0.05) <= 0.05
    True
    >>> canary_two_sample_power(0.3, 0.3, 100, 100, 1e-3) <= 1e-3
    True
    >>> round(canary_two_sample_power(0.9, 0.1, 100, 100, 1e-3), 6)
    1.0
    """
    n, n_ref = int(n), int(n_ref)
    alpha = _check_prob("canary.alpha", alpha)
    xu, xr = np.arange(n + 1)[:, None], np.arange(n_ref + 1)[None, :]
    reject = _fisher_sf(n, n_ref)[xu + xr, xu] <= alpha
    pu = stats.binom.pmf(np.arange(n + 1), n, float(p))
    pr = stats.binom.pmf(np.arange(n_ref + 1), n_ref, float(q))
    return float(min(1.0, pu @ reject.astype(np.float64) @ pr))


@dataclass(frozen=True)
class CanaryTwoSampleTest:
    """Outcome of :func:`canary_two_sample_test`.

    ``deleted`` is False when H0 ("U hits the trigger no more often than a retrain") is
    rejected at ``alpha``. ``threshold`` is the smallest count of U that would be rejected
    given the retrains' count; ``q`` the retrains' pooled hit rate; ``power`` the exact
    power against the backdoor rate ``p`` with the retrains at rate ``q``.

    Parameters
    ----------
    successes, n : int
        U's trigger hits and queries.
    ref_successes, ref_n : int
        The retrains' pooled hits and queries.
    q, alpha : float
        The retrains' hit rate and the level.
    threshold : int
        Smallest count of U rejected.
    p_value : float
        Exact p-value.
    deleted : bool
        H0 stands.
    p, power : float or None
        The backdoor rate and the power against it.
    """

    successes: int
    n: int
    ref_successes: int
    ref_n: int
    q: float
    alpha: float
    threshold: int
    p_value: float
    deleted: bool
    p: float | None
    power: float | None


def canary_two_sample_test(
    successes: int,
    n: int,
    ref_successes: int | Sequence[int],
    ref_n: int | Sequence[int],
    alpha: float = 1e-3,
    p: float | None = None,
) -> CanaryTwoSampleTest:
    """Athena canary test against retrained models, with the retrains' rate estimated.

    The verification of deletion by backdoor canaries (Sommer et al. 2022, "Athena:
    Probabilistic Verification of Machine Unlearning", PoPETs) tests U's trigger hits
    against the backdoor-free rate ``q``. Here ``q`` is unknown and measured on retrained
    models, so both counts are binomials: ``x_u ~ Bin(n, q_u)``, ``x_r ~ Bin(n_ref, q_r)``
    and H0 is ``q_u <= q_r``. Conditionally on ``t = x_u + x_r``, ``x_u`` is
    hypergeometric under ``q_u = q_r`` whatever the common rate, so the one-sided
    p-value ``P(X >= x_u | t)`` (Fisher's exact test, alternative "greater") has level
    ``alpha`` for every ``q``. Several retrains are pooled by summing hits and queries
    (the same queries to each): this treats them as one binomial sample, i.e. it assumes
    retrains differ only through the queries' binomial noise.

    Parameters
    ----------
    successes, n : int
        U's triggered queries answered with the target label, and queries sent.
    ref_successes, ref_n : int or sequence of int
        The same for one retrain, or for several (pooled).
    alpha : float
        Type-I error (wrongly declaring "not deleted").
    p : float, optional
        Backdoor success rate with the data (e.g. the original model's), for the power.

    Returns
    -------
    CanaryTwoSampleTest

    Examples
    --------
    >>> t = canary_two_sample_test(60, 100, 12, 100, alpha=1e-3, p=0.9)
    >>> (t.deleted, t.threshold, t.p_value < 1e-12, round(t.power, 3))
    (False, 31, True, 1.0)
    >>> canary_two_sample_test(15, 100, [12, 9, 14], [100, 100, 100]).deleted
    True
    """
    alpha = _check_prob("canary.alpha", alpha)
    x_u, n_u = int(successes), int(n)
    x_r, n_r = _counts(ref_successes, "canary.ref_successes"), _counts(ref_n, "canary.ref_n")
    if n_u < 1 or n_r < 1:
        raise BadInput("canary.n", f"need at least one query on each side, got {n_u} and {n_r}")
    if not 0 <= x_u <= n_u:
        raise BadInput("canary.successes", f"must lie in 0..{n_u}, got {successes!r}")
    if not 0 <= x_r <= n_r:
        raise BadInput("canary.ref_successes", f"must lie in 0..{n_r}, got {ref_successes!r}")
    grid = np.arange(n_u + 1)
    ok = np.nonzero(_fisher_sf(n_u, n_r)[grid + x_r, grid] <= alpha)[0]
    threshold = int(grid[ok[0]]) if len(ok) else n_u + 1
    p_value = float(stats.hypergeom.sf(x_u - 1, n_u + n_r, x_u + x_r, n_u))
    q = x_r / n_r
    power = None
    if p is not None:
        p = min(max(float(p), 0.0), 1.0)
        power = canary_two_sample_power(p, q, n_u, n_r, alpha)
    return CanaryTwoSampleTest(x_u, n_u, x_r, n_r, q, alpha, threshold, p_value, p_value > alpha, p, power)
