"""The one home of the divergences between predictive (or posterior) distributions.

Every KL in the suite reads ``KL(reference || other)``, the reference's distribution first:

* :func:`row_divergences` — per row, from log-probabilities (numpy, float64): KL, Jensen-Shannon,
  total variation and top-1 disagreement; what ``output_divergence`` gates and the method check
  reports (``KL(R || U)``);
* :func:`distillation_kl` — the differentiable batch-mean ``KL(T || S)`` between a teacher's and a
  student's tempered softmax (torch); the knowledge-transfer loss of ``gkt``;
* :func:`gaussian_kl` — ``KL[N(m1, S1) || N(m0, S0)]`` in closed form from Cholesky factors
  (torch); the variational posteriors' term of ``bayes-logreg`` and ``vbu``.

The numpy rows and the torch losses stay separate functions on purpose: the audit's numbers are
float64 per row, the training losses must be differentiable and keep the exact operations the
methods were calibrated with (``torch.nn.functional.kl_div``), so their results do not move.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["row_divergences", "distillation_kl", "gaussian_kl"]


def row_divergences(logp_ref: np.ndarray, logp: np.ndarray) -> dict[str, np.ndarray]:
    """Per-row ``KL(ref || other)``, JS, total variation and top-1 disagreement (nats).

    Parameters
    ----------
    logp_ref : ndarray, shape (n, classes)
        Log-probabilities of the reference distribution (e.g. a retrained model).
    logp : ndarray, shape (n, classes)
        Log-probabilities of the other distribution (e.g. the unlearned model).

    Returns
    -------
    dict of str to ndarray, shape (n,)
        ``kl``, ``js`` (both clipped at 0 against rounding), ``tv`` and ``disagreement``
        (1.0 where the two argmax classes differ).

    Examples
    --------
    >>> a = np.log(np.array([[0.5, 0.5], [0.9, 0.1]]))
    >>> d = row_divergences(a, a[::-1])
    >>> [round(float(v), 4) for v in d["kl"]], d["disagreement"].tolist()
    ([0.5108, 0.3681], [0.0, 0.0])
    """
    p, q = np.exp(logp_ref), np.exp(logp)
    kl = np.einsum("ij,ij->i", p, logp_ref - logp)  # row dot products: no [n, classes] product array
    logm = p + q
    logm *= 0.5
    np.log(np.maximum(logm, 1e-300, out=logm), out=logm)
    js = 0.5 * (np.einsum("ij,ij->i", p, logp_ref - logm) + np.einsum("ij,ij->i", q, logp - logm))
    tv = 0.5 * np.abs(p - q).sum(axis=1)
    dis = (logp_ref.argmax(1) != logp.argmax(1)).astype(np.float64)
    return {"kl": np.maximum(kl, 0.0), "js": np.maximum(js, 0.0), "tv": tv, "disagreement": dis}


def distillation_kl(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """``KL(T || S)`` of the tempered softmaxes, averaged over samples (differentiable).

    Parameters
    ----------
    student, teacher : torch.Tensor, shape (n, classes)
        Logits of the student and of the teacher (gradients flow through both).
    temperature : float
        Both logits are divided by it before the softmax.

    Returns
    -------
    torch.Tensor
        A scalar: ``sum_rows KL(softmax(t / T) || softmax(s / T)) / n``.

    Examples
    --------
    >>> import torch
    >>> t = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    >>> float(distillation_kl(t, t, 1.0)), round(float(distillation_kl(t.flip(1), t, 1.0)), 4)
    (0.0, 0.9927)
    >>> lt, ls = (torch.log_softmax(v.double(), 1).numpy() for v in (t, t.flip(1)))
    >>> round(float(row_divergences(lt, ls)["kl"].mean()), 4)      # the same KL, per row
    0.9927
    """
    import torch.nn.functional as F

    return F.kl_div(F.log_softmax(student / temperature, dim=1), F.log_softmax(teacher / temperature, dim=1),
                    reduction="batchmean", log_target=True)


def gaussian_kl(m1: torch.Tensor, L1: torch.Tensor, m0: torch.Tensor, L0: torch.Tensor) -> torch.Tensor:
    """``KL[N(m1, L1 L1^T) || N(m0, L0 L0^T)]`` in closed form.

    Parameters
    ----------
    m1, L1 : torch.Tensor, shapes (d,) and (d, d)
        Mean and lower-triangular Cholesky factor of the first Gaussian.
    m0, L0 : torch.Tensor, shapes (d,) and (d, d)
        Mean and Cholesky factor of the second (the reference, e.g. the prior).

    Returns
    -------
    torch.Tensor
        The divergence, a scalar (differentiable in all four arguments).

    Examples
    --------
    >>> import torch
    >>> e = torch.eye(2, dtype=torch.float64); z = torch.zeros(2, dtype=torch.float64)
    >>> float(gaussian_kl(z, e, z, e)), float(gaussian_kl(z + 1, e, z, e))
    (0.0, 1.0)
    """
    import torch

    d = len(m1)
    A = torch.linalg.solve_triangular(L0, L1, upper=False)
    b = torch.linalg.solve_triangular(L0, (m0 - m1)[:, None], upper=False)[:, 0]
    logdet = 2 * (torch.log(torch.diagonal(L0)).sum() - torch.log(torch.diagonal(L1)).sum())
    return 0.5 * ((A * A).sum() + b @ b - d + logdet)
