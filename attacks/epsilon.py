"""The empirical epsilon of a membership attack.

:func:`empirical_epsilon` — a lower bound on epsilon of (epsilon, delta)-DP from an
attack's FPR and FNR with one-sided Clopper-Pearson upper bounds (Jagielski et al.
2020; Nasr et al. 2021): ``eps >= max(log((1-delta-FPR)/FNR), log((1-delta-FNR)/FPR))``.
Scores and membership follow :mod:`attacks.metrics` (member = 1, higher = more member-like).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from attacks.metrics import check_scores

__all__ = ["clopper_pearson", "EpsilonBound", "empirical_epsilon"]


def clopper_pearson(k: np.ndarray, n: np.ndarray, confidence: float, side: str = "upper") -> np.ndarray:
    """One-sided exact (Clopper-Pearson) bound on a binomial proportion ``k/n``.

    Parameters
    ----------
    k, n : ndarray of int
        Successes and trials.
    confidence : float
        One-sided confidence level.
    side : {"upper", "lower"}
        Which bound.

    Returns
    -------
    ndarray
        The bound (1 for an upper bound at ``k = n``, 0 for a lower bound at ``k = 0``).

    Examples
    --------
    >>> round(float(clopper_pearson(np.array(0), np.array(10), 0.95)), 4)
    0.2589
    """
    k = np.asarray(k, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    a = 1.0 - confidence
    if side == "upper":
        return np.where(k >= n, 1.0, sps.beta.ppf(1.0 - a, k + 1, np.maximum(n - k, 1e-300)))
    return np.where(k <= 0, 0.0, sps.beta.ppf(a, np.maximum(k, 1e-300), n - k + 1))


@dataclass
class EpsilonBound:
    """Result of :func:`empirical_epsilon`.

    Parameters
    ----------
    epsilon_lb : float
        The lower bound at ``confidence``.
    epsilon_point : float
        The point estimate at the same threshold.
    threshold : float
        The threshold that gave the bound.
    fpr, fnr : float
        The error rates there.
    n_thresholds : int
        Candidates tried (the Bonferroni factor).
    confidence : float
        Confidence of the bound.
    """

    epsilon_lb: float  # with Clopper-Pearson upper bounds on FPR and FNR
    epsilon_point: float  # with the observed FPR and FNR (no uncertainty, optimistic)
    threshold: float
    fpr: float
    fnr: float
    n_thresholds: int
    confidence: float


def _eps(fpr: np.ndarray, fnr: np.ndarray, delta: float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.log(np.maximum(1.0 - delta - fpr, 0.0) / fnr)
        b = np.log(np.maximum(1.0 - delta - fnr, 0.0) / fpr)
    e = np.fmax(a, b)
    return np.where(np.isnan(e), 0.0, np.maximum(e, 0.0))


def empirical_epsilon(
    scores: np.ndarray,
    membership: np.ndarray,
    delta: float = 0.0,
    confidence: float = 0.95,
    thresholds: np.ndarray | None = None,
    n_grid: int = 50,
) -> EpsilonBound:
    """Lower bound on epsilon from the attack's error rates.

    For each candidate threshold, FPR and FNR are replaced by their one-sided
    Clopper-Pearson upper bounds; the bound holds simultaneously over the candidate
    thresholds by Bonferroni (each bound at ``1 - (1-confidence)/n_thresholds``).
    Pass ``thresholds`` (e.g. one calibrated on held-out data) to avoid the correction.
    The candidates default to ``n_grid`` quantiles of the scores.

    Parameters
    ----------
    scores : ndarray, shape (n,)
        Attack scores.
    membership : ndarray of {0, 1}, shape (n,)
        1 for members.
    delta : float
        The ``delta`` of the (epsilon, delta) guarantee.
    confidence : float
        Simultaneous confidence over the thresholds.
    thresholds : ndarray, optional
        Candidate thresholds (default: ``n_grid`` score quantiles).
    n_grid : int
        Number of default candidates.

    Returns
    -------
    EpsilonBound

    Examples
    --------
    >>> s = np.r_[np.ones(500), np.zeros(500)]; m = np.r_[np.ones(500), np.zeros(500)]
    >>> b = empirical_epsilon(s, m, thresholds=np.array([0.5]))
    >>> round(b.epsilon_lb, 2)   # perfect separation, 500 + 500 trials
    5.11
    """
    s, m = check_scores(scores, membership)
    if thresholds is None:
        thresholds = np.unique(np.quantile(s, np.linspace(0.0, 1.0, n_grid + 1)[1:-1]))
    t = np.atleast_1d(np.asarray(thresholds, dtype=np.float64))
    pred = s[None, :] >= t[:, None]
    n1, n0 = int(m.sum()), int((m == 0).sum())
    fp = pred[:, m == 0].sum(axis=1)
    fn = (~pred[:, m == 1]).sum(axis=1)
    conf = 1.0 - (1.0 - confidence) / len(t)
    fpr_hi = clopper_pearson(fp, np.full_like(fp, n0), conf)
    fnr_hi = clopper_pearson(fn, np.full_like(fn, n1), conf)
    lb = _eps(fpr_hi, fnr_hi, delta)
    point = _eps(fp / n0, fn / n1, delta)
    i = int(np.argmax(lb))
    return EpsilonBound(float(lb[i]), float(point.max()), float(t[i]), float(fp[i] / n0),
                        float(fn[i] / n1), len(t), confidence)
