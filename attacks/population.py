"""Population attacks: membership scores from one model's outputs, no shadow models.

Every attack maps log-probabilities ``logp [n, classes]`` and integer labels ``y [n]``
to a score per row where **higher = more member-like** (members are the positive class
of :mod:`attacks.metrics`).

* ``loss`` — Yeom et al. 2018: members have lower cross-entropy; score = log p_y.
* ``confidence`` — the probability of the true class, p_y.
* ``entropy`` — members get more confident predictions; score = -H(p).
* ``modified_entropy`` — Song & Mittal 2021, score = -Mentr with
  ``Mentr(p, y) = -(1 - p_y) log p_y - sum_{i != y} p_i log(1 - p_i)``; it uses the label
  and is monotone in correctness (a confident wrong prediction has high Mentr).
* ``logit_confidence`` — the logit-scaled confidence ``log p_y - log(1 - p_y)`` (Carlini
  et al. 2022), computed from log-probabilities so that p_y near 1 keeps resolution.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = [
    "ATTACKS",
    "loss_score",
    "confidence_score",
    "entropy_score",
    "modified_entropy_score",
    "logit_confidence",
    "population_scores",
    "squared_error_score",
    "log_squared_error",
]

_TINY = 1e-300


def _true_class(logp: np.ndarray, y: np.ndarray) -> np.ndarray:
    lp = np.asarray(logp, dtype=np.float64)
    yy = np.asarray(y, dtype=np.int64)
    if lp.ndim != 2 or lp.shape[0] != yy.shape[0]:
        raise ValueError(f"logp {lp.shape} and labels {yy.shape} do not match")
    if yy.size and (yy.min() < 0 or yy.max() >= lp.shape[1]):
        raise ValueError("labels outside 0..classes-1")
    return lp[np.arange(len(yy)), yy]


def _log1m_exp(lp: np.ndarray) -> np.ndarray:
    """log(1 - exp(lp)) for lp <= 0, stable near 0 (Maechler 2012)."""
    lp = np.minimum(lp, -_TINY)
    with np.errstate(divide="ignore"):  # np.where evaluates both branches
        return np.where(lp > -np.log(2.0), np.log(-np.expm1(lp)), np.log1p(-np.exp(lp)))


def loss_score(logp: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Negative cross-entropy ``log p_y`` (Yeom et al. 2018).

    Parameters
    ----------
    logp : ndarray, shape (n, classes)
        Log-probabilities.
    y : ndarray of int, shape (n,)
        Labels.

    Returns
    -------
    ndarray, shape (n,)
        Larger = more member-like.

    Examples
    --------
    >>> loss_score(np.log(np.array([[0.5, 0.5]])), np.array([0])).round(4).tolist()
    [-0.6931]
    """
    return _true_class(logp, y)


