"""Method-mode attacks that need many seeds: leave-one-seed-out U-LiRA and the challenge epsilon.

Both read the forget rows' logit-scaled confidence ``phi = log p_y - log(1 - p_y)``
(:func:`attacks.population.logit_confidence`) of every seed's unlearned model ``U_s`` and
retrained model ``R_s``, stacked as ``[n_seeds, n_forget]`` arrays.

* **U-LiRA** (Hayes et al. 2024): for each seed ``i`` the targets are ``U_i`` (positive)
  and ``R_i`` (negative); the shadows are ``U_j`` ("trained on x, then unlearned it") and
  ``R_j`` ("never saw x") for every other seed ``j``. Each row is scored with the Gaussian
  likelihood ratio of :func:`attacks.lira.ulira`; the AUC of ``U_i``'s rows against
  ``R_i``'s, averaged over seeds, is 0.5 when U cannot be told from a retrain. The forget set is unlearned as a whole per seed,
  not one example at a time as in Hayes' per-example game, so this is a set-level
  variant of their attack.
* **Challenge epsilon** (Triantafillou et al. 2024, NeurIPS 2023 unlearning challenge):
  :func:`attacks.challenge.challenge_estimate` on the same arrays; the U-vs-R median
  epsilon is read against the R-vs-R median epsilon, which is biased upward by the small
  number of models exactly as U-vs-R is. Reported, not gated.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from attacks.challenge import challenge_estimate
from attacks.lira import ulira
from attacks.metrics import auc
from audit.core.results import Metric

__all__ = [
    "ULIRA_MIN_SEEDS",
    "CHALLENGE_MIN_SEEDS",
    "FIXED_VARIANCE_BELOW",
    "loso_ulira_scores",
    "per_seed_auc",
    "jackknife_se",
    "ulira_metric",
    "challenge_metrics",
]

ULIRA_MIN_SEEDS = 3  # leave-one-out keeps >= 2 shadows per side, enough for a variance
CHALLENGE_MIN_SEEDS = 4  # challenge_estimate splits the retrains into two halves of >= 2
FIXED_VARIANCE_BELOW = 16  # shadows per side; Carlini et al. (2022) pool the variance below this


def loso_ulira_scores(
    phi_u: np.ndarray, phi_r: np.ndarray, fixed_variance: bool | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-seed-out U-LiRA scores of every seed's U and R on the forget rows.

    Parameters
    ----------
    phi_u, phi_r : ndarray, shape (n_seeds, n_forget)
        Logit-scaled confidence of each seed's unlearned / retrained model per forget row.
    fixed_variance : bool, optional
        Pool one variance over all rows. Default: when fewer than
        :data:`FIXED_VARIANCE_BELOW` shadows per side remain (``n_seeds - 1``).

    With two seeds one shadow per side remains and the pooled variance is zero (floored):
    the score then ranks rows by which shadow the target is nearer, which the jackknife
    of a three-seed run uses; :func:`ulira_metric` itself needs >= 3 seeds.

    Returns
    -------
    score_u, score_r : ndarray, shape (n_seeds, n_forget)
        Log likelihood ratio "unlearned" vs "never saw x" of ``U_i`` and ``R_i``, each
        scored against the shadows of the other seeds only. Higher = more U-like.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> su, sr = loso_ulira_scores(rng.normal(3, 1, (4, 50)), rng.normal(0, 1, (4, 50)))
    >>> bool(per_seed_auc(su, sr).min() > 0.95)
    True
    """
    pu, pr = np.asarray(phi_u, np.float64), np.asarray(phi_r, np.float64)
    if pu.shape != pr.shape or pu.ndim != 2:
        raise ValueError(f"phi_u {pu.shape} and phi_r {pr.shape} must be equal [n_seeds, n_rows]")
    k = len(pu)
    if k < 2:
        raise ValueError(f"leave-one-seed-out U-LiRA needs >= 2 seeds, got {k}")
    fixed = (k - 1) < FIXED_VARIANCE_BELOW if fixed_variance is None else bool(fixed_variance)
    su, sr = np.empty_like(pu), np.empty_like(pr)
    for i in range(k):
        keep = np.arange(k) != i
        su[i] = ulira(pu[i], pu[keep], pr[keep], fixed)
        sr[i] = ulira(pr[i], pu[keep], pr[keep], fixed)
    return su, sr


