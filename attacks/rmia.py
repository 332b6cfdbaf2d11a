"""RMIA: robust membership inference by pairwise likelihood ratios (Zarifzadeh et al. 2024).

For a target model theta and a row x, with population rows z (known non-members):

    LR(x, z) = [Pr(x | theta) / Pr(x)] / [Pr(z | theta) / Pr(z)]
    Score(x) = Pr_z[ LR(x, z) >= gamma ]

``Pr(. | theta)`` is the target's probability of the true label; ``Pr(x)`` is the
average of the same over reference models. Online (``a=None``): average over IN and
OUT references. Offline (only OUT references): the paper's linear approximation
``Pr(x) = 1/2 ((1 + a) Pr_OUT(x) + (1 - a))``, with ``a`` tuned on a reference model.
Both ``a`` and ``gamma`` are exposed. The pairwise comparison of N rows against M
population rows is done in chunks of rows so memory is ``O(chunk * M)``, flat in N;
``method="sort"`` computes the same counts with a sorted search in ``O((N+M) log M)``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["marginal_probability", "rmia_scores"]


def marginal_probability(p_ref: np.ndarray, a: float | None = None) -> np.ndarray:
    """``Pr(x)`` from reference probabilities ``p_ref [k, n]`` (online mean, or offline with ``a``).

    Parameters
    ----------
    p_ref : ndarray, shape (k, n)
        ``Pr(x | reference model)`` of each reference model.
    a : float, optional
        Offline RMIA's linear correction (references that are all OUT); None: the plain mean.

    Returns
    -------
    ndarray, shape (n,)

    Examples
    --------
    >>> marginal_probability(np.array([[0.2, 0.4], [0.4, 0.6]])).round(3).tolist()
    [0.3, 0.5]
    """
    p = np.asarray(p_ref, dtype=np.float64).mean(axis=0)
    if a is None:
        return p
    return 0.5 * ((1.0 + a) * p + (1.0 - a))


def rmia_scores(
    p_target_x: np.ndarray,
    p_ref_x: np.ndarray,
    p_target_z: np.ndarray,
    p_ref_z: np.ndarray,
    gamma: float = 1.0,
    a: float | None = None,
    chunk: int = 512,
    method: str = "chunked",
) -> np.ndarray:
    """RMIA score per row of x: the fraction of population rows z it dominates by ``gamma``.

    Parameters
    ----------
    p_target_x, p_target_z : ndarray [n], [m]
        Target model's probability of the true label on x and on z.
    p_ref_x, p_ref_z : ndarray [k, n], [k, m]
        The same for the reference models.
    gamma : float
        Likelihood-ratio threshold (>= 1 in the paper).
    a : float or None
        Offline scaling of ``Pr(x)``; ``None`` = online (IN and OUT references).
    chunk : int
        Rows of x compared at once (memory ``chunk * m`` booleans).
    method : {"chunked", "sort"}
        Pairwise comparisons in chunks, or an equivalent sorted search.

    Returns
    -------
    ndarray, shape (n,)
        In ``[0, 1]``; larger = more member-like.

    Examples
    --------
    >>> s = rmia_scores(np.array([0.9, 0.5]), np.array([[0.5, 0.5]]), np.array([0.5, 0.5]),
    ...                 np.array([[0.5, 0.5]]), gamma=1.5)
    >>> s.tolist()
    [1.0, 0.0]
    """
    eps = 1e-300
    rx = np.asarray(p_target_x, float) / np.maximum(marginal_probability(p_ref_x, a), eps)
    rz = np.asarray(p_target_z, float) / np.maximum(marginal_probability(p_ref_z, a), eps)
    m = len(rz)
    if m == 0:
        raise ValueError("RMIA needs population rows z")
    if method == "sort":
        # LR(x, z) >= gamma  <=>  rz <= rx / gamma
        return np.searchsorted(np.sort(rz), rx / gamma, side="right") / m
    if method != "chunked":
        raise ValueError(f"unknown method {method!r}")
    out = np.empty(len(rx))
    for s in range(0, len(rx), int(chunk)):
        block = rx[s : s + chunk, None] / np.maximum(rz[None, :], eps)
        out[s : s + chunk] = np.count_nonzero(block >= gamma, axis=1) / m
    return out