def confidence_score(logp: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Probability of the true class ``p_y``.

    Parameters
    ----------
    logp : ndarray, shape (n, classes)
        Log-probabilities.
    y : ndarray of int, shape (n,)
        Labels.

    Returns
    -------
    ndarray, shape (n,)

    Examples
    --------
    >>> confidence_score(np.log(np.array([[0.25, 0.75]])), np.array([1])).tolist()
    [0.75]
    """
    return np.exp(_true_class(logp, y))


def entropy_score(logp: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
    """Negative Shannon entropy of the prediction (label not used).

    Parameters
    ----------
    logp : ndarray, shape (n, classes)
        Log-probabilities.
    y : ndarray, optional
        Ignored (the attack is label-free).

    Returns
    -------
    ndarray, shape (n,)

    Examples
    --------
    >>> entropy_score(np.log(np.array([[0.5, 0.5]]))).round(4).tolist()
    [-0.6931]
    """
    lp = np.asarray(logp, dtype=np.float64)
    p = np.exp(lp)
    return np.sum(p * lp, axis=1)


def modified_entropy_score(logp: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Negative modified entropy ``-Mentr(p, y)`` (Song & Mittal 2021, eq. for Mentr).

    Parameters
    ----------
    logp : ndarray, shape (n, classes)
        Log-probabilities.
    y : ndarray of int, shape (n,)
        Labels.

    Returns
    -------
    ndarray, shape (n,)

    Examples
    --------
    >>> lp = np.log(np.array([[0.9, 0.1], [0.1, 0.9]]))
    >>> s = modified_entropy_score(lp, np.array([0, 0]))
    >>> bool(s[0] > s[1])   # correct and confident beats confidently wrong
    True
    """
    lp = np.asarray(logp, dtype=np.float64)
    lpy = _true_class(lp, y)
    p = np.exp(lp)
    log1m = _log1m_exp(lp)
    others = p * log1m
    others[np.arange(len(lpy)), np.asarray(y, dtype=np.int64)] = 0.0
    mentr = -(1.0 - np.exp(lpy)) * lpy - others.sum(axis=1)
    return -mentr


def logit_confidence(logp: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Logit-scaled confidence ``log p_y - log(1 - p_y)``.

    Parameters
    ----------
    logp : ndarray, shape (n, classes)
        Log-probabilities.
    y : ndarray of int, shape (n,)
        Labels.

    Returns
    -------
    ndarray, shape (n,)

    Examples
    --------
    >>> round(float(logit_confidence(np.log(np.array([[0.75, 0.25]])), np.array([0]))[0]), 6)
    1.098612
    """
    lpy = _true_class(logp, y)
    return lpy - _log1m_exp(lpy)


ATTACKS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "loss": loss_score,
    "confidence": confidence_score,
    "entropy": entropy_score,
    "modified_entropy": modified_entropy_score,
    "logit_confidence": logit_confidence,
}


def squared_error_score(pred: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Regression loss attack (Yeom et al. 2018): negative squared error ``-(f(x) - y)^2``.

    Parameters
    ----------
    pred : ndarray, shape (n,)
        A regressor's predictions.
    y : ndarray, shape (n,)
        Targets.

    Returns
    -------
    ndarray, shape (n,)

    Examples
    --------
    >>> squared_error_score(np.array([1.0, 3.0]), np.array([1.5, 1.0])).tolist()
    [-0.25, -4.0]
    """
    return -(np.asarray(pred, dtype=np.float64) - np.asarray(y, dtype=np.float64)) ** 2


def log_squared_error(pred: np.ndarray, y: np.ndarray, eps: float) -> np.ndarray:
    """``-log((f(x) - y)^2 + eps)``: a regressor's per-row statistic for LiRA's Gaussian fit.

    The log makes the (chi-square-like) squared error of a row across models near-Gaussian,
    as the logit does for a classifier's confidence; ``eps`` (e.g. a tiny share of the targets'
    variance) keeps an exact fit finite. Larger = more member-like.

    Parameters
    ----------
    pred : ndarray, shape (n,)
        Predictions.
    y : ndarray, shape (n,)
        Targets.
    eps : float
        Added to the squared error before the log.

    Returns
    -------
    ndarray, shape (n,)

    Examples
    --------
    >>> log_squared_error(np.array([1.0]), np.array([1.0]), 1e-4).round(3).tolist()
    [9.21]
    """
    return -np.log(-squared_error_score(pred, y) + float(eps))


def population_scores(
    logp: np.ndarray, y: np.ndarray, attacks: list[str] | tuple[str, ...] = tuple(ATTACKS)
) -> dict[str, np.ndarray]:
    """Scores of several population attacks at once: ``{name: scores [n]}``.

    Parameters
    ----------
    logp : ndarray, shape (n, classes)
        Log-probabilities.
    y : ndarray of int, shape (n,)
        Labels.
    attacks : sequence of str
        Names among ``ATTACKS``.

    Returns
    -------
    dict of str to ndarray

    Examples
    --------
    >>> sorted(population_scores(np.log(np.array([[0.5, 0.5]])), np.array([0]), ["loss", "entropy"]))
    ['entropy', 'loss']
    """
    unknown = [a for a in attacks if a not in ATTACKS]
    if unknown:
        raise ValueError(f"unknown attacks {unknown}; known: {sorted(ATTACKS)}")
    return {a: ATTACKS[a](logp, y) for a in attacks}