def per_seed_auc(score_u: np.ndarray, score_r: np.ndarray) -> np.ndarray:
    """AUC of ``U_i``'s row scores (positive) against ``R_i``'s (negative), one per seed.

    Parameters
    ----------
    score_u : ndarray, shape (k, n)
        Row scores of each seed's unlearned model (positives).
    score_r : ndarray, shape (k, m)
        Row scores of each seed's retrain (negatives).

    Returns
    -------
    ndarray, shape (k,)

    Examples
    --------
    >>> per_seed_auc(np.array([[0.9, 0.8]]), np.array([[0.1, 0.85]])).tolist()
    [0.75]
    """
    su, sr = np.asarray(score_u, np.float64), np.asarray(score_r, np.float64)
    labels = np.r_[np.ones(su.shape[1]), np.zeros(sr.shape[1])]
    return np.array([auc(np.r_[su[i], sr[i]], labels) for i in range(len(su))])


def _loso_auc(phi_u: np.ndarray, phi_r: np.ndarray) -> float:
    return float(per_seed_auc(*loso_ulira_scores(phi_u, phi_r)).mean())


def jackknife_se(phi_u: np.ndarray, phi_r: np.ndarray) -> float:
    """Delete-one-seed jackknife standard error of the leave-one-seed-out mean AUC.

    Each replicate drops one seed's U and R and reruns the whole leave-one-seed-out
    attack, so the error includes what the seeds share: every target is scored by the
    same pool of shadows, which makes the per-seed AUCs positively correlated (a t
    interval over them failed an exact retrain in 15-20 % of simulated runs when
    model-to-model offsets dominate, against <= 4 % for this jackknife).

    Parameters
    ----------
    phi_u, phi_r : ndarray, shape (k, n)
        Per-seed statistics of the unlearned models and of the retrains on the forget rows.

    Returns
    -------
    float
    """
    k = len(phi_u)
    loo = np.array([_loso_auc(np.delete(phi_u, m, 0), np.delete(phi_r, m, 0)) for m in range(k)])
    return float(np.sqrt((k - 1) / k * ((loo - loo.mean()) ** 2).sum()))


def ulira_metric(phi_u: np.ndarray, phi_r: np.ndarray, alpha: float = 0.05) -> Metric:
    """The ``ulira_auc`` metric on the forget split: reported, no status.

    Value = mean over seeds of the per-seed AUC (``U_i`` vs ``R_i`` on the forget rows,
    scored by the other seeds' shadows). CI = value +- t(k - 1) x the delete-one-seed
    jackknife error (:func:`jackknife_se`) at level ``1 - 2 * alpha``: the model of each
    seed is the unit that varies most. ``n`` counts seeds. It has no value per retrained
    reference, so the decision kernel cannot score it against the retrain distribution:
    like every such method-level detector it is reported without a status (decision
    record 0006); the method's gated metrics decide. Fewer than :data:`ULIRA_MIN_SEEDS`
    seeds: no value.

    Parameters
    ----------
    phi_u, phi_r : ndarray, shape (k, n)
        Per-seed statistics of the unlearned models and of the retrains.
    alpha : float
        Level of the interval.

    Returns
    -------
    Metric

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> m = ulira_metric(rng.normal(3, 1, (4, 50)), rng.normal(0, 1, (4, 50)))
    >>> m.value > 0.9, m.status, m.comparator
    (True, None, 'info')
    """
    pu, pr = np.asarray(phi_u, np.float64), np.asarray(phi_r, np.float64)
    k, n_rows = pu.shape
    if k < ULIRA_MIN_SEEDS:
        return Metric("ulira_auc", "forget", None, reference=0.5, comparator="info", n=k,
                      note=f"U-LiRA needs >= {ULIRA_MIN_SEEDS} seeds (leave-one-seed-out keeps >= 2 shadow "
                           f"models per side); this run has {k}: run {ULIRA_MIN_SEEDS - k} more")
    aucs = per_seed_auc(*loso_ulira_scores(pu, pr))
    auc = float(aucs.mean())
    half = float(sps.t.ppf(1.0 - alpha, k - 1) * jackknife_se(pu, pr))
    ci = (max(auc - half, 0.0), min(auc + half, 1.0))
    fixed = (k - 1) < FIXED_VARIANCE_BELOW
    note = (f"U-LiRA (Hayes et al. 2024), leave-one-seed-out: each seed's U (positive) and R (negative) "
            f"scored on the {n_rows} forget rows against the other {k - 1} seeds' U (trained on the forget "
            f"set, then unlearned) and R (never saw it); phi = logit-scaled confidence; "
            + ("fixed (pooled) variance, as Carlini et al. advise below 16 shadows per side"
               if fixed else "per-row variance") + ". "
            "The forget set is unlearned as a whole per seed, not one example at a time as in Hayes' "
            "per-example game. 0.5 = indistinguishable from a retrain. Per-seed AUCs "
            f"{', '.join(f'{a:.3f}' for a in aucs)}; CI: t x delete-one-seed jackknife; n counts seeds. "
            "Reported, no status: it has no value per retrained reference for the decision kernel.")
    return Metric("ulira_auc", "forget", auc, ci=ci, reference=0.5, delta=auc - 0.5,
                  delta_ci=(ci[0] - 0.5, ci[1] - 0.5), comparator="info", n=k, note=note)


