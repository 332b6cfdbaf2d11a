"""VBU: variational Bayesian unlearning (Nguyen, Low & Jaillet, NeurIPS 2020).

Q. P. Nguyen, B. K. H. Low, P. Jaillet, "Variational Bayesian Unlearning", NeurIPS 2020
(arXiv:2010.12883), Sec. 3. With ``D = D_r ∪ D_e``, Bayes' rule gives
``p(theta | D_r) ∝ p(theta | D) / p(D_e | theta)``. Minimising
``KL[q_u(theta | D_r) || p(theta | D_r)]`` over a variational family is equivalent to
minimising the paper's **evidence upper bound** (EUBO)

``U = E_{q_u}[log p(D_e | theta)] + KL[q_u(theta | D_r) || p(theta | D)]  >=  log p(D_e | D_r)``

— the first term unlearns ``D_e``, the second keeps what the full-data posterior knew
(no catastrophic unlearning). Only the *approximate* ``q(theta | D)`` from VI is available,
so it stands in for ``p(theta | D)`` (``variant="eubo"``). The paper's first trick, the
**adjusted likelihood** (``variant="adjusted"``), replaces ``p(D_e | theta)`` by

``p~(D_e | theta; lambda) = p(D_e | theta)  if q(theta | D) > lambda * max_theta q(theta | D),  else 1``

so ``D_e`` is only unlearned where the full-data posterior has mass; ``lambda = 0`` is the
plain EUBO and ``lambda = 1`` leaves nothing to unlearn (``q_u = q(theta | D)``: the no-op).
For a Gaussian ``q(theta | D) = N(m, S)`` the condition is the Mahalanobis ball
``(theta - m)^T S^{-1} (theta - m) < -2 log lambda``.

Both variants use the same Monte-Carlo reparameterisation and L-BFGS as the training
recipe (:mod:`audit.training.bayes_logreg`), start from ``q(theta | D)`` and never read the
retained rows. (The paper's second trick, a reverse-KL objective, is not implemented.)
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch

from audit.core.divergence import gaussian_kl
from audit.core.torch_threads import one_thread
from audit.lab.methods.base import Data
from audit.shared.errors import BadInput
from audit.training.bayes_logreg import (
    BayesLogReg,
    augment,
    base_draws,
    log_likelihood,
    minimise,
    pack,
    unpack,
)

__all__ = ["vbu", "VARIANTS"]

VARIANTS = ("eubo", "adjusted")


def _lambda(variant: str, lam: float | None) -> float:
    if variant not in VARIANTS:
        raise BadInput("method.variant", f"must be one of {list(VARIANTS)}, got {variant!r}")
    if variant == "eubo":
        if lam not in (None, 0, 0.0):
            raise BadInput("method.lam", "the plain EUBO has no lambda (it is lambda = 0); use variant='adjusted'")
        return 0.0
    lam = 1e-3 if lam is None else float(lam)
    if not 0.0 <= lam <= 1.0:
        raise BadInput("method.lam", f"lambda must lie in [0, 1], got {lam}")
    return lam


@one_thread()
def vbu(
    model: Any, forget: Data, retain: Data, recipe: Any, seed: int, *, variant: str = "eubo",
    lam: float | None = None, n_samples: int | None = None, maxiter: int = 500,
) -> BayesLogReg:
    """Unlearn ``forget`` from a :class:`~audit.training.bayes_logreg.BayesLogReg` posterior by the EUBO.

    Parameters
    ----------
    model : BayesLogReg
        ``q(theta | D)`` from the ``bayes-logreg`` recipe.
    forget : (X, y)
        ``D_e``, whose likelihood is unlearned. ``retain`` is not read.
    variant : {"eubo", "adjusted"}
        The plain EUBO (``lambda = 0``) or the adjusted likelihood with ``lam``.
    lam : float, optional
        The adjusted likelihood's ``lambda`` in ``[0, 1]`` (default 1e-3).
    n_samples : int, optional
        Monte-Carlo samples (default: the model's own).

    Returns
    -------
    BayesLogReg
        The posterior after the forget rows are unlearned.

    Examples
    --------
    >>> from audit.training.bayes_logreg import fit_bayes_logreg
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(120, 2)); y = (X[:, 0] > 0).astype(int)
    >>> q = fit_bayes_logreg(X, y, 2, seed=0)
    >>> u = vbu(q, (X[:20], y[:20]), (X[20:], y[20:]), None, seed=1)
    >>> bool(np.abs(u.mean - q.mean).max() > 0), u.extra["lambda"]
    (True, 0.0)
    """
    if not isinstance(model, BayesLogReg):
        raise BadInput("method", f"'vbu' needs a Bayesian logistic regression (recipe 'bayes-logreg'); "
                       f"got {type(model).__name__}")
    lam = _lambda(variant, lam)
    t0 = time.perf_counter()
    A = torch.from_numpy(augment(forget[0]))
    s = torch.from_numpy(np.where(np.asarray(forget[1]) > 0, 1.0, -1.0))
    d = A.shape[1]
    eps = base_draws(seed, n_samples or model.n_samples, d)
    m_full, L_full = torch.from_numpy(model.mean), torch.from_numpy(model.scale_tril)
    radius2 = math.inf if lam == 0.0 else -2.0 * math.log(lam)  # lambda = 1: radius 0, nothing inside
    inside = {"share": 1.0}

    def eubo(v: torch.Tensor) -> torch.Tensor:
        m, L = unpack(v, d)
        theta = m[None, :] + eps @ L.T
        loglik = log_likelihood(theta, A, s)
        if lam > 0.0:  # the adjusted likelihood: 1 (log 0) outside the ball of q(theta | D)
            z = torch.linalg.solve_triangular(L_full, (theta - m_full[None, :]).T, upper=False)
            keep = ((z * z).sum(dim=0) < radius2).to(loglik.dtype)
            inside["share"] = float(keep.mean())
            loglik = loglik * keep
        return loglik.mean() + gaussian_kl(m, L, m_full, L_full)

    v = minimise(eubo, pack(model.mean, model.scale_tril), maxiter)
    m, L = (a.detach().numpy().copy() for a in unpack(torch.from_numpy(v), d))
    out = BayesLogReg(m, L, model.prior_var, model.n_samples, model.learn_seconds)
    out.extra = {"learn_seconds": float(model.learn_seconds), "lambda": lam,  # type: ignore[attr-defined]
                 "unlearn_seconds": time.perf_counter() - t0, "samples_in_region": inside["share"]}
    # what VBU keeps to unlearn: the full-data posterior q(theta | D) it starts from (mean + Cholesky factor)
    out.storage_bytes = int(model.mean.nbytes + model.scale_tril.nbytes)  # type: ignore[attr-defined]
    return out
