"""L2-regularised linear models with closed-form access to gradients and Hessians.

* :class:`LogReg` — binary logistic regression, objective
  ``sum_i log(1 + exp(-s_i theta.x_i)) + lam * n / 2 * |theta|^2 + b.theta`` (``s_i = ±1``;
  ``b`` is Guo et al. 2020's objective-perturbation noise, zero by default).
* :func:`newton_removal` — certified removal (Guo 2020): one Newton step on the *retained*
  objective from the trained parameters, with the same noise ``b`` the model was trained with.
* :func:`influence_removal` — the influence-function update with the *full-data* Hessian
  (Koh & Liang 2017; the baseline Izzo et al. 2021 compare against).
* :func:`fit_ridge` / :func:`pru_removal` — ridge regression and Izzo's projective residual
  update: the exact update projected onto the span of the deleted rows, computed from
  leave-k-out predictions via the hat matrix (no retraining).

The intercept is a column of ones in ``X`` (callers add it); it is regularised like every
other coordinate, which keeps the algebra exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import optimize
from scipy.special import expit, log_expit

__all__ = ["LogReg", "fit_logreg", "fit_logreg_recipe", "newton_removal", "influence_removal", "fit_ridge", "pru_removal",
           "guo_noise"]


@dataclass
class LogReg:
    """A fitted binary logistic regression (adapter: ``predict_logits``, ``parameters``).

    Parameters
    ----------
    theta : ndarray, shape (d,)
        Weights (intercept as a constant feature, if any).
    lam : float
        L2 strength per row.
    b : ndarray, optional
        Objective-perturbation noise.
    n_train : int
        Rows it was trained on.
    """

    theta: np.ndarray
    lam: float
    b: np.ndarray | None = None
    n_train: int = 0
    intercept: bool = False
    format: str = field(default="numpy-logreg", init=False)
    sha256: str | None = field(default=None, init=False)

    def design(self, X: np.ndarray) -> np.ndarray:
        """The rows the parameters multiply: ``X``, with a column of ones when ``intercept``.

        Parameters
        ----------
        X : ndarray, shape (n, d0)
            Inputs (cast to float64).

        Returns
        -------
        ndarray, shape (n, d)
            ``X``, or ``X`` with a trailing column of ones (``d = d0 + 1``) when ``intercept``.

        Examples
        --------
        >>> LogReg(np.zeros(3), 0.1, intercept=True).design(np.array([[1.0, 2.0]])).tolist()
        [[1.0, 2.0, 1.0]]
        """
        X = np.asarray(X, dtype=np.float64)
        return np.c_[X, np.ones(len(X))] if self.intercept else X

    def decision(self, X: np.ndarray) -> np.ndarray:
        """The linear score ``design(X) theta``.

        Parameters
        ----------
        X : ndarray, shape (n, d)
            Inputs.

        Returns
        -------
        ndarray, shape (n,)
        """
        return self.design(X) @ self.theta

    def predict_logits(self, X: np.ndarray) -> np.ndarray:
        """Logits ``[0, X theta]`` of classes 0 and 1.

        Parameters
        ----------
        X : ndarray or DataFrame, shape (n, features)
            Inputs (a DataFrame for a model that takes its features by name).

        Returns
        -------
        ndarray, shape (n, classes)
            Logits or log-probabilities (a regressor: its predictions, ``[n, 1]``).
        """
        z = self.decision(X)
        return np.stack([log_expit(-z), log_expit(z)], axis=1)

    def parameters(self) -> dict[str, np.ndarray]:
        """``{"theta": theta}``.

        Returns
        -------
        dict of str to ndarray or None
            The model's parameters by name, float64 copies (None when it exposes none).
        """
        return {"theta": self.theta.copy()}


def _signs(y: np.ndarray) -> np.ndarray:
    return np.where(np.asarray(y) > 0, 1.0, -1.0)


def _objective(theta: np.ndarray, X: np.ndarray, s: np.ndarray, lam_n: float, b: np.ndarray):  # noqa: ANN202
    m = s * (X @ theta)
    f = -log_expit(m).sum() + 0.5 * lam_n * theta @ theta + b @ theta
    g = -(X.T @ (s * expit(-m))) + lam_n * theta + b
    return f, g


def _hessian(theta: np.ndarray, X: np.ndarray, lam_n: float) -> np.ndarray:
    p = expit(X @ theta)
    return (X * (p * (1 - p))[:, None]).T @ X + lam_n * np.eye(X.shape[1])


def guo_noise(d: int, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Objective-perturbation vector ``b ~ N(0, sigma^2 I)`` (Guo 2020, Algorithm 1).

    Parameters
    ----------
    d : int
        Dimension.
    sigma : float
        Standard deviation.
    rng : numpy.random.Generator
        Source of the draw.

    Returns
    -------
    ndarray, shape (d,)
    """
    return rng.normal(0.0, float(sigma), size=int(d))