def challenge_metrics(phi_u: np.ndarray, phi_r: np.ndarray, seed: int = 0,
                      delta: float = 0.01) -> list[Metric]:
    """``challenge_epsilon`` and ``challenge_quality`` (both ``info``) on the forget split.

    ``challenge_epsilon``: median per-example epsilon of U vs R, reference = the same for
    R vs R (two disjoint halves of the retrains). An infinite epsilon (the median forget
    row perfectly separated by a threshold) serialises as ``null``; the note says so.
    ``challenge_quality``: the challenge's forgetting quality (mean of ``2 / 2^bin``;
    1 = like a retrain), always finite, U vs R against R vs R. Fewer than
    :data:`CHALLENGE_MIN_SEEDS` seeds: no values, a note saying how many are needed.

    Parameters
    ----------
    phi_u, phi_r : ndarray, shape (k, n)
        Per-seed statistics of the unlearned models and of the retrains.
    seed : int
        Seed of the retrains' random halves.
    delta : float
        The challenge's ``delta``.

    Returns
    -------
    list of Metric
    """
    pu, pr = np.asarray(phi_u, np.float64), np.asarray(phi_r, np.float64)
    k, n = pu.shape
    if k < CHALLENGE_MIN_SEEDS:
        note = (f"NeurIPS-2023 challenge estimate needs >= {CHALLENGE_MIN_SEEDS} seeds (R vs R compares "
                f"two halves of >= 2 retrains); this run has {k}: run {CHALLENGE_MIN_SEEDS - k} more")
        return [Metric(name, "forget", None, comparator="info", n=n, note=note)
                for name in ("challenge_epsilon", "challenge_quality")]
    est = challenge_estimate(pu, pr, delta=delta, seed=seed)

    def show(e: float) -> str:
        return "inf (perfectly separated)" if np.isinf(e) else f"{e:.3g}"

    setup = (f"Triantafillou et al. 2024 (NeurIPS-2023 unlearning challenge): per forget row, every threshold "
             f"on phi in both directions, eps = max log((1 - delta - FPR) / FNR), delta = {delta:g}; "
             f"{est.n_unlearned} U vs {est.n_retrained} R models; reference = {est.n_retrained} R vs "
             f"{est.n_retrained} other R, which has the same small-sample upward bias. ")
    eps_note = (setup + f"Median eps U vs R {show(est.epsilon_u)}, R vs R {show(est.epsilon_rr)}; forgetting "
                f"quality U {est.quality_u:.3f}, R vs R {est.quality_rr:.3f}. Thresholds on phi and on the "
                "loss give the same epsilon. Context only: with this few models epsilon is coarse.")
    gap = est.epsilon_u - est.epsilon_rr
    return [
        Metric("challenge_epsilon", "forget", est.epsilon_u, reference=est.epsilon_rr,
               delta=gap if np.isfinite(gap) else None, comparator="info", n=n, note=eps_note),
        Metric("challenge_quality", "forget", est.quality_u, reference=est.quality_rr,
               delta=est.quality_u - est.quality_rr, comparator="info", n=n,
               note="forgetting quality, mean of 2 / 2^bin(eps) over forget rows (bins of 0.5); "
                    "1 = indistinguishable from a retrain; read against the R-vs-R reference"),
    ]
