"""ROC metrics of membership attacks.

Convention: **member = positive class (label 1)**, and a **higher score means "more
member-like"**. Every function takes ``scores`` (float, ``[n]``) and ``membership``
(0/1, ``[n]``).

* :func:`roc` / :func:`auc` — the ROC curve and its area (``auc`` is
  ``sklearn.metrics.roc_auc_score``; :func:`auc_from_ranks` is the vectorised
  Mann-Whitney form used inside bootstraps and agrees to rounding).
* :func:`matched_auc` — AUC with members compared only with non-members of the same
  stratum (label, group), weighted by the members' stratum sizes; :func:`match_strata`
  is the grouping it shares with the stratified bootstrap (:mod:`attacks.resample`).
* :func:`tpr_at_fpr` — TPR at 1 % / 0.1 % / 0.01 % FPR; a :class:`LowFPRWarning` is
  raised when there are fewer than ``1/FPR`` non-members, which cannot resolve that FPR.
* :func:`calibrate_threshold` + :func:`balanced_accuracy` — the threshold is chosen on
  *held-out* scores and then applied to the evaluation scores (never the oracle
  threshold of the evaluation data).
* :func:`advantage` — TPR - FPR at a threshold (Yeom et al. 2018).

The empirical epsilon of an attack (Clopper-Pearson bounds on its FPR / FNR) is
:mod:`attacks.epsilon`.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats as sps
from sklearn import metrics as skm

__all__ = [
    "LowFPRWarning",
    "check_scores",
    "roc",
    "roc_on_grid",
    "auc",
    "auc_from_ranks",
    "mann_whitney_shares",
    "tpr_at_fpr",
    "calibrate_threshold",
    "balanced_accuracy",
    "advantage",
]

FPR_LEVELS = (0.01, 0.001, 0.0001)


class LowFPRWarning(UserWarning):
    """Fewer than 1/FPR non-members: the requested FPR cannot be resolved."""


def check_scores(scores: np.ndarray, membership: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validated ``(scores as float64, membership as int8)``, both flat; ``ValueError`` otherwise.

    Parameters
    ----------
    scores : ndarray, shape (n,)
        Finite attack scores.
    membership : ndarray of {0, 1}, shape (n,)
        1 for members; both classes must occur.

    Returns
    -------
    tuple of ndarray
        ``(scores, membership)``.

    Examples
    --------
    >>> check_scores([0.2, 0.7], [0, 1])[1].dtype
    dtype('int8')
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    m = np.asarray(membership).ravel().astype(np.int8)
    if s.shape != m.shape:
        raise ValueError(f"scores {s.shape} and membership {m.shape} differ in length")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores must be finite")
    if not set(np.unique(m)) <= {0, 1}:
        raise ValueError("membership must be 0 (non-member) or 1 (member)")
    if m.sum() == 0 or m.sum() == len(m):
        raise ValueError("need both members and non-members")
    return s, m


def roc(scores: np.ndarray, membership: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC curve ``(fpr, tpr, thresholds)`` with members as positives (sklearn's ``roc_curve``).

    Parameters
    ----------
    scores : ndarray, shape (n,)
        Attack scores (larger = more member-like).
    membership : ndarray of {0, 1}, shape (n,)
        1 for members.

    Returns
    -------
    fpr, tpr, thresholds : ndarray
        Every ROC point (``drop_intermediate=False``).

    Examples
    --------
    >>> fpr, tpr, _ = roc(np.array([0.9, 0.1]), np.array([1, 0]))
    >>> fpr.tolist(), tpr.tolist()
    ([0.0, 0.0, 1.0], [0.0, 1.0, 1.0])
    """
    s, m = check_scores(scores, membership)
    fpr, tpr, thr = skm.roc_curve(m, s, drop_intermediate=False)
    return fpr, tpr, thr


