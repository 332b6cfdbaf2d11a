"""Bayesian logistic regression trained by variational inference (the ``bayes-logreg`` recipe).

Model: ``p(y = 1 | x, theta) = sigmoid(theta . [x, 1])``, prior ``theta ~ N(0, prior_var I)``;
approximate posterior ``q(theta | D) = N(m, L L^T)`` with a full lower-triangular Cholesky
factor ``L`` (positive diagonal). Training maximises the evidence lower bound

``ELBO(q) = E_q[log p(D | theta)] - KL[q || p(theta)]``

with the reparameterisation ``theta_s = m + L eps_s``: ``n_samples`` standard-normal base
draws ``eps_s`` are drawn once from the seed (common random numbers), so the Monte-Carlo
objective is a smooth deterministic function of ``(m, L)`` and is minimised with L-BFGS
(torch autograd for the gradient). Different seeds draw different ``eps``: retrains then
scatter like stochastic VI runs do, which is the retrain spread an audit measures.

:func:`minimise` is the one optimiser the recipe and :mod:`audit.lab.methods.vbu` share.
The posterior predictive ``E_q[sigmoid(z)]``, ``z ~ N(m . x, x^T L L^T x)``, is computed by
Gauss-Hermite quadrature (deterministic, no sampling at prediction time).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy import optimize
from scipy.special import expit

from audit.core.divergence import gaussian_kl  # re-exported: the one home is audit.core.divergence
from audit.core.torch_threads import one_thread
from audit.shared.errors import BadInput

__all__ = ["BayesLogReg", "fit_bayes_logreg", "minimise", "gaussian_kl", "base_draws", "augment",
           "unpack", "pack", "log_likelihood"]

_HERMITE = np.polynomial.hermite.hermgauss(48)


def augment(X: np.ndarray) -> np.ndarray:
    """Features with the intercept column of ones appended (float64).

    Parameters
    ----------
    X : ndarray, shape (n, d)
        Features.

    Returns
    -------
    ndarray, shape (n, d + 1)

    Examples
    --------
    >>> augment(np.zeros((1, 2))).tolist()
    [[0.0, 0.0, 1.0]]
    """
    X = np.asarray(X, dtype=np.float64)
    return np.c_[X, np.ones(len(X))]


def base_draws(seed: int, n_samples: int, d: int) -> torch.Tensor:
    """The ``n_samples x d`` standard-normal base draws of a seed (common random numbers).

    Parameters
    ----------
    seed : int
        The seed.
    n_samples, d : int
        Draws and dimension.

    Returns
    -------
    torch.Tensor, shape (n_samples, d), float64
    """
    return torch.from_numpy(np.random.default_rng(int(seed)).standard_normal((int(n_samples), int(d))))


def unpack(v: torch.Tensor, d: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(mean, scale_tril)`` from the flat vector ``[m, tril(L) with log-diagonal]``.

    Parameters
    ----------
    v : torch.Tensor
        The flat parameter vector (length ``d + d (d + 1) / 2``).
    d : int
        Dimension.

    Returns
    -------
    mean, scale_tril : torch.Tensor

    Examples
    --------
    >>> m, L = unpack(torch.tensor(pack(np.ones(2), np.eye(2))), 2)
    >>> m.tolist(), L.tolist()
    ([1.0, 1.0], [[1.0, 0.0], [0.0, 1.0]])
    """
    rows, cols = torch.tril_indices(d, d)
    raw = torch.zeros(d, d, dtype=v.dtype).index_put((rows, cols), v[d:])
    diag = torch.diagonal(raw)
    return v[:d], raw - torch.diag(diag) + torch.diag(torch.exp(diag))


def pack(mean: np.ndarray, scale_tril: np.ndarray) -> np.ndarray:
    """Inverse of :func:`unpack`.

    Parameters
    ----------
    mean : ndarray, shape (d,)
        Posterior mean.
    scale_tril : ndarray, shape (d, d)
        Lower-triangular Cholesky factor (positive diagonal).

    Returns
    -------
    ndarray
        The flat vector :func:`unpack` reads.
    """
    d = len(mean)
    raw = np.array(scale_tril, dtype=np.float64)
    raw[np.diag_indices(d)] = np.log(np.diag(raw))
    return np.concatenate([np.asarray(mean, dtype=np.float64), raw[np.tril_indices(d)]])


def minimise(objective: Callable[[torch.Tensor], torch.Tensor], v0: np.ndarray,
             maxiter: int = 500) -> np.ndarray:
    """Minimise a torch scalar function of a flat float64 vector with L-BFGS.

    Parameters
    ----------
    objective : callable
        ``objective(v) -> scalar tensor`` (differentiable).
    v0 : ndarray
        Starting point.
    maxiter : int
        L-BFGS iterations.

    Returns
    -------
    ndarray
        The minimiser.

    Examples
    --------
    >>> minimise(lambda v: ((v - 3) ** 2).sum(), np.zeros(2)).round(4).tolist()
    [3.0, 3.0]
    """
    def fun(v: np.ndarray) -> tuple[float, np.ndarray]:
        t = torch.from_numpy(v).requires_grad_(True)
        loss = objective(t)
        (g,) = torch.autograd.grad(loss, t)
        return float(loss.detach()), g.numpy().copy()

    res = optimize.minimize(fun, np.asarray(v0, dtype=np.float64), jac=True, method="L-BFGS-B",
                            options={"maxiter": int(maxiter), "gtol": 1e-8})
    return res.x


