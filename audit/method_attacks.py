"""Method-mode attacks that need many seeds: leave-one-seed-out U-LiRA and the challenge epsilon.

Both read the forget rows' logit-scaled confidence ``phi = log p_y - log(1 - p_y)``
(:func:`attacks.population.logit_confidence`) of every seed's unlearned model ``U_s`` and
retrained model ``R_s``, stacked as ``[n_seeds, n_forget]`` arrays.

* **U-LiRA** (Hayes et al. 2024): for each seed ``i`` the targets are ``U_i`` (positive)
  and ``R_i`` (negative); the shadows are ``U_j`` ("trained on x, then unlearned it") and
  ``R_j`` ("never saw x") for every other seed ``j``. Each row is scored with the Gaussian
  likelihood ratio of :func:`attacks.lira.ulira`; the AUC over all targets' rows is 0.5
  when U cannot be told from a retrain. The forget set is unlearned as a whole per seed,
  not one example at a time as in Hayes' per-example game, so this is a set-level
  variant of their attack.
* **Challenge epsilon** (Triantafillou et al. 2024, NeurIPS 2023 unlearning challenge):
  :func:`attacks.challenge.challenge_estimate` on the same arrays; the U-vs-R median
  epsilon is read against the R-vs-R median epsilon, which is biased upward by the small
  number of models exactly as U-vs-R is. Reported, not gated.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats as sps

from attacks.challenge import challenge_estimate
from attacks.lira import ulira
from audit.results import Metric
from audit.stats import bootstrap_stat, ci_level, equivalence_status, n_to_settle

__all__ = [
    "ULIRA_MIN_SEEDS",
    "CHALLENGE_MIN_SEEDS",
    "FIXED_VARIANCE_BELOW",
    "loso_ulira_scores",
    "paired_auc",
    "ulira_metric",
    "challenge_metric",
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

    Returns
    -------
    score_u, score_r : ndarray, shape (n_seeds, n_forget)
        Log likelihood ratio "unlearned" vs "never saw x" of ``U_i`` and ``R_i``, each
        scored against the shadows of the other seeds only. Higher = more U-like.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> su, sr = loso_ulira_scores(rng.normal(3, 1, (4, 50)), rng.normal(0, 1, (4, 50)))
    >>> bool(paired_auc(su, sr) > 0.95)
    True
    """
    pu, pr = np.asarray(phi_u, np.float64), np.asarray(phi_r, np.float64)
    if pu.shape != pr.shape or pu.ndim != 2:
        raise ValueError(f"phi_u {pu.shape} and phi_r {pr.shape} must be equal [n_seeds, n_rows]")
    k = len(pu)
    if k < ULIRA_MIN_SEEDS:
        raise ValueError(f"leave-one-seed-out U-LiRA needs >= {ULIRA_MIN_SEEDS} seeds, got {k}")
    fixed = (k - 1) < FIXED_VARIANCE_BELOW if fixed_variance is None else bool(fixed_variance)
    su, sr = np.empty_like(pu), np.empty_like(pr)
    for i in range(k):
        keep = np.arange(k) != i
        su[i] = ulira(pu[i], pu[keep], pr[keep], fixed)
        sr[i] = ulira(pr[i], pu[keep], pr[keep], fixed)
    return su, sr


