"""The NeurIPS 2023 unlearning challenge estimate of epsilon from many U and R models.

Triantafillou et al. (2024), "Are we making progress in unlearning?": for every forget
example s, a statistic of that example (here any per-model score, e.g. the loss) is
collected from many unlearned models (one run of the method per seed) and many
retrained models. Attacks try to tell the two populations apart; each attack's FPR
and FNR give

    eps_s = max over attacks of max( log((1 - delta - FPR) / FNR),
                                     log((1 - delta - FNR) / FPR) )

(attacks with exactly one of FPR, FNR equal to 0 are discarded; both 0 = perfect
separation = infinite epsilon). The attacks here are every single-threshold rule on
the statistic, in both directions. Examples are binned by epsilon (bin width 0.5,
13 bins) and scored ``h = 2 / 2^bin`` (bin 1 = [0, 0.5) scores 1); the forgetting
quality is the mean of h.

With few models the estimate is **biased upward even for a perfect unlearner** (a
threshold fitted on small samples separates them by chance), so :func:`challenge_estimate`
always reports the same estimate for R vs R (two disjoint halves of the retrained
models) next to U vs R.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["example_epsilons", "forgetting_quality", "ChallengeEstimate", "challenge_estimate"]


def _eps(fpr: np.ndarray, fnr: np.ndarray, delta: float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        e1 = np.log(1.0 - delta - fpr) - np.log(fnr)
        e2 = np.log(1.0 - delta - fnr) - np.log(fpr)
    e = np.fmax(e1, e2)
    e = np.where((fpr == 0) & (fnr == 0), np.inf, e)
    e = np.where((fpr == 0) ^ (fnr == 0), np.nan, e)  # discarded
    return e


def example_epsilons(u: np.ndarray, r: np.ndarray, delta: float = 0.01) -> np.ndarray:
    """Per-example epsilon from ``u [m_u, S]`` and ``r [m_r, S]`` (models x forget examples).

    Parameters
    ----------
    u : ndarray, shape (m_u, S)
        Per-example statistic of the unlearned models (one row per model, one column per forget example).
    r : ndarray, shape (m_r, S)
        The same statistic of the retrained models.
    delta : float
        The ``delta`` of the (epsilon, delta) bound.

    Returns
    -------
    ndarray, shape (S,)
        Epsilon per example (``inf`` where the two groups are perfectly separated).

    Examples
    --------
    >>> u = np.array([[0.0, 5.0], [0.1, 6.0]]); r = np.array([[0.05, 0.0], [0.2, 1.0]])
    >>> example_epsilons(u, r).tolist()[1]   # perfectly separated example
    inf
    """
    u = np.asarray(u, dtype=np.float64)
    r = np.asarray(r, dtype=np.float64)
    out = np.empty(u.shape[1])
    for s in range(u.shape[1]):
        t = np.unique(np.r_[u[:, s], r[:, s]])
        pu = (u[:, s][None, :] > t[:, None]).mean(axis=1)  # predicted "unlearned" among U
        pr = (r[:, s][None, :] > t[:, None]).mean(axis=1)
        fpr, fnr = pr, 1.0 - pu  # "score > t means unlearned"
        e = np.r_[_eps(fpr, fnr, delta), _eps(1.0 - fpr, 1.0 - fnr, delta), 0.0]  # both directions
        out[s] = np.nanmax(e)
    return np.maximum(out, 0.0)


def forgetting_quality(eps: np.ndarray, bin_width: float = 0.5, n_bins: int = 13) -> float:
    """Mean of ``2 / 2^bin(eps)`` over examples (1 = indistinguishable from retraining).

    Parameters
    ----------
    eps : ndarray
        Per-example epsilons (:func:`example_epsilons`).
    bin_width : float
        Width of the epsilon bins.
    n_bins : int
        Number of bins (the last one takes every larger epsilon, ``inf`` included).

    Returns
    -------
    float
        In ``(0, 1]``.
    """
    bins = np.arange(n_bins) * bin_width
    return float(np.mean(2.0 / 2.0 ** np.digitize(np.asarray(eps, float), bins)))


@dataclass
class ChallengeEstimate:
    """U-vs-R and R-vs-R challenge estimates (read U against the R-vs-R floor).

    Parameters
    ----------
    epsilon_u, quality_u : float
        Mean epsilon and forgetting quality of U against R.
    epsilon_rr, quality_rr : float
        The same for one half of the retrains against the other (the floor).
    n_unlearned, n_retrained : int
        Models on each side of the U-vs-R comparison.
    """

    epsilon_u: float  # median per-example epsilon, U vs R
    quality_u: float
    epsilon_rr: float  # the same for two disjoint halves of the retrained models
    quality_rr: float
    n_unlearned: int
    n_retrained: int


def challenge_estimate(
    u: np.ndarray, r: np.ndarray, delta: float = 0.01, seed: int = 0
) -> ChallengeEstimate:
    """The challenge estimate for U vs R, always next to the same estimate for R vs R.

    The R-vs-R estimate splits the retrained models at random into two halves; U is
    compared with the same number of retrained models as each half holds, so both
    estimates have the same small-sample bias.

    Parameters
    ----------
    u : ndarray, shape (m_u, S)
        Per-example statistic of the unlearned models.
    r : ndarray, shape (m_r, S)
        The same of the retrained models (at least 2 rows, split in halves for R vs R).
    delta : float
        The ``delta`` of the bound.
    seed : int
        Seed of the random split of the retrains.

    Returns
    -------
    ChallengeEstimate
    """
    u = np.asarray(u, dtype=np.float64)
    r = np.asarray(r, dtype=np.float64)
    if len(r) < 4 or len(u) < 2:
        raise ValueError("need >= 2 unlearned and >= 4 retrained models")
    perm = np.random.default_rng(seed).permutation(len(r))
    h = len(r) // 2
    ra, rb = r[perm[:h]], r[perm[h : 2 * h]]
    eu = example_epsilons(u[: min(len(u), h)], rb, delta)
    err = example_epsilons(ra, rb, delta)
    return ChallengeEstimate(float(np.median(eu)), forgetting_quality(eu), float(np.median(err)),
                             forgetting_quality(err), int(min(len(u), h)), int(h))