def fit_logreg(
    X: np.ndarray, y: np.ndarray, lam: float, b: np.ndarray | None = None, tol: float = 1e-10
) -> LogReg:
    """Minimise the (perturbed) L2 logistic objective with L-BFGS to tight tolerance.

    Parameters
    ----------
    X : ndarray, shape (n, d)
        Inputs.
    y : ndarray of {0, 1}, shape (n,)
        Labels.
    lam : float
        L2 strength per row.
    b : ndarray, optional
        Objective-perturbation noise (Guo 2020).
    tol : float
        L-BFGS tolerance.

    Returns
    -------
    LogReg

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.c_[rng.normal(size=(200, 2)), np.ones(200)]; y = (X[:, 0] > 0).astype(int)
    >>> m = fit_logreg(X, y, lam=1e-2)
    >>> bool(m.theta[0] > 1)
    True
    """
    X = np.asarray(X, dtype=np.float64)
    s = _signs(y)
    n, d = X.shape
    bb = np.zeros(d) if b is None else np.asarray(b, dtype=np.float64)
    res = optimize.minimize(_objective, np.zeros(d), args=(X, s, lam * n, bb), jac=True,
                            method="L-BFGS-B", options={"gtol": tol, "ftol": 1e-15, "maxiter": 5000})
    return LogReg(res.x, float(lam), None if b is None else bb, n)


def newton_removal(model: LogReg, X_retain: np.ndarray, y_retain: np.ndarray) -> LogReg:
    """Guo 2020 removal: ``theta - H_r^{-1} grad L_r(theta)`` on the retained objective.

    ``L_r`` keeps the model's regulariser strength per row (``lam * n_retain``) and its
    noise ``b``, so the target is the exact retrain of the same perturbed objective.
    The residual gradient norm after the step is stored as ``model.residual``.

    Parameters
    ----------
    model : LogReg
        The trained model.
    X_retain, y_retain : ndarray
        The retained rows.

    Returns
    -------
    LogReg
    """
    X = model.design(X_retain)
    lam_n = model.lam * len(X)
    b = np.zeros(X.shape[1]) if model.b is None else model.b
    _, g = _objective(model.theta, X, _signs(y_retain), lam_n, b)
    theta = model.theta - np.linalg.solve(_hessian(model.theta, X, lam_n), g)
    out = LogReg(theta, model.lam, model.b, len(X), model.intercept)
    out.residual = float(np.linalg.norm(_objective(theta, X, _signs(y_retain), lam_n, b)[1]))  # type: ignore[attr-defined]
    return out


def influence_removal(
    model: LogReg, X_full: np.ndarray, y_full: np.ndarray, forget_mask: np.ndarray
) -> LogReg:
    """Influence-function removal: the Newton step with the Hessian of the *full* objective.

    Cheaper (the full Hessian can be precomputed once), but the curvature the deleted rows
    contributed stays in it — the reason it fails Izzo's feature-injection test.

    Parameters
    ----------
    model : LogReg
        The trained model.
    X_full, y_full : ndarray
        Every training row.
    forget_mask : ndarray of bool
        The rows to delete.

    Returns
    -------
    LogReg
    """
    X = model.design(X_full)
    keep = ~np.asarray(forget_mask, dtype=bool)
    lam_n_full = model.lam * len(X)
    lam_n = model.lam * int(keep.sum())
    b = np.zeros(X.shape[1]) if model.b is None else model.b
    _, g = _objective(model.theta, X[keep], _signs(np.asarray(y_full)[keep]), lam_n, b)
    theta = model.theta - np.linalg.solve(_hessian(model.theta, X, lam_n_full), g)
    return LogReg(theta, model.lam, model.b, int(keep.sum()), model.intercept)


