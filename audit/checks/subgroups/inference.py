"""Per-group deltas (U − O, U − R) with within-group bootstrap CIs and paired exact tests.

For every group and metric the per-row paired difference ``d = u − r`` is formed on the
same rows (``r`` averaged over the references). Its mean is the delta; its percentile
bootstrap CI resamples rows *within* the group (at the TOST level ``1 − 2α``). The paired
test is

* accuracy / FNR / FPR — an exact sign test on the non-zero ``d`` (with one reference this
  is exactly McNemar's exact test on the discordant pairs, equal to ``audit.core.stats.exact_mcnemar``);
* loss — the Wilcoxon signed-rank test (``scipy.stats.wilcoxon``).

Raw p-values are adjusted across every group × metric of one comparison: Holm (used by
the gate) and Benjamini–Hochberg (reported).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.stats as sps

from audit.checks.subgroups.slices import Slice
from audit.core.stats import (
    benjamini_hochberg,
    bootstrap_mean_ci,
    ci_level,
    holm,
)

__all__ = ["GroupTest", "paired_rows", "compare_groups", "HARM_SIGN", "sign_test", "within_group_ci"]

# +1: larger is worse (loss, error rates); -1: smaller is worse (accuracy).
HARM_SIGN = {"accuracy": -1, "loss": 1, "fnr": 1, "fpr": 1}


@dataclass
class GroupTest:
    """One group × metric × comparison, with raw and adjusted p-values side by side.

    Parameters
    ----------
    slice : dict
        The group.
    metric, comparison : str
        ``accuracy`` / ``loss`` / ``fnr`` / ``fpr``; ``U-R`` or ``U-O``.
    n : int
        Rows.
    value, reference, delta : float or None
        U's value, the reference's, their difference.
    ci : (float, float) or None
        Bootstrap CI of ``delta``.
    p_value : float or None
        Exact paired test.
    test : str
        Its name.
    **fields
        Adjusted p-values, margin, status and notes (see the attributes).
    """

    slice: Slice
    metric: str
    comparison: str  # "U-R" or "U-O"
    n: int
    value: float | None
    reference: float | None
    delta: float | None
    ci: tuple[float, float] | None
    p_value: float | None
    test: str
    margin: float | None = None
    p_holm: float | None = None
    p_bh: float | None = None
    status: str | None = None
    n_to_settle: int | None = None
    notes: list[str] = field(default_factory=list)
    effect: str | None = None  # of a decided U − R shift: "harm" or "improvement"


def paired_rows(
    metric: str,
    y: np.ndarray,
    u_pred: np.ndarray,
    r_preds: list[np.ndarray],
    u_loss: np.ndarray,
    r_losses: list[np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-row ``(u, r, keep)`` for ``metric``; ``keep`` selects the rows the metric is over.

    Accuracy uses correctness; FNR / FPR use the error indicator on positives / negatives;
    loss uses the per-row loss. ``r`` is the mean over the references.

    Parameters
    ----------
    metric : str
        The metric.
    y : ndarray
        Labels.
    u_pred, u_loss : ndarray
        U's predictions and losses.
    r_preds, r_losses : list of ndarray
        The references'.

    Returns
    -------
    u, r : ndarray
    keep : ndarray of bool
    """
    if metric == "loss":
        return u_loss, np.mean(r_losses, axis=0), np.ones(len(y), dtype=bool)
    if metric == "accuracy":
        return (u_pred == y).astype(float), np.mean([p == y for p in r_preds], axis=0), np.ones(len(y), bool)
    keep = y == (1 if metric == "fnr" else 0)
    return (u_pred != y).astype(float), np.mean([p != y for p in r_preds], axis=0), keep


def sign_test(pos: int, neg: int) -> float:
    """Two-sided exact sign test of ``pos`` vs ``neg`` discordant pairs under Binomial(n, 1/2).

    Equal to ``audit.core.stats.exact_mcnemar(pos, neg)`` (the symmetric null makes the two-sided
    p-value twice the smaller tail), computed without ``binomtest``'s per-call overhead.

    Parameters
    ----------
    pos, neg : int
        Discordant pairs of each kind.

    Returns
    -------
    float

    Examples
    --------
    >>> from audit.core.stats import exact_mcnemar
    >>> sign_test(10, 2) == exact_mcnemar(10, 2)
    True
    """
    n = int(pos) + int(neg)
    if n == 0:
        return 1.0
    k = min(int(pos), int(neg))
    return float(min(1.0, 2.0 * sps.binom.cdf(k, n, 0.5))) if pos != neg else 1.0


def _paired_p(metric: str, d: np.ndarray) -> tuple[float, str]:
    nz = d[d != 0]
    if metric == "loss":
        if len(nz) == 0:
            return 1.0, "wilcoxon signed-rank"
        return float(sps.wilcoxon(d, zero_method="wilcox").pvalue), "wilcoxon signed-rank"
    pos, neg = int((nz > 0).sum()), int((nz < 0).sum())
    if np.all(np.isin(nz, (-1.0, 1.0))):
        return sign_test(pos, neg), "exact McNemar"
    return sign_test(pos, neg), "exact sign test (paired, mean of references)"


