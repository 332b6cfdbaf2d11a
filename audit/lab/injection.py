"""Feature injection test (Izzo et al. 2021, "Approximate data deletion", AISTATS).

Append one feature that is zero on every row except the rows to delete, where it is
perfectly predictive of the label. A model trained on all rows puts a large weight
``theta_O[inj]`` on it; a retrain without those rows sees the feature as constant zero and
(with L2 regularisation) gives it weight exactly 0. The test statistic is
``theta_U[inj] / theta_O[inj]``: 0 = the method removed what only the deleted rows taught,
1 = nothing was removed.

For networks, where no single weight carries the feature, :func:`attribution_ratio` uses
the attribution equivalent: how much the target-class log-probability on the deleted rows
drops when the injected feature is zeroed (U over O).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from audit.core.outputs import normalise_logits
from audit.shared.errors import BadInput
from audit.training.linear import (
    fit_logreg,
    fit_ridge,
    influence_removal,
    newton_removal,
    pru_removal,
)

__all__ = [
    "inject_feature",
    "injection_ratio",
    "attribution_ratio",
    "logistic_injection",
    "ridge_injection_sweep",
]


def inject_feature(X: np.ndarray, forget_mask: np.ndarray, value: float = 1.0) -> np.ndarray:
    """``X`` with one extra last column: ``value`` on the forget rows, 0 elsewhere.

    Parameters
    ----------
    X : ndarray, shape (n, d)
        Rows.
    forget_mask : ndarray of bool
        The forget rows.
    value : float
        The injected value.

    Returns
    -------
    ndarray, shape (n, d + 1)

    Examples
    --------
    >>> inject_feature(np.zeros((2, 1)), np.array([True, False])).tolist()
    [[0.0, 1.0], [0.0, 0.0]]
    """
    X = np.asarray(X, dtype=np.float64)
    mask = np.asarray(forget_mask, dtype=bool)
    if mask.shape != (len(X),) or not mask.any():
        raise BadInput("injection.forget_mask", "need a boolean mask over the rows with at least one True")
    return np.c_[X, np.where(mask, float(value), 0.0)]


def injection_ratio(theta_u: np.ndarray, theta_o: np.ndarray, index: int = -1) -> float:
    """Izzo's statistic ``theta_U[index] / theta_O[index]``.

    Parameters
    ----------
    theta_u, theta_o : ndarray
        Weights of U and O.
    index : int
        The injected feature's weight.

    Returns
    -------
    float

    Examples
    --------
    >>> injection_ratio(np.array([1.0, 0.1]), np.array([1.0, 2.0]))
    0.05
    """
    o = float(np.ravel(theta_o)[index])
    if o == 0.0:
        raise BadInput("injection.theta_o", "the original model gave the injected feature no weight")
    return float(np.ravel(theta_u)[index]) / o


def attribution_ratio(
    predict_logits_u: Callable[[np.ndarray], np.ndarray],
    predict_logits_o: Callable[[np.ndarray], np.ndarray],
    X_forget: np.ndarray,
    target: np.ndarray,
    column: int = -1,
) -> float:
    """Attribution equivalent for any model: drop in target log-probability when the
    injected column is zeroed, ``mean drop under U / mean drop under O``.

    Parameters
    ----------
    predict_logits_u, predict_logits_o : callable
        The two models.
    X_forget : ndarray
        The forget rows (injected column set).
    target : ndarray
        Their labels.
    column : int
        The injected column.

    Returns
    -------
    float
    """
    X = np.asarray(X_forget, dtype=np.float32)
    X0 = X.copy()
    X0[:, column] = 0.0
    t = np.asarray(target, dtype=int)
    rows = np.arange(len(X))

    def drop(fn: Callable[[np.ndarray], np.ndarray]) -> float:
        lp, lp0 = (normalise_logits(fn(a)) for a in (X, X0))
        return float(np.mean(lp[rows, t] - lp0[rows, t]))

    o = drop(predict_logits_o)
    if o <= 0:
        raise BadInput("injection.original", "the original model does not use the injected feature")
    return drop(predict_logits_u) / o


def _synthetic(n: int, d: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    w = rng.normal(size=d)
    forget = np.zeros(n, dtype=bool)
    forget[rng.choice(n, size=k, replace=False)] = True
    return X, X @ w + rng.normal(size=n), forget


def logistic_injection(
    seed: int = 0, n: int = 600, d: int = 10, k: int = 30, lam: float = 1e-3
) -> dict[str, float]:
    """Injection ratios on L2 logistic regression for retrain, no-op, Newton and influence.

    The ``k`` deleted rows all get label 1 and the injected feature 1, so the feature
    predicts them perfectly; other rows follow a noisy linear rule.

    Parameters
    ----------
    seed, n, d, k : int
        Seed, rows, features and deleted rows.
    lam : float
        L2 strength.

    Returns
    -------
    dict of str to float

    Examples
    --------
    >>> r = logistic_injection(seed=0)
    >>> (abs(r["retrain"]) < 0.05, r["noop"] > 0.9)
    (True, True)
    """
    X, score, forget = _synthetic(n, d, k, seed)
    y = (score > 0).astype(int)
    y[forget] = 1
    Xa = inject_feature(np.c_[X, np.ones(n)], forget)
    keep = ~forget
    orig = fit_logreg(Xa, y, lam)
    retrain = fit_logreg(Xa[keep], y[keep], lam)
    out = {"theta_o": float(orig.theta[-1])}
    for name, model in (("retrain", retrain), ("noop", orig),
                        ("newton", newton_removal(orig, Xa[keep], y[keep])),
                        ("influence", influence_removal(orig, Xa, y, forget))):
        out[name] = injection_ratio(model.theta, orig.theta)
    return out


def ridge_injection_sweep(
    ks: tuple[int, ...] = (1, 5, 10, 20, 40), seed: int = 0, n: int = 400, d: int = 30, lam: float = 1.0,
    shift: float = 5.0,
) -> list[dict[str, float]]:
    """Izzo's Table 3 direction on ridge regression: ratio vs number of deleted rows ``k``.

    The deleted rows share the injected support and their response is shifted by
    ``shift``. PRU (an update confined to the span of the deleted rows) removes more of
    the injected weight as ``k`` grows; exact retrain always gives 0; the no-op gives 1.

    Parameters
    ----------
    ks : tuple of int
        Deleted-row counts.
    seed, n, d : int
        Seed, rows, features.
    lam, shift : float
        L2 strength and the deleted rows' response shift.

    Returns
    -------
    list of dict
    """
    rows = []
    for k in ks:
        X, y, forget = _synthetic(n, d, int(k), seed)
        y = y + shift * forget
        Xa = inject_feature(X, forget)
        theta = fit_ridge(Xa, y, lam)
        retrain = fit_ridge(Xa[~forget], y[~forget], lam)
        pru = pru_removal(theta, Xa, y, lam, np.flatnonzero(forget))
        rows.append({"k": int(k), "retrain": injection_ratio(retrain, theta),
                     "pru": injection_ratio(pru, theta), "noop": 1.0,
                     "pru_distance": float(np.linalg.norm(pru - retrain)),
                     "noop_distance": float(np.linalg.norm(theta - retrain))})
    return rows