def fit_logreg_recipe(X: np.ndarray, y: np.ndarray, n_classes: int, seed: int, *, lam: float = 1e-3,
                      sigma: float = 0.0) -> LogReg:
    """The ``logreg`` recipe: a binary L2 logistic regression with an intercept.

    ``sigma > 0`` trains Guo et al.'s perturbed objective (noise ``b`` drawn from ``seed``);
    with ``sigma = 0`` the convex objective has one minimiser, so every retrain is the same model.

    Parameters
    ----------
    X, y : ndarray
        Features and labels 0 / 1.
    n_classes : int
        Must be 2.
    seed : int
        Seeds the perturbation ``b`` (unused when ``sigma = 0``).
    lam, sigma : float
        Regulariser per row and the perturbation's standard deviation.

    Returns
    -------
    LogReg
        With ``intercept = True``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 2)); y = (X[:, 0] > 0).astype(int)
    >>> fit_logreg_recipe(X, y, 2, seed=0).predict_logits(X).shape
    (100, 2)
    """
    from audit.shared.errors import BadInput

    if int(n_classes) != 2:
        raise BadInput("training.recipe", f"'logreg' is a binary logistic regression; this case has {n_classes} classes")
    Xa = np.c_[np.asarray(X, dtype=np.float64), np.ones(len(X))]
    b = guo_noise(Xa.shape[1], sigma, np.random.default_rng(int(seed))) if sigma > 0 else None
    m = fit_logreg(Xa, y, lam, b)
    m.intercept = True
    return m


def fit_ridge(X: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """Ridge regression ``argmin |X theta - y|^2 + lam |theta|^2`` (closed form).

    Parameters
    ----------
    X : ndarray, shape (n, d)
        Inputs.
    y : ndarray, shape (n,)
        Targets.
    lam : float
        L2 strength.

    Returns
    -------
    ndarray, shape (d,)

    Examples
    --------
    >>> fit_ridge(np.eye(2), np.array([2.0, 4.0]), 1.0).tolist()
    [1.0, 2.0]
    """
    X = np.asarray(X, dtype=np.float64)
    return np.linalg.solve(X.T @ X + lam * np.eye(X.shape[1]), X.T @ np.asarray(y, dtype=np.float64))


def pru_removal(theta: np.ndarray, X: np.ndarray, y: np.ndarray, lam: float, forget_idx: np.ndarray) -> np.ndarray:
    """Izzo 2021's projective residual update for ridge regression.

    Leave-k-out predictions on the deleted rows come from the hat matrix
    ``H = X (X'X + lam I)^-1 X'``: ``yhat' = (I - H_KK)^-1 (yhat_K - H_KK y_K)``. The update is
    the smallest step in the span of the deleted rows that moves their predictions to
    ``yhat'`` — the projection of the exact update onto that span.

    Parameters
    ----------
    theta : ndarray, shape (d,)
        The trained ridge weights.
    X, y : ndarray
        Every training row.
    lam : float
        L2 strength.
    forget_idx : ndarray of int
        Rows to delete.

    Returns
    -------
    ndarray, shape (d,)
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    K = np.asarray(forget_idx)
    Xk = X[K]
    A_inv_Xk = np.linalg.solve(X.T @ X + lam * np.eye(X.shape[1]), Xk.T)
    H_kk = Xk @ A_inv_Xk
    yhat_k = Xk @ theta
    loo = np.linalg.solve(np.eye(len(K)) - H_kk, yhat_k - H_kk @ y[K])
    step, *_ = np.linalg.lstsq(Xk, loo - yhat_k, rcond=None)  # min-norm: lies in span(Xk)
    return theta + step