def _auc_rows(score_u: np.ndarray, score_r: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """AUC (Mann-Whitney, ties averaged) for each resample of rows ``idx [b, n]``."""
    b = len(idx)
    pos = score_u[:, idx].transpose(1, 0, 2).reshape(b, -1)  # each row keeps its U and R scores
    neg = score_r[:, idx].transpose(1, 0, 2).reshape(b, -1)
    n1, n0 = pos.shape[1], neg.shape[1]
    ranks = sps.rankdata(np.concatenate([pos, neg], axis=1), axis=1)
    return (ranks[:, :n1].sum(axis=1) - n1 * (n1 + 1) / 2.0) / (n1 * n0)


def paired_auc(score_u: np.ndarray, score_r: np.ndarray) -> float:
    """AUC of U's scores (positive) against R's (negative), pooled over seeds and rows.

    Identical to ``sklearn.metrics.roc_auc_score`` on the flattened arrays.
    """
    su, sr = np.asarray(score_u, np.float64), np.asarray(score_r, np.float64)
    return float(_auc_rows(su, sr, np.arange(su.shape[1])[None, :])[0])


def ulira_metric(phi_u: np.ndarray, phi_r: np.ndarray, margin: float, ctx: Any) -> Metric:
    """The ``ulira_auc`` metric on the forget split: AUC vs 0.5, TOST with ``margin``.

    The CI is a percentile bootstrap over forget rows (each resampled row keeps its
    U and R scores of every seed) at level ``1 - 2 * ctx.alpha``; ``ctx`` also gives
    ``rng`` and ``n_boot``. Fewer than :data:`ULIRA_MIN_SEEDS` seeds: inconclusive.
    """
    pu, pr = np.asarray(phi_u, np.float64), np.asarray(phi_r, np.float64)
    k, n = pu.shape
    if k < ULIRA_MIN_SEEDS:
        return Metric("ulira_auc", "forget", None, reference=0.5, margin=margin, comparator="two_sided", n=n,
                      status="inconclusive",
                      note=f"U-LiRA needs >= {ULIRA_MIN_SEEDS} seeds (leave-one-seed-out keeps >= 2 shadow "
                           f"models per side); this run has {k}: run {ULIRA_MIN_SEEDS - k} more")
    su, sr = loso_ulira_scores(pu, pr)
    auc = paired_auc(su, sr)
    reps = bootstrap_stat(lambda idx: _auc_rows(su, sr, idx), n, ctx.n_boot, ctx.rng, width=2 * k)
    tail = (1.0 - ci_level(ctx.alpha)) / 2.0
    lo, hi = (float(x) for x in np.quantile(reps, [tail, 1.0 - tail]))
    dci = (lo - 0.5, hi - 0.5)
    status = equivalence_status(dci, margin, "two_sided")
    settle = n_to_settle(auc - 0.5, dci, n, margin, "two_sided") if status == "inconclusive" else None
    fixed = (k - 1) < FIXED_VARIANCE_BELOW
    note = (f"U-LiRA (Hayes et al. 2024), leave-one-seed-out: each seed's U (positive) and R (negative) "
            f"scored against the other {k - 1} seeds' U (trained on the forget set, then unlearned) and R "
            f"(never saw it); phi = logit-scaled confidence; "
            + ("fixed (pooled) variance, as Carlini et al. advise below 16 shadows per side"
               if fixed else "per-row variance") + ". "
            "The forget set is unlearned as a whole per seed, not per example as in Hayes' per-example "
            "game. 0.5 = indistinguishable from a retrain. CI: bootstrap over forget rows "
            "(seed-to-seed variation beyond these models is not in it); n_to_settle counts forget rows.")
    return Metric("ulira_auc", "forget", auc, ci=(lo, hi), reference=0.5, delta=auc - 0.5, delta_ci=dci,
                  margin=margin, comparator="two_sided", n=n, status=status, n_to_settle=settle, note=note)


def challenge_metric(phi_u: np.ndarray, phi_r: np.ndarray, seed: int = 0,
                     delta: float = 0.01) -> tuple[Metric, float | None]:
    """The ``challenge_epsilon`` metric (info) and U's forgetting quality for the table.

    Value = median per-example epsilon of U vs R, reference = the same for R vs R
    (two disjoint halves of the retrains). Infinite epsilon (a forget row perfectly
    separated by a threshold) serialises as ``null``; the note says so. Fewer than
    :data:`CHALLENGE_MIN_SEEDS` seeds: no value, a note saying how many are needed.
    """
    pu, pr = np.asarray(phi_u, np.float64), np.asarray(phi_r, np.float64)
    k, n = pu.shape
    if k < CHALLENGE_MIN_SEEDS:
        return Metric("challenge_epsilon", "forget", None, comparator="info", n=n,
                      note=f"NeurIPS-2023 challenge epsilon needs >= {CHALLENGE_MIN_SEEDS} seeds "
                           f"(R vs R compares two halves of >= 2 retrains); this run has {k}"), None
    est = challenge_estimate(pu, pr, delta=delta, seed=seed)

    def show(e: float) -> str:
        return "inf (perfectly separated)" if np.isinf(e) else f"{e:.3g}"

    note = (f"Triantafillou et al. 2024 (NeurIPS-2023 unlearning challenge): per forget row, every threshold "
            f"on phi in both directions, eps = max log((1 - delta - FPR) / FNR), delta = {delta:g}; "
            f"{est.n_unlearned} U vs {est.n_retrained} R models, reference = {est.n_retrained} R vs "
            f"{est.n_retrained} other R (same small-sample upward bias). Median eps U vs R {show(est.epsilon_u)}, "
            f"R vs R {show(est.epsilon_rr)}; forgetting quality (1 = like a retrain) U {est.quality_u:.3f}, "
            f"R vs R {est.quality_rr:.3f}. Thresholds on phi and on the loss give the same epsilon. "
            "Context only: with this few models epsilon is coarse, so it does not gate.")
    metric = Metric("challenge_epsilon", "forget", est.epsilon_u, reference=est.epsilon_rr,
                    delta=est.epsilon_u - est.epsilon_rr if np.isfinite(est.epsilon_u - est.epsilon_rr) else None,
                    comparator="info", n=n, note=note)
    return metric, est.quality_u
