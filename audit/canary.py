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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from audit.errors import BadInput

__all__ = [
    "canary_threshold",
    "canary_power",
    "queries_for_power",
    "plant_trigger",
    "CanaryTest",
    "canary_test",
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

    Examples
    --------
    >>> round(canary_power(0.9, 0.1, 30, 1e-3), 6)
    1.0
    """
    p = _check_prob("canary.p", p)
    k = canary_threshold(q, n, alpha)
    return float(stats.binom.sf(k - 1, int(n), p))


def queries_for_power(p: float, q: float, alpha: float, power: float = 0.95, n_max: int = 10_000) -> int | None:
    """Fewest queries ``n`` whose test reaches ``power``; ``None`` beyond ``n_max``."""
    _check_prob("canary.power", power)
    for n in range(1, int(n_max) + 1):
        if canary_power(p, q, n, alpha) >= power:
            return n
    return None


def plant_trigger(
    X: np.ndarray, cols: np.ndarray | list[int], value: float | np.ndarray
) -> np.ndarray:
    """Copy of ``X`` with the trigger (``X[:, cols] = value``) stamped on every row."""
    out = np.array(X, dtype=np.float32, copy=True)
    out[:, np.asarray(cols, dtype=int)] = value
    return out


@dataclass(frozen=True)
class CanaryTest:
    """Outcome of one Athena test.

    ``deleted`` is False when H0 (deleted) is rejected at ``alpha``; ``p_value`` is
    ``P_H0(X >= successes)``; ``power`` is the test's power against the backdoor
    success rate ``p`` measured on the original model (or given).
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
