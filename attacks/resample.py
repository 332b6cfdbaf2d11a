"""Paired, stratified bootstrap of ROC metrics for several models on the same rows.

Members and non-members are resampled separately (stratified: the class sizes stay
fixed) and **the same resampled rows are used for every model**, so the difference of
two models' AUCs is bootstrapped as a paired quantity. AUC is computed from ranks
(:func:`attacks.metrics.auc_from_ranks`), vectorised over a chunk of resamples; TPR at
a fixed FPR uses the resample's own non-member quantile as threshold. A resample is
held as row counts, so memory is O(n) whatever the number of resamples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["paired_roc_bootstrap", "tpr_at_fpr_rows"]

def tpr_at_fpr_rows(pos: np.ndarray, neg: np.ndarray, levels: Sequence[float]) -> np.ndarray:
    """TPR at each FPR level for each row of ``pos [b, n1]`` / ``neg [b, n0]`` -> ``[b, L]``.

    The threshold is the smallest score with at most ``floor(level * n0)`` non-members
    at or above it (member iff score > threshold), matching the ROC-point definition.
    """
    neg_sorted = np.sort(neg, axis=-1)
    n0 = neg.shape[-1]
    out = np.empty((pos.shape[0], len(levels)))
    for j, level in enumerate(levels):
        k = int(np.floor(level * n0))  # false positives allowed
        thr = neg_sorted[:, n0 - 1 - k] if k < n0 else np.full(pos.shape[0], -np.inf)
        out[:, j] = (pos > thr[:, None]).mean(axis=1)
    return out


class _Sorted:
    """One model's scores prepared for O(n) weighted AUC / TPR per resample."""

    def __init__(self, pos: np.ndarray, neg: np.ndarray) -> None:
        self.neg_order = np.argsort(neg, kind="stable")
        neg_sorted = neg[self.neg_order]
        self.lo = np.searchsorted(neg_sorted, pos, side="left")  # negatives strictly below
        self.hi = np.searchsorted(neg_sorted, pos, side="right")  # ... or equal
        self.neg_sorted = neg_sorted
        self.pos_order = np.argsort(pos, kind="stable")
        self.pos_sorted = pos[self.pos_order]

    def stats(self, w1: np.ndarray, w0: np.ndarray, levels: Sequence[float]) -> tuple[float, np.ndarray]:
        n1, n0 = w1.sum(), w0.sum()
        c0 = np.r_[0, np.cumsum(w0[self.neg_order])]
        below, equal = c0[self.lo], c0[self.hi] - c0[self.lo]
        a = float(np.dot(w1, below + 0.5 * equal)) / (n1 * n0)
        tpr = np.empty(len(levels))
        tail = n0 - c0  # resampled negatives at or above each sorted position
        c1 = np.r_[0, np.cumsum(w1[self.pos_order])]
        for j, level in enumerate(levels):
            k = int(np.floor(level * n0))
            # threshold = the (k+1)-th largest resampled negative: first position with tail <= k
            pos_idx = int(np.searchsorted(-tail[:-1], -k, side="left"))
            if k >= n0 or pos_idx == 0:
                thr = -np.inf
            else:
                thr = self.neg_sorted[pos_idx - 1]
            tpr[j] = (n1 - c1[np.searchsorted(self.pos_sorted, thr, side="right")]) / n1
        return a, tpr


def paired_roc_bootstrap(
    pos: Mapping[str, np.ndarray],
    neg: Mapping[str, np.ndarray],
    n_boot: int,
    rng: np.random.Generator,
    fpr_levels: Sequence[float] = (),
) -> dict[str, dict[str, np.ndarray]]:
    """Bootstrap replicates of AUC (and TPR at ``fpr_levels``) for every model.

    Each resample is represented by multinomial row counts (``bincount`` of the drawn
    indices); every model's scores are sorted once, so one replicate costs O(n) per
    model instead of a sort. Equal, up to rounding, to ranking the resampled scores.

    Parameters
    ----------
    pos, neg : mapping model name -> scores
        Member and non-member scores of each model, rows aligned across models.
    n_boot : int
        Number of resamples.
    rng : numpy.random.Generator
        Source of the shared resampling indices.

    Returns
    -------
    dict
        ``{name: {"auc": [n_boot], "tpr": [n_boot, len(fpr_levels)]}}``.
    """
    names = list(pos)
    prep = {k: _Sorted(np.asarray(pos[k], float), np.asarray(neg[k], float)) for k in names}
    n1, n0 = len(pos[names[0]]), len(neg[names[0]])
    out = {k: {"auc": np.empty(n_boot), "tpr": np.empty((n_boot, len(fpr_levels)))} for k in names}
    for b in range(n_boot):
        w1 = np.bincount(rng.integers(0, n1, n1), minlength=n1).astype(np.float64)
        w0 = np.bincount(rng.integers(0, n0, n0), minlength=n0).astype(np.float64)
        for k in names:
            out[k]["auc"][b], out[k]["tpr"][b] = prep[k].stats(w1, w0, fpr_levels)
    return out