def within_group_ci(
    d: np.ndarray, n_boot: int, confidence: float, rng: np.random.Generator, max_levels: int = 64
) -> tuple[float, float]:
    """Percentile bootstrap CI of ``mean(d)`` resampling the group's own rows.

    When ``d`` takes few distinct values (accuracy and error-rate differences do), resampling
    rows with replacement is the same as drawing multinomial counts of those values, which
    costs O(n_boot) instead of O(n_boot x n); otherwise ``audit.core.stats.bootstrap_mean_ci``.

    Parameters
    ----------
    d : ndarray
        Per-row differences.
    n_boot : int
        Resamples.
    confidence : float
        Level.
    rng : numpy.random.Generator
        Source of the resampling.
    max_levels : int
        Most distinct values for the multinomial shortcut.

    Returns
    -------
    (float, float)

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> within_group_ci(np.r_[np.zeros(80), -np.ones(20)], 2000, 0.9, rng)
    (-0.27, -0.13)
    """
    levels, counts = np.unique(d, return_counts=True)
    if len(levels) > max_levels:
        lo, hi = bootstrap_mean_ci(d, n_boot, confidence, rng)
        return float(lo), float(hi)
    draws = rng.multinomial(len(d), counts / counts.sum(), size=n_boot)
    means = draws @ levels / len(d)
    tail = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(means, [tail, 1.0 - tail])
    return float(lo), float(hi)


def _one(sl: Slice, metric: str, comparison: str, u: np.ndarray, r: np.ndarray, ctx: dict) -> GroupTest:
    n = len(u)
    test_name = "wilcoxon signed-rank" if metric == "loss" else "exact McNemar"
    if n == 0:
        return GroupTest(sl, metric, comparison, 0, None, None, None, None, None, test_name,
                         notes=["no rows"])
    d = u - r
    if n >= 2:
        ci = within_group_ci(d, ctx["n_boot"], ci_level(ctx["alpha"]), ctx["rng"])
    else:
        ci = None
    p, test_name = _paired_p(metric, d)
    return GroupTest(sl, metric, comparison, n, float(u.mean()), float(r.mean()), float(d.mean()), ci, p,
                     test_name)


def compare_groups(
    slices: list[tuple[Slice, np.ndarray]],
    y: np.ndarray,
    u: tuple[np.ndarray, np.ndarray],
    others: dict[str, tuple[list[np.ndarray], list[np.ndarray]]],
    metrics: list[str],
    alpha: float,
    n_boot: int,
    rng: np.random.Generator,
    min_group_size: int,
) -> list[GroupTest]:
    """All group × metric tests for each comparison in ``others``: deltas, CIs, exact p-values.

    Describes, never decides: the status of a ``U-R`` test is set by the decision kernel
    (:func:`audit.checks.subgroups.kernel.kernel_group_metrics`), which holds U against every
    reference's own value on the group's rows. Here each test gets its paired delta, the
    within-group bootstrap CI, the exact paired p-value and Holm / BH adjustments over
    every group x metric with at least ``min_group_size`` rows.

    Parameters
    ----------
    u : (predictions, losses) of the unlearned model on the rows.
    others : comparison name -> (list of predictions, list of losses), e.g.
        ``{"U-R": (r_preds, r_losses), "U-O": ([o_pred], [o_loss])}``.

    Returns
    -------
    list of GroupTest

    Examples
    --------
    >>> rng = np.random.default_rng(0); y = rng.integers(0, 2, 400)
    >>> m = np.ones(400, bool); pu = y.copy(); pu[:60] = 1 - pu[:60]
    >>> out = compare_groups([({"g": "a"}, m)], y, (pu, np.zeros(400)), {"U-R": ([y], [np.zeros(400)])},
    ...                      ["accuracy"], 0.05, 200, rng, 30)
    >>> out[0].delta, out[0].status, out[0].test, out[0].p_value < 1e-10
    (-0.15, None, 'exact McNemar', True)
    """
    ctx = {"n_boot": n_boot, "alpha": alpha, "rng": rng}
    u_pred, u_loss = u
    results: list[GroupTest] = []
    for comparison, (preds, losses) in others.items():
        family: list[GroupTest] = []
        for sl, mask in slices:
            for metric in metrics:
                uu, rr, keep = paired_rows(metric, y[mask], u_pred[mask], [p[mask] for p in preds],
                                           u_loss[mask], [lo[mask] for lo in losses])
                t = _one(sl, metric, comparison, uu[keep], rr[keep], ctx)
                if t.n < min_group_size:
                    t.notes.append(f"group smaller than min_group_size={min_group_size}")
                family.append(t)
        eligible = [t for t in family if t.p_value is not None and t.n >= min_group_size]
        if eligible:
            p = np.array([t.p_value for t in eligible])
            for t, ph, pb in zip(eligible, holm(p), benjamini_hochberg(p), strict=True):
                t.p_holm, t.p_bh = float(ph), float(pb)
        results.extend(family)
    return results
