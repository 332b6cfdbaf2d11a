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
    """One model's scores prepared for O(n) AUC / TPR per resample.

    ``pos_cols`` / ``neg_cols`` say which columns of the resample count matrices the
    scores belong to (a stratum's rows); the sort orders are composed with them, so a
    resample's counts are gathered once, already in score order.
    """

    def __init__(self, pos: np.ndarray, neg: np.ndarray, pos_cols: np.ndarray | None = None,
                 neg_cols: np.ndarray | None = None) -> None:
        neg_order = np.argsort(neg, kind="stable")
        neg_sorted = neg[neg_order]
        self.lo = np.searchsorted(neg_sorted, pos, side="left")  # negatives strictly below
        self.hi = np.searchsorted(neg_sorted, pos, side="right")  # ... or equal
        self.neg_sorted = neg_sorted
        pos_order = np.argsort(pos, kind="stable")
        self.pos_sorted = pos[pos_order]
        self.pos_cols = np.arange(len(pos)) if pos_cols is None else np.asarray(pos_cols)
        self.neg_gather = neg_order if neg_cols is None else np.asarray(neg_cols)[neg_order]
        self.pos_gather = self.pos_cols[pos_order]
        self.cuts = _Cuts(np.r_[self.lo, self.hi], len(neg_sorted))

    def stats_batch(self, W1: np.ndarray, W0: np.ndarray, levels: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
        """AUC ``[b]`` and TPR ``[b, L]`` of a batch of resamples given as integer row counts.

        ``W1 [b, N1]``, ``W0 [b, N0]`` hold every member / non-member row; this model's
        columns are picked by the gather maps. The counts are gathered once in score order;
        the AUC needs the cumulative non-member count only where members sit (segment sums,
        ``np.add.reduceat``), a TPR threshold only the top of the non-members.
        """
        w1 = np.take(W1, self.pos_cols, axis=1)
        n1 = w1.sum(axis=1, dtype=np.int64)
        w0 = np.take(W0, self.neg_gather, axis=1)
        n0 = w0.sum(axis=1, dtype=np.int64)
        at = self.cuts.cumulative(w0)
        below, upto = at[:, :len(self.lo)], at[:, len(self.lo):]
        twice = below + upto  # 2 x (below + equal / 2)
        auc = np.einsum("bi,bi->b", w1.astype(np.int64), twice) / (2.0 * n1 * n0)
        tpr = np.empty((w1.shape[0], len(levels)))
        if len(levels):
            C1 = np.zeros((w1.shape[0], len(self.pos_gather) + 1), dtype=np.int64)
            np.cumsum(np.take(W1, self.pos_gather, axis=1), axis=1, out=C1[:, 1:])
            rows = np.arange(w1.shape[0])
            for j, level in enumerate(levels):
                k = np.floor(level * n0).astype(np.int64)
                pos_idx = _positions_above(w0, k)
                ok = (k < n0) & (pos_idx > 0)
                thr = np.where(ok, self.neg_sorted[np.maximum(pos_idx - 1, 0)], -np.inf)
                above = C1[rows, np.searchsorted(self.pos_sorted, thr, side="right")]
                tpr[:, j] = (n1 - above) / n1
        return auc, tpr


class _Cuts:
    """Where ``C[:, t] = w[:, :t].sum(axis=1)`` is needed, prepared once per model.

    >>> w = np.array([[1, 0, 2, 1], [0, 3, 0, 1]])
    >>> _Cuts(np.array([0, 2, 4, 2]), 4).cumulative(w).tolist()
    [[0, 1, 4, 1], [0, 3, 4, 3]]
    """

    def __init__(self, at: np.ndarray, n: int) -> None:
        self.n = n
        self.cuts = np.unique(np.r_[0, at[(at > 0) & (at < n)]]).astype(np.intp)
        self.index = np.searchsorted(self.cuts, at, side="left")  # == len(cuts) where at == n

    def cumulative(self, w: np.ndarray) -> np.ndarray:
        """``C[:, at]`` (int64) from segment sums (``np.add.reduceat``), not a full cumsum."""
        cum = np.zeros((w.shape[0], len(self.cuts) + 1), dtype=np.int64)
        if self.n:
            np.cumsum(np.add.reduceat(w, self.cuts, axis=1, dtype=np.int64), axis=1, out=cum[:, 1:])
        return cum[:, self.index]


def _positions_above(w: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Per row, how many sorted positions ``t`` have more than ``k`` counts at or above them.

    Only the top of the order matters for a low FPR: the counts from the top are summed
    over a window just wide enough (doubling it for rows it does not cover).

    >>> w = np.array([[1, 1, 1, 1], [0, 0, 4, 0]])
    >>> _positions_above(w, np.array([1, 1])).tolist()
    [3, 3]
    """
    b, n = w.shape
    out = np.empty(b, dtype=np.int64)
    todo = np.arange(b)
    width = int(min(n, 2 * (int(k.max(initial=0)) + 1) + 64))
    while len(todo):
        tail = np.cumsum(w[todo, n - width:][:, ::-1], axis=1, dtype=np.int64)  # counts at or above
        covered = (tail[:, -1] > k[todo]) | (width == n)
        hits = (tail > k[todo, None]).sum(axis=1)  # positions in the window above k ...
        out[todo[covered]] = (n - width + hits)[covered] if width < n else hits[covered]
        todo = todo[~covered]
        width = min(n, 2 * width)
    return out


def _counts(cells: Sequence[np.ndarray], n: int, rng: np.random.Generator, b: int = 1) -> np.ndarray:
    """Row counts ``[b, n]`` (uint8, or int64 if a count exceeds 255) of ``b`` resamples drawn with replacement within each cell.

    Each cell's draws are uniform row indices turned into counts with one ``bincount``
    (a multinomial with equal probabilities, without its per-category binomial chain).

    >>> w = _counts([np.arange(3), np.arange(3, 5)], 5, np.random.default_rng(0), b=4)
    >>> w.shape, w[:, :3].sum(axis=1).tolist(), w[:, 3:].sum(axis=1).tolist()
    ((4, 5), [3, 3, 3, 3], [2, 2, 2, 2])
    """
    parts = []
    for idx in cells:
        m = len(idx)
        draws = rng.integers(0, m, size=(b, m), dtype=np.int64) + (np.arange(b, dtype=np.int64) * m)[:, None]
        parts.append((idx, np.bincount(draws.ravel(), minlength=b * m).reshape(b, m)))
    # a row drawn more than 255 times in one resample is astronomically rare, but exactness
    # comes first: the narrow type only when every count fits it (a quarter of the traffic)
    small = all(c.max(initial=0) <= np.iinfo(np.uint8).max for _, c in parts)
    w = np.zeros((b, n), dtype=np.uint8 if small else np.int64)
    for idx, c in parts:
        w[:, idx] = c
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
        k: [_Sorted(P[k][i], N[k][j], i, j) for i, j in zip(match.pos_index, match.neg_index, strict=True)]
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
                a = sum(wt * s.stats_batch(W1, W0, ())[0] for wt, s in zip(match.weights, parts[k], strict=True))
            out[k]["auc"][sl] = a
    return out