@dataclass
class BayesLogReg:
    """A Gaussian variational posterior over binary logistic-regression weights (adapter).

    ``predict_logits`` returns the log posterior-predictive probabilities of classes 0 and 1.

    Parameters
    ----------
    mean : ndarray, shape (d + 1,)
        Posterior mean (intercept last).
    scale_tril : ndarray, shape (d + 1, d + 1)
        Cholesky factor of the posterior covariance.
    prior_var : float
        Prior variance of every weight.
    n_samples : int
        Monte-Carlo draws used in training.
    learn_seconds : float
        Training wall time.
    """

    mean: np.ndarray
    scale_tril: np.ndarray
    prior_var: float
    n_samples: int
    learn_seconds: float = 0.0
    format: str = field(default="bayes-logreg", init=False)
    sha256: str | None = field(default=None, init=False)

    def predictive(self, X: np.ndarray) -> np.ndarray:
        """``P(y = 1 | x, D) = E_q[sigmoid(theta . [x, 1])]`` by Gauss-Hermite quadrature.

        Parameters
        ----------
        X : ndarray, shape (n, d)
            Inputs.

        Returns
        -------
        ndarray, shape (n,)
        """
        A = augment(X)
        mu = A @ self.mean
        sd = np.linalg.norm(A @ self.scale_tril, axis=1)
        t, w = _HERMITE
        p = expit(mu[:, None] + np.sqrt(2.0) * sd[:, None] * t[None, :]) @ w / np.sqrt(np.pi)
        return np.clip(p, 1e-12, 1 - 1e-12)

    def predict_logits(self, X: np.ndarray) -> np.ndarray:
        """Log posterior-predictive probabilities of classes 0 and 1.

        Parameters
        ----------
        X : ndarray or DataFrame, shape (n, features)
            Inputs (a DataFrame for a model that takes its features by name).

        Returns
        -------
        ndarray, shape (n, classes)
            Logits or log-probabilities (a regressor: its predictions, ``[n, 1]``).
        """
        p = self.predictive(X)
        return np.stack([np.log1p(-p), np.log(p)], axis=1)

    def parameters(self) -> dict[str, np.ndarray]:
        """The posterior's mean and Cholesky factor.

        Returns
        -------
        dict of str to ndarray or None
            The model's parameters by name, float64 copies (None when it exposes none).
        """
        return {"mean": self.mean.copy(), "scale_tril": self.scale_tril.copy()}


def log_likelihood(theta: torch.Tensor, A: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """``log p(D | theta_s)`` for every sample row of ``theta`` (``s = ±1`` labels).

    Parameters
    ----------
    theta : torch.Tensor, shape (S, d + 1)
        Weight samples.
    A : torch.Tensor, shape (n, d + 1)
        Augmented features (:func:`augment`).
    s : torch.Tensor, shape (n,)
        Labels as ``±1``.

    Returns
    -------
    torch.Tensor, shape (S,)
    """
    return torch.nn.functional.logsigmoid((theta @ A.T) * s[None, :]).sum(dim=1)


@one_thread()
def fit_bayes_logreg(
    X: np.ndarray, y: np.ndarray, n_classes: int, seed: int, *, prior_var: float = 1.0,
    n_samples: int = 256, maxiter: int = 500,
) -> BayesLogReg:
    """Variational inference for Bayesian logistic regression (maximise the MC ELBO).

    Parameters
    ----------
    X, y : arrays
        Features and binary labels ``0 / 1``.
    n_classes : int
        Must be 2.
    seed : int
        Draws the Monte-Carlo base samples.
    prior_var : float
        Variance of the isotropic Gaussian prior (intercept included).
    n_samples : int
        Monte-Carlo samples of the expected log-likelihood.

    Returns
    -------
    BayesLogReg

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2)); y = (X[:, 0] > 0).astype(int)
    >>> q = fit_bayes_logreg(X, y, 2, seed=0)
    >>> bool(q.mean[0] > 1), q.predict_logits(X).shape
    (True, (200, 2))
    """
    if int(n_classes) != 2:
        raise BadInput("training.recipe", f"'bayes-logreg' is binary; got {n_classes} classes")
    t0 = time.perf_counter()
    A = torch.from_numpy(augment(X))
    s = torch.from_numpy(np.where(np.asarray(y) > 0, 1.0, -1.0))
    d = A.shape[1]
    eps = base_draws(seed, n_samples, d)
    prior_L = torch.eye(d, dtype=torch.float64) * float(np.sqrt(prior_var))
    zero = torch.zeros(d, dtype=torch.float64)

    def negative_elbo(v: torch.Tensor) -> torch.Tensor:
        m, L = unpack(v, d)
        theta = m[None, :] + eps @ L.T
        return -log_likelihood(theta, A, s).mean() + gaussian_kl(m, L, zero, prior_L)

    v = minimise(negative_elbo, pack(np.zeros(d), 0.1 * np.eye(d)), maxiter)
    m, L = (a.detach().numpy().copy() for a in unpack(torch.from_numpy(v), d))
    return BayesLogReg(m, L, float(prior_var), int(n_samples), time.perf_counter() - t0)
