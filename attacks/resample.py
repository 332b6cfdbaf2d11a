"""Paired, stratified bootstrap of ROC metrics for several models on the same rows.

Members and non-members are resampled separately (stratified: the class sizes stay
fixed) and **the same resampled rows are used for every model**, so the difference of
two models' AUCs is bootstrapped as a paired quantity. AUC is computed from ranks
(:func:`attacks.metrics.auc_from_ranks`), vectorised over a chunk of resamples; TPR at
a fixed FPR uses the resample's own non-member quantile as threshold. A resample is
held as row counts, so memory is O(n) whatever the number of resamples.

With stratum labels (class, group) the resampling is stratified within (member,
stratum) and the AUC is the *matched* AUC of :func:`attacks.metrics.matched_auc`:
members are ranked only against non-members of their own stratum.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from attacks.metrics import match_strata

__all__ = ["paired_roc_bootstrap", "tpr_at_fpr_rows"]

_CHUNK_ELEMENTS = 4_000_000  # resamples x rows held at once (~32 MB per float64 matrix)


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


    def stats_batch(self, W1: np.ndarray, W0: np.ndarray, levels: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`stats` for a batch of resamples: ``W1 [b, n1]``, ``W0 [b, n0]`` row counts."""
        b = W1.shape[0]
        n1, n0 = W1.sum(axis=1), W0.sum(axis=1)
        C0 = np.zeros((b, W0.shape[1] + 1))
        np.cumsum(W0[:, self.neg_order], axis=1, out=C0[:, 1:])
        below = C0[:, self.lo]
        auc = np.einsum("bi,bi->b", W1, below + 0.5 * (C0[:, self.hi] - below)) / (n1 * n0)
        tpr = np.empty((b, len(levels)))
        if len(levels):
            C1 = np.zeros((b, W1.shape[1] + 1))
            np.cumsum(W1[:, self.pos_order], axis=1, out=C1[:, 1:])
            tail = n0[:, None] - C0[:, :-1]  # resampled negatives at or above each sorted position
            rows = np.arange(b)
            for j, level in enumerate(levels):
                k = np.floor(level * n0)
                pos_idx = (tail > k[:, None]).sum(axis=1)
                ok = (k < n0) & (pos_idx > 0)
                thr = np.where(ok, self.neg_sorted[np.maximum(pos_idx - 1, 0)], -np.inf)
                above = C1[rows, np.searchsorted(self.pos_sorted, thr, side="right")]
                tpr[:, j] = (n1 - above) / n1
        return auc, tpr


def _counts(cells: Sequence[np.ndarray], n: int, rng: np.random.Generator, b: int = 1) -> np.ndarray:
    """Row counts ``[b, n]`` of ``b`` resamples drawn with replacement within each cell."""
    w = np.zeros((b, n))
    for idx in cells:
        m = len(idx)
        w[:, idx] = rng.multinomial(m, np.full(m, 1.0 / m), size=b)
    return w


def paired_roc_bootstrap(
    pos: Mapping[str, np.ndarray],
    neg: Mapping[str, np.ndarray],
    n_boot: int,
    rng: np.random.Generator,
    fpr_levels: Sequence[float] = (),
    pos_strata: np.ndarray | None = None,
    neg_strata: np.ndarray | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """Bootstrap replicates of AUC (and TPR at ``fpr_levels``) for every model.

    Each resample is represented by multinomial row counts; every model's scores are
    sorted once, and a chunk of resamples is evaluated as one matrix (cumulative counts in
    sorted order), so a replicate costs O(n) vectorised work per model instead of a sort.
    Equal, up to rounding, to ranking the resampled scores.

    Parameters
    ----------
    pos, neg : mapping model name -> scores
        Member and non-member scores of each model, rows aligned across models.
    n_boot : int
        Number of resamples.
    rng : numpy.random.Generator
        Source of the shared resampling indices.
    fpr_levels : sequence of float
        FPR levels of the TPR replicates.
    pos_strata, neg_strata : ndarray, optional
        Stratum label of every member / non-member row (both or neither). Rows are then
        resampled within each (member, stratum) cell, so stratum sizes stay fixed, and
        ``"auc"`` is the matched AUC (:func:`attacks.metrics.matched_auc`); strata with
        members but no non-members are left out of it — :func:`attacks.metrics.match_strata`
        (or ``matched_auc``) on the same labels says which and how many rows. TPR at a
        low FPR stays **unstratified** (one threshold over all non-members, every member
        counted): a matched version would need a per-stratum FPR budget, with too few
        non-members per stratum to resolve low FPRs.

    Returns
    -------
    dict
        ``{name: {"auc": [n_boot], "auc_unmatched": [n_boot], "tpr": [n_boot, len(fpr_levels)]}}``;
        without strata ``"auc_unmatched"`` equals ``"auc"``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> pos, neg = np.r_[3.0, 3.1, 0.4], np.r_[2.9, 0.1, 0.0, 0.3]   # stratum 1 scores high
    >>> reps = paired_roc_bootstrap({"m": pos}, {"m": neg}, 200, rng,
    ...                             pos_strata=np.r_[1, 1, 0], neg_strata=np.r_[1, 0, 0, 0])
    >>> float(reps["m"]["auc_unmatched"].mean()) > 0.75, float(reps["m"]["auc"].min()) == 1.0
    (True, True)
    """
    names = list(pos)
    P = {k: np.asarray(pos[k], float) for k in names}
    N = {k: np.asarray(neg[k], float) for k in names}
    n1, n0 = len(P[names[0]]), len(N[names[0]])
    if (pos_strata is None) != (neg_strata is None):
        raise ValueError("give both pos_strata and neg_strata, or neither")
    match = None if pos_strata is None else match_strata(pos_strata, neg_strata)
    if match is not None and not match.strata:
        raise ValueError("no stratum has both members and non-members")
    cells1 = [np.arange(n1)] if match is None else match.pos_cells
    cells0 = [np.arange(n0)] if match is None else match.neg_cells
    prep = {k: _Sorted(P[k], N[k]) for k in names}
    parts = {} if match is None else {
        k: [_Sorted(P[k][i], N[k][j]) for i, j in zip(match.pos_index, match.neg_index, strict=True)]
        for k in names}
    out = {k: {"auc": np.empty(n_boot), "auc_unmatched": np.empty(n_boot),
               "tpr": np.empty((n_boot, len(fpr_levels)))} for k in names}
    chunk = max(1, _CHUNK_ELEMENTS // max(1, n1 + n0))
    for start in range(0, n_boot, chunk):
        sl = slice(start, min(n_boot, start + chunk))
        b = sl.stop - sl.start
        W1, W0 = _counts(cells1, n1, rng, b), _counts(cells0, n0, rng, b)
        for k in names:
            a, out[k]["tpr"][sl] = prep[k].stats_batch(W1, W0, fpr_levels)
            out[k]["auc_unmatched"][sl] = a
            if match is not None:
                a = sum(wt * s.stats_batch(W1[:, i], W0[:, j], ())[0] for wt, s, i, j in
                        zip(match.weights, parts[k], match.pos_index, match.neg_index, strict=True))
            out[k]["auc"][sl] = a
    return out
