"""Likelihood-ratio attacks from shadow / reference models (Carlini et al. 2022; Hayes et al. 2024).

All functions take the attack statistic ``phi`` — the logit-scaled confidence
``log p_y - log(1 - p_y)`` of :func:`attacks.population.logit_confidence`, which Carlini
et al. (2022) show is close to Gaussian across shadow models — of the target model
``target [n]`` and of ``k`` shadow models ``shadow [k, n]``, with ``shadow_in [k, n]``
marking which shadow trained on which row. Scores: higher = more member-like.

* **online** LiRA: ``log N(phi; mu_in, s_in^2) - log N(phi; mu_out, s_out^2)`` with the
  per-row mean and spread of the IN and OUT shadows;
* **offline** LiRA: only OUT shadows; the one-sided test ``Pr[Z < phi]`` with
  ``Z ~ N(mu_out, s_out^2)``; returned as the z-score ``(phi - mu_out) / s_out``, a
  monotone transform that keeps resolution in the tail;
* ``fixed_variance=True`` pools one variance over all rows (the paper's choice with few
  shadows); otherwise each row has its own.
* **U-LiRA** (Hayes et al. 2024, per-example unlearning MIA, method mode): the same
  online test where "IN" shadows are models that trained on x and then *unlearned* it
  with the method under audit and "OUT" shadows never saw x (:func:`ulira`).
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

__all__ = ["gaussian_moments", "lira_online", "lira_offline", "ulira"]

_MIN_STD = 1e-6


def gaussian_moments(
    phi: np.ndarray, mask: np.ndarray, fixed_variance: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row mean and std of ``phi [k, n]`` over the shadows where ``mask [k, n]`` is true.

    With ``fixed_variance`` one pooled std (within-row deviations, all rows) is broadcast.
    Raises ``ValueError`` when a row has no selected shadow, or (per-row variance) fewer
    than two.

    Parameters
    ----------
    phi : ndarray, shape (k, n)
        Shadow statistics.
    mask : ndarray of bool, shape (k, n)
        Shadows that count for each row (e.g. the IN or the OUT shadows).
    fixed_variance : bool
        One pooled standard deviation for every row.

    Returns
    -------
    mean, std : ndarray, shape (n,)

    Examples
    --------
    >>> mu, sd = gaussian_moments(np.array([[1.0], [3.0]]), np.ones((2, 1), bool), False)
    >>> mu.tolist(), sd.round(3).tolist()
    ([2.0], [1.414])
    """
    phi = np.asarray(phi, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    cnt = mask.sum(axis=0)
    if np.any(cnt == 0):
        raise ValueError(f"{int((cnt == 0).sum())} rows have no shadow model in this role")
    mu = np.where(mask, phi, 0.0).sum(axis=0) / cnt
    sq = np.where(mask, (phi - mu) ** 2, 0.0)
    if fixed_variance:
        dof = max(int(cnt.sum() - len(cnt)), 1)
        std = np.full(len(cnt), np.sqrt(sq.sum() / dof))
    else:
        if np.any(cnt < 2):
            raise ValueError("per-example variance needs >= 2 shadows per row; use fixed_variance")
        std = np.sqrt(sq.sum(axis=0) / (cnt - 1))
    return mu, np.maximum(std, _MIN_STD)


def lira_online(
    target: np.ndarray, shadow: np.ndarray, shadow_in: np.ndarray, fixed_variance: bool = False
) -> np.ndarray:
    """Online LiRA log likelihood ratio per row (Carlini et al. 2022, Algorithm 1).

    Parameters
    ----------
    target : ndarray, shape (n,)
        The target model's statistic per row (logit-scaled confidence).
    shadow : ndarray, shape (k, n)
        The shadows' statistic.
    shadow_in : ndarray of bool, shape (k, n)
        Shadow ``j`` trained on row ``i``.
    fixed_variance : bool
        Pool one standard deviation over rows (advised for few shadows).

    Returns
    -------
    ndarray, shape (n,)
        Log likelihood ratio IN vs OUT (larger = more member-like).

    Examples
    --------
    >>> sh = np.array([[3.0], [3.2], [0.0], [0.2]]); inn = np.array([[1], [1], [0], [0]])
    >>> bool(lira_online(np.array([3.1]), sh, inn)[0] > 0 > lira_online(np.array([0.1]), sh, inn)[0])
    True
    """
    mask = np.asarray(shadow_in, dtype=bool)
    mu_in, s_in = gaussian_moments(shadow, mask, fixed_variance)
    mu_out, s_out = gaussian_moments(shadow, ~mask, fixed_variance)
    t = np.asarray(target, dtype=np.float64)
    return sps.norm.logpdf(t, mu_in, s_in) - sps.norm.logpdf(t, mu_out, s_out)


def lira_offline(
    target: np.ndarray, shadow: np.ndarray, shadow_in: np.ndarray | None = None,
    fixed_variance: bool = False,
) -> np.ndarray:
    """Offline LiRA: z-score of the target's ``phi`` against the OUT shadows only.

    ``shadow_in=None`` means every shadow is OUT for every row (e.g. retrained references
    scoring forget and test rows, neither of which they trained on).

    Parameters
    ----------
    target : ndarray, shape (n,)
        The target model's statistic per row.
    shadow : ndarray, shape (k, n)
        The shadows' statistic.
    shadow_in : ndarray of bool, shape (k, n), optional
        Shadow ``j`` trained on row ``i`` (those are left out); None: every shadow is OUT.
    fixed_variance : bool
        Pool one standard deviation over rows.

    Returns
    -------
    ndarray, shape (n,)
        One-sided z-score (larger = more member-like).

    Examples
    --------
    >>> float(lira_offline(np.array([2.0]), np.array([[0.0], [1.0], [-1.0]]))[0])
    2.0
    """
    shadow = np.asarray(shadow, dtype=np.float64)
    out = np.ones(shadow.shape, bool) if shadow_in is None else ~np.asarray(shadow_in, dtype=bool)
    mu, s = gaussian_moments(shadow, out, fixed_variance)
    return (np.asarray(target, dtype=np.float64) - mu) / s


def ulira(
    target: np.ndarray, unlearned_shadows: np.ndarray, retrained_shadows: np.ndarray,
    fixed_variance: bool = False,
) -> np.ndarray:
    """U-LiRA (Hayes et al. 2024): is ``target`` an unlearned model (positive) or a retrain?

    ``unlearned_shadows [k1, n]``: ``phi`` of shadows that trained on row x and then
    unlearned it with the audited method; ``retrained_shadows [k0, n]``: shadows never
    trained on x. Returns the per-row Gaussian log likelihood ratio; the attack's AUC
    over targets of both kinds measures how distinguishable the method is from retraining.

    Parameters
    ----------
    target : ndarray, shape (n,)
        The target model's statistic per row.
    unlearned_shadows : ndarray, shape (k1, n)
        Shadows that trained on the rows and unlearned them with the audited method.
    retrained_shadows : ndarray, shape (k0, n)
        Shadows that never trained on them.
    fixed_variance : bool
        Pool one standard deviation over rows.

    Returns
    -------
    ndarray, shape (n,)
        Per-row log likelihood ratio "unlearned" vs "retrained".

    Examples
    --------
    >>> u = np.array([[2.0], [2.2]]); r = np.array([[0.0], [0.2]])
    >>> bool(ulira(np.array([2.1]), u, r)[0] > 0 > ulira(np.array([0.1]), u, r)[0])
    True
    """
    sh = np.concatenate([np.asarray(unlearned_shadows, float), np.asarray(retrained_shadows, float)])
    mask = np.zeros(sh.shape, bool)
    mask[: len(unlearned_shadows)] = True
    return lira_online(target, sh, mask, fixed_variance)