def roc_on_grid(pos: np.ndarray, neg: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """The ROC curve's TPR at each FPR of ``grid``: ``np.interp(grid, *roc(...)[:2])``, from one sort.

    At FPR ``f`` (``u = f n0`` false positives) the curve runs between the ROC points of the
    ``(floor(u) + 1)``-th highest negative score ``t``: ``(#neg > t, #pos > t)`` and
    ``(#neg >= t, #pos >= t)``; the TPR is interpolated between them. At a vertical step
    this is its top, as ``np.interp`` gives for repeated FPRs.

    Parameters
    ----------
    pos, neg : ndarray
        Member / non-member scores.
    grid : ndarray
        FPRs in ``[0, 1]``.

    Returns
    -------
    ndarray
        TPR at each FPR.

    Examples
    --------
    >>> pos, neg = np.array([0.9, 0.5, 0.5]), np.array([0.7, 0.5, 0.1])
    >>> roc_on_grid(pos, neg, np.array([0.0, 0.5, 1.0])).round(3).tolist()
    [0.333, 0.667, 1.0]
    """
    ps, ns = np.sort(np.asarray(pos, dtype=np.float64)), np.sort(np.asarray(neg, dtype=np.float64))
    n1, n0 = len(ps), len(ns)
    u = np.asarray(grid, dtype=np.float64) * n0
    out = np.ones(len(u))
    inside = u < n0
    t = ns[n0 - 1 - np.floor(u[inside]).astype(np.int64)]  # the (floor(u) + 1)-th highest negative
    fp_gt, fp_ge = n0 - np.searchsorted(ns, t, "right"), n0 - np.searchsorted(ns, t, "left")
    tp_gt, tp_ge = n1 - np.searchsorted(ps, t, "right"), n1 - np.searchsorted(ps, t, "left")
    out[inside] = (tp_gt + (tp_ge - tp_gt) * (u[inside] - fp_gt) / (fp_ge - fp_gt)) / n1
    return out


def auc(scores: np.ndarray, membership: np.ndarray) -> float:
    """Area under the ROC curve, members positive: exactly ``roc_auc_score(membership, scores)``.

    Parameters
    ----------
    scores : ndarray, shape (n,)
        Attack scores (larger = more member-like).
    membership : ndarray of {0, 1}, shape (n,)
        1 for members; both classes must occur.

    Returns
    -------
    float

    Examples
    --------
    >>> auc(np.array([0.9, 0.8, 0.3, 0.1]), np.array([1, 0, 1, 0]))
    0.75
    """
    s, m = check_scores(scores, membership)
    return float(skm.roc_auc_score(m, s))


def auc_from_ranks(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """Mann-Whitney AUC, vectorised over leading axes: ``pos [..., n1]``, ``neg [..., n0]``.

    Ties count one half (average ranks), which makes it equal to the trapezoidal ROC
    area of sklearn up to floating-point rounding.

    Parameters
    ----------
    pos : ndarray, shape (..., n1)
        Scores of the positives.
    neg : ndarray, shape (..., n0)
        Scores of the negatives (same leading shape).

    Returns
    -------
    ndarray, shape (...)

    Examples
    --------
    >>> auc_from_ranks(np.array([[0.9, 0.3]]), np.array([[0.8, 0.1]])).tolist()
    [0.75]
    """
    pos = np.asarray(pos, dtype=np.float64)
    neg = np.asarray(neg, dtype=np.float64)
    n1, n0 = pos.shape[-1], neg.shape[-1]
    if pos.ndim == 1 and neg.ndim == 1:  # one pair: sort the smaller side, search the larger in it
        small, large, flip = (pos, neg, True) if n1 <= n0 else (neg, pos, False)
        lo, hi = _places(np.sort(small), large)
        below = (lo + 0.5 * (hi - lo)).sum()  # pairs with the small side's row below a large-side row
        u = n1 * n0 - below if flip else below  # pairs with the positive above the negative
        return np.float64(u / (n1 * n0))
    ranks = sps.rankdata(np.concatenate([pos, neg], axis=-1), axis=-1)
    r1 = ranks[..., :n1].sum(axis=-1)
    return (r1 - n1 * (n1 + 1) / 2.0) / (n1 * n0)


def _places(sorted_scores: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each ``x``: how many sorted scores are strictly below it and at or below it (one search without ties)."""
    hi = np.searchsorted(sorted_scores, x, side="right")
    tied = (hi > 0) & (sorted_scores[np.maximum(hi - 1, 0)] == x)
    lo = np.searchsorted(sorted_scores, x, side="left") if tied.any() else hi
    return lo, hi


def mann_whitney_shares(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each positive's fraction of negatives below it and each negative's fraction of positives above it.

    Ties count one half; both means are the Mann-Whitney AUC (DeLong et al.'s structural
    components ``V10`` and ``V01``). One sort of the positives and one search of the
    negatives among them.

    Parameters
    ----------
    pos, neg : ndarray, shape (n1,) / (n0,)
        Scores of the positives / negatives.

    Returns
    -------
    v10 : ndarray, shape (n1,)
    v01 : ndarray, shape (n0,)

    Examples
    --------
    >>> v10, v01 = mann_whitney_shares(np.array([0.9, 0.4]), np.array([0.5, 0.1, 0.4]))
    >>> v10.tolist(), v01.tolist(), float(v10.mean()) == float(v01.mean()) == 0.75
    ([1.0, 0.5], [0.5, 1.0, 0.75], True)
    """
    pos, neg = np.asarray(pos, dtype=np.float64), np.asarray(neg, dtype=np.float64)
    n1, n0 = len(pos), len(neg)
    order = np.argsort(pos, kind="stable")
    lo, hi = _places(pos[order], neg)
    v01 = (n1 - hi + 0.5 * (hi - lo)) / n1
    strictly_below = np.cumsum(np.bincount(hi, minlength=n1 + 1))[:n1]  # negatives below sorted place p
    at_or_below = np.cumsum(np.bincount(lo, minlength=n1 + 1))[:n1]
    v10 = np.empty(n1)
    v10[order] = (strictly_below + 0.5 * (at_or_below - strictly_below)) / n0
    return v10, v01


def tpr_at_fpr(
    scores: np.ndarray, membership: np.ndarray, levels: tuple[float, ...] = FPR_LEVELS
) -> dict[float, float]:
    """Highest TPR over ROC points with FPR <= each level.

    Warns (:class:`LowFPRWarning`) for every level below ``1 / n_non_members``; the
    value returned there is the TPR at FPR = 0 and says little.

    Parameters
    ----------
    scores : ndarray, shape (n,)
        Attack scores.
    membership : ndarray of {0, 1}, shape (n,)
        1 for members.
    levels : tuple of float
        FPR levels.

    Returns
    -------
    dict of float to float
        ``{level: TPR}``.

    Examples
    --------
    >>> tpr_at_fpr(np.array([0.9, 0.8, 0.2, 0.1]), np.array([1, 1, 0, 0]), (0.5,))
    {0.5: 1.0}
    """
    fpr, tpr, _ = roc(scores, membership)
    n0 = int((np.asarray(membership) == 0).sum())
    out: dict[float, float] = {}
    for level in levels:
        if n0 < 1.0 / level:
            warnings.warn(
                f"TPR at {level:g} FPR needs >= {int(np.ceil(1 / level))} non-members, have {n0}",
                LowFPRWarning, stacklevel=2)
        out[level] = float(tpr[fpr <= level].max())
    return out


def calibrate_threshold(scores: np.ndarray, membership: np.ndarray) -> float:
    """Threshold maximising balanced accuracy on *held-out* scores (predict member iff score >= t).

    Parameters
    ----------
    scores : ndarray, shape (n,)
        Held-out attack scores.
    membership : ndarray of {0, 1}, shape (n,)
        1 for members.

    Returns
    -------
    float

    Examples
    --------
    >>> calibrate_threshold(np.array([0.9, 0.8, 0.2, 0.1]), np.array([1, 1, 0, 0]))
    0.8
    """
    fpr, tpr, thr = roc(scores, membership)
    best = int(np.argmax(tpr - fpr))
    t = float(thr[best])
    return t if np.isfinite(t) else float(np.max(scores)) + 1.0


def balanced_accuracy(scores: np.ndarray, membership: np.ndarray, threshold: float) -> float:
    """Balanced accuracy of "member iff score >= threshold" (sklearn's ``balanced_accuracy_score``).

    Parameters
    ----------
    scores : ndarray, shape (n,)
        Attack scores.
    membership : ndarray of {0, 1}, shape (n,)
        1 for members.
    threshold : float
        Member iff score >= threshold.

    Returns
    -------
    float

    Examples
    --------
    >>> balanced_accuracy(np.array([0.9, 0.2, 0.8, 0.1]), np.array([1, 1, 0, 0]), 0.5)
    0.5
    """
    s, m = check_scores(scores, membership)
    return float(skm.balanced_accuracy_score(m, (s >= threshold).astype(np.int8)))


def advantage(scores: np.ndarray, membership: np.ndarray, threshold: float) -> float:
    """Membership advantage TPR - FPR of "member iff score >= threshold" (= 2 x balanced acc - 1).

    Parameters
    ----------
    scores : ndarray, shape (n,)
        Attack scores.
    membership : ndarray of {0, 1}, shape (n,)
        1 for members.
    threshold : float
        Member iff score >= threshold.

    Returns
    -------
    float
        In ``[-1, 1]``.

    Examples
    --------
    >>> advantage(np.array([0.9, 0.8, 0.2, 0.1]), np.array([1, 1, 0, 0]), 0.5)
    1.0
    """
    s, m = check_scores(scores, membership)
    pred = s >= threshold
    return float(pred[m == 1].mean() - pred[m == 0].mean())
