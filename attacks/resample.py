"""Paired, stratified bootstrap of ROC metrics for several models on the same rows.

Members and non-members are resampled separately (stratified: the class sizes stay
fixed) and **the same resampled rows are used for every model**, so the difference of
two models' AUCs is bootstrapped as a paired quantity. A resample is a vector of row counts
(:mod:`attacks.counts`), and a block of resamples is turned into AUCs without a sort:

* the members' counts, in the model's score order, are summed cumulatively (one
  ``cumsum`` per resample: ``C[r]`` = resampled members among the ``r`` lowest-scored);
* a non-member at score ``s`` with ``lo`` members strictly below and ``hi`` at or below
  it outranks ``C[lo]`` resampled members and ties with ``C[hi] - C[lo]``, so the
  Mann-Whitney count is ``U = N1 N0 - (1/2) sum_j c_j (C[lo_j] + C[hi_j])`` — a gather
  and one dot product per resample, integers throughout (exact), one division;
* the TPR at a low FPR takes the threshold from the top non-members only (a cumulative
  count down the highest scores until it passes ``floor(level * N0)``) and the members
  strictly above it from ``C``.

The ``lo`` / ``hi`` positions are found once per model (one sort). With stratum labels
(class, group) the resampling is stratified within (member, stratum) and the AUC is the
*matched* AUC of :func:`attacks.strata.matched_auc`: members are ordered by (stratum,
score), a non-member's positions are within its stratum, and the strata's Mann-Whitney
counts are weighted (``docs/decisions/0019-parallel-bootstrap-blocks.md``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from attacks.blocks import Scratch, block_size, map_blocks
from attacks.counts import POISSON_FROM, stratified_counts
from attacks.linearised import Shares, linearisable, linearised_roc
from attacks.normal import count, normal_from
from attacks.strata import match_strata

__all__ = ["paired_roc_bootstrap", "tpr_at_fpr_rows", "weighted_roc"]

_CHUNK_ELEMENTS = 8_000_000  # small cells (drawn from the caller's generator): rows x resamples of a chunk ...
_MIN_CHUNK, _MAX_CHUNK = 32, 64  # ... within these (the chunks of decision record 0018: same draws)
_MEMORY_BYTES = 256 * 2**20  # ... and fewer when a chunk's arrays would pass this
_BYTES_PER_COUNT = 40  # a block's arrays per (row, resample): counts, float copies, gathers, prefix


def tpr_at_fpr_rows(pos: np.ndarray, neg: np.ndarray, levels: Sequence[float]) -> np.ndarray:
    """TPR at each FPR level for each row of ``pos [b, n1]`` / ``neg [b, n0]`` -> ``[b, L]``.

    The threshold is the smallest score with at most ``floor(level * n0)`` non-members
    at or above it (member iff score > threshold), matching the ROC-point definition.

    Parameters
    ----------
    pos : ndarray, shape (b, n1)
        Members' scores, one row per resample.
    neg : ndarray, shape (b, n0)
        Non-members' scores, same rows.
    levels : sequence of float
        The FPR levels.

    Returns
    -------
    ndarray, shape (b, len(levels))
        TPR at each level.

    Examples
    --------
    >>> tpr_at_fpr_rows(np.array([[0.9, 0.2]]), np.array([[0.5, 0.1]]), [0.0, 0.5]).tolist()
    [[0.5, 1.0]]
    """
    neg_sorted = np.sort(neg, axis=-1)
    n0 = neg.shape[-1]
    out = np.empty((pos.shape[0], len(levels)))
    for j, level in enumerate(levels):
        k = int(np.floor(level * n0))  # false positives allowed
        thr = neg_sorted[:, n0 - 1 - k] if k < n0 else np.full(pos.shape[0], -np.inf)
        out[:, j] = (pos > thr[:, None]).mean(axis=1)
    return out


class _Prefix:
    """One model's member order for one grouping, and every non-member's place in it.

    ``cols`` are the member count columns in (group, score) order (``None``: already in
    order); ``lo`` / ``hi`` [non-member columns] index the cumulative member counts:
    members of the non-member's group strictly below / at or below its score; ``ends``
    the index where each group's members end. Non-members of no group point at 0.
    """

    def __init__(self, pos: np.ndarray, neg: np.ndarray, at1: np.ndarray, at0: np.ndarray,
                 pos_groups: Sequence[np.ndarray], neg_groups: Sequence[np.ndarray]) -> None:
        lo, hi = np.zeros(len(at0), dtype=np.intp), np.zeros(len(at0), dtype=np.intp)
        parts, ends, off = [], [], 0
        for i, j in zip(pos_groups, neg_groups, strict=True):
            o = i[np.argsort(pos[i], kind="stable")]
            self.sorted_pos = pos[o]  # the last group's (the only one, unmatched: the TPR's)
            lo[at0[j]] = off + np.searchsorted(self.sorted_pos, neg[j], side="left")
            hi[at0[j]] = off + np.searchsorted(self.sorted_pos, neg[j], side="right")
            parts.append(at1[o])
            off += len(o)
            ends.append(off)
        cols = np.concatenate(parts)
        self.cols = None if len(cols) == len(at1) and (cols == np.arange(len(cols))).all() else cols
        self.lo, self.hi, self.tied = lo, hi, bool((hi != lo).any())
        self.ends = np.asarray(ends, dtype=np.intp)
        self.n = off

    def run(self, X1: np.ndarray, X0: np.ndarray, starts: np.ndarray, ws: Scratch, name: str
            ) -> tuple[np.ndarray, np.ndarray]:
        """``(C, Q)``: cumulative member counts ``[b, n + 1]`` and, per segment of non-member
        columns (``starts``), ``sum_j X0_j (C[lo_j] + C[hi_j])`` ``[b, segments]`` — integers.

        Work arrays come from ``ws`` under ``name`` (``C`` stays valid until the next call with it)."""
        b = X1.shape[0]
        # int32 holds C[lo] + C[hi] <= 2 N1 times a uint8 count up to ~4e6 members
        wide = X0.dtype.itemsize > 1 or X1.dtype.itemsize > 1 or 2 * 255 * X1.shape[1] >= 2**31
        dt = np.int64 if wide else np.int32
        Xs = X1 if self.cols is None else np.take(X1, self.cols, axis=1, mode="wrap",
                                                   out=ws.array(name + "_X", (b, len(self.cols)), X1.dtype))
        C = ws.array(name + "_C", (b, self.n + 1), dt)
        C[:, 0] = 0
        np.cumsum(Xs, axis=1, dtype=dt, out=C[:, 1:])
        g = np.take(C, self.lo, axis=1, mode="wrap", out=ws.array("g", (b, len(self.lo)), dt))
        if self.tied:
            g += np.take(C, self.hi, axis=1, mode="wrap", out=ws.array("g_hi", g.shape, dt))
        np.multiply(g, X0, out=g)
        Q = (g.sum(axis=1, dtype=np.int64)[:, None] if len(starts) == 1
             else np.add.reduceat(g, starts, axis=1, dtype=np.int64))
        return C, Q if self.tied else 2 * Q


class _Model:
    """Everything one model's scores say about a resample's AUC, matched AUC and TPR."""

    def __init__(self, pos: np.ndarray, neg: np.ndarray, at1: np.ndarray, at0: np.ndarray,
                 match: object | None) -> None:
        self.whole = _Prefix(pos, neg, at1, at0, [np.arange(len(pos))], [np.arange(len(neg))])
        self.matched = None if match is None else _Prefix(pos, neg, at1, at0, match.pos_index, match.neg_index)
        desc = np.argsort(-neg, kind="stable")
        self.desc_cols, self.desc_scores = at0[desc], neg[desc]

    def auc(self, X1: np.ndarray, X0: np.ndarray, N0: np.ndarray, starts: np.ndarray, ws: Scratch
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Unmatched AUC ``[b]`` (exact integer Mann-Whitney count, one division), ``C`` and ``N1``."""
        C, Q = self.whole.run(X1, X0, starts, ws, "whole")
        N1 = C[:, -1].astype(np.float64)
        return (N1 * N0 - Q.sum(axis=1) / 2.0) / (N1 * N0), C, N1

    def matched_auc(self, X1: np.ndarray, X0: np.ndarray, starts: np.ndarray, cell_of: np.ndarray,
                    sizes: tuple[np.ndarray, np.ndarray], weights: np.ndarray, ws: Scratch) -> np.ndarray:
        """Matched AUC ``sum_s w_s U_s / (N1_s N0_s)``, ``U_s = N0_s C[end_s] - Q_s / 2`` exactly per stratum.

        ``cell_of[s]`` is the segment of matched stratum ``s``'s non-members; ``sizes`` its
        ``(N1_s, N0_s)`` (fixed by the stratified resampling)."""
        C, Q = self.matched.run(X1, X0, starts, ws, "matched")
        n1s, n0s = sizes
        U = n0s * C[:, self.matched.ends].astype(np.float64) - Q[:, cell_of] / 2.0
        return U @ (weights / (n1s * n0s))

    def tpr(self, X0: np.ndarray, C: np.ndarray, N0: np.ndarray, N1: np.ndarray, levels: Sequence[float]
            ) -> np.ndarray:
        """TPR ``[b, L]``: the ``floor(level * N0) + 1``-th largest non-member as threshold, members above it."""
        b, L, n0 = X0.shape[0], len(levels), X0.shape[1]
        k = np.floor(N0[:, None] * np.asarray(levels, dtype=np.float64)[None]).astype(np.int64)
        need = k < N0[:, None]  # else every non-member may be a false positive: TPR 1
        out = np.ones((b, L))
        if not need.any():
            return out
        top = int(k[need].max()) + 1
        rows = min(n0, top + int(6 * np.sqrt(top)) + 32)
        while True:  # the top non-members, until every resample has passed its count
            T = np.cumsum(np.take(X0, self.desc_cols[:rows], axis=1), axis=1, dtype=np.int64)
            if rows == n0 or (T[:, -1][:, None] >= k + 1)[need].all():
                break
            rows = min(n0, 2 * rows)
        for j in range(L):
            r = np.minimum((T < (k[:, j] + 1)[:, None]).sum(axis=1), rows - 1)
            below = np.searchsorted(self.whole.sorted_pos, self.desc_scores[r], side="right")
            above = N1 - C[np.arange(b), below]
            out[:, j] = np.where(need[:, j], above / N1, 1.0)
        return out


def weighted_roc(pos: np.ndarray, neg: np.ndarray, w1: np.ndarray, w0: np.ndarray,
                 fpr_levels: Sequence[float] = ()) -> tuple[np.ndarray, np.ndarray]:
    """AUC ``[b]`` and TPR ``[b, L]`` of ``b`` resamples given as row counts, without a sort.

    ``w1 [n1, b]`` / ``w0 [n0, b]`` say how often each member / non-member row is in each
    resample. Equal to ranking the resampled scores (ties one half; the TPR threshold is the
    resample's ``floor(level * n0) + 1``-th largest non-member score, members strictly above
    it count), which :func:`paired_roc_bootstrap` relies on.

    Parameters
    ----------
    pos, neg : ndarray
        Member / non-member scores.
    w1, w0 : ndarray of int
        Row counts of each resample, rows first.
    fpr_levels : sequence of float
        FPR levels of the TPR.

    Returns
    -------
    auc : ndarray, shape (b,)
    tpr : ndarray, shape (b, len(fpr_levels))

    Examples
    --------
    >>> pos, neg = np.array([0.9, 0.4]), np.array([0.5, 0.1, 0.4])
    >>> auc, tpr = weighted_roc(pos, neg, np.array([[1, 2], [1, 0]]), np.array([[1, 1], [1, 1], [1, 1]]), (0.34,))
    >>> auc.tolist(), tpr.tolist()   # 2nd resample: member 0.9 twice, outranks every non-member
    ([0.75, 1.0], [[0.5], [1.0]])
    """
    pos, neg = np.asarray(pos, float), np.asarray(neg, float)
    X1, X0 = np.ascontiguousarray(np.asarray(w1).T), np.ascontiguousarray(np.asarray(w0).T)
    model = _Model(pos, neg, np.arange(len(pos)), np.arange(len(neg)), None)
    N0 = X0.sum(axis=1, dtype=np.int64).astype(np.float64)
    auc, C, N1 = model.auc(X1, X0, N0, np.zeros(1, dtype=np.intp), Scratch())
    return auc, model.tpr(X0, C, N0, N1, fpr_levels)


def _positions(cells1: Sequence[np.ndarray], cells0: Sequence[np.ndarray], n1: int, n0: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """The count column of each member / non-member row (cells one after the other)."""
    at1, at0 = np.empty(n1, dtype=np.intp), np.empty(n0, dtype=np.intp)
    at1[np.concatenate(cells1)] = np.arange(n1)
    at0[np.concatenate(cells0)] = np.arange(n0)
    return at1, at0


def paired_roc_bootstrap(
    pos: Mapping[str, np.ndarray],
    neg: Mapping[str, np.ndarray],
    n_boot: int,
    rng: np.random.Generator,
    fpr_levels: Sequence[float] = (),
    pos_strata: np.ndarray | None = None,
    neg_strata: np.ndarray | None = None,
    threads: int | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """Bootstrap replicates of AUC (and TPR at ``fpr_levels``) for every model.

    Each resample is represented by multinomial row counts, shared by every model
    (paired); a block of resamples costs one cumulative sum over the members, one gather
    and one dot product over the non-members per model (module docstring). Equal, up to
    rounding, to ranking the resampled scores (:func:`weighted_roc`). When every cell has
    fewer than ``POISSON_FROM`` rows the counts are drawn from ``rng`` in chunks, as in
    decision record 0018; otherwise in blocks with child seeds on ``threads`` threads
    (:func:`attacks.blocks.map_blocks`: the same replicates on any number of threads).
    From :func:`attacks.normal.normal_from` non-members on (50 000 by default) the
    non-member side's resampling term is drawn from its normal limit and the member side
    stays exact, when :func:`attacks.linearised.linearisable` allows it (decision record 0022).

    Parameters
    ----------
    pos, neg : mapping model name -> scores
        Member and non-member scores of each model, rows aligned across models.
    n_boot : int
        Number of resamples.
    rng : numpy.random.Generator
        Source of the shared resample counts.
    fpr_levels : sequence of float
        FPR levels of the TPR replicates.
    pos_strata, neg_strata : ndarray, optional
        Stratum label of every member / non-member row (both or neither). Rows are then
        resampled within each (member, stratum) cell, so stratum sizes stay fixed, and
        ``"auc"`` is the matched AUC (:func:`attacks.strata.matched_auc`); strata with
        members but no non-members are left out of it — :func:`attacks.strata.match_strata`
        (or ``matched_auc``) on the same labels says which and how many rows. TPR at a
        low FPR stays **unstratified** (one threshold over all non-members, every member
        counted): a matched version would need a per-stratum FPR budget, with too few
        non-members per stratum to resolve low FPRs.
    threads : int, optional
        Worker threads (default: the CPUs this process may use).

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
    if n1 == 0 or n0 == 0:
        raise ValueError("the ROC bootstrap needs members and non-members")
    if (pos_strata is None) != (neg_strata is None):
        raise ValueError("give both pos_strata and neg_strata, or neither")
    match = None if pos_strata is None else match_strata(pos_strata, neg_strata)
    if match is not None and not match.strata:
        raise ValueError("no stratum has both members and non-members")
    cells1 = [np.arange(n1)] if match is None else list(match.pos_cells)
    cells0 = [np.arange(n0)] if match is None else list(match.neg_cells)
    small = all(len(c) < POISSON_FROM for c in cells1 + cells0)
    if n0 >= normal_from():  # many non-members: their side in its normal limit, when the guards allow
        shares = Shares(P, N, match)
        if linearisable(n0, shares, cells1, cells0):
            ordered1 = sorted(cells1, key=lambda c: len(c) < POISSON_FROM)
            count("normal_limit_replicates", n_boot)
            return linearised_roc(P, N, shares, ordered1, cells0, n_boot, rng, fpr_levels, threads)
    count("bootstrap_resamples", n_boot)
    if not small:  # a cell's count columns may hold its rows in any fixed order: the first model's;
        first = names[0]  # and the cells in any order: those drawn as Poisson counts first (stratified_counts)
        cells1 = sorted((c[np.argsort(P[first][c], kind="stable")] for c in cells1), key=lambda c: len(c) < POISSON_FROM)
        cells0 = sorted((c[np.argsort(N[first][c], kind="stable")] for c in cells0), key=lambda c: len(c) < POISSON_FROM)
    at1, at0 = _positions(cells1, cells0, n1, n0)
    models = {k: _Model(P[k], N[k], at1, at0, match) for k in names}
    starts = np.cumsum([0] + [len(c) for c in cells0[:-1]]).astype(np.intp)  # each cell's first column
    if match is not None:  # the segment (cell) of each matched stratum's non-members, and its sizes
        cell_of = np.searchsorted(starts, at0[[j[0] for j in match.neg_index]], side="right") - 1
        sizes = (np.array([len(i) for i in match.pos_index], dtype=np.float64),
                 np.array([len(j) for j in match.neg_index], dtype=np.float64))
    out = {k: {"auc": np.empty(n_boot), "auc_unmatched": np.empty(n_boot),
               "tpr": np.empty((n_boot, len(fpr_levels)))} for k in names}

    scratch = Scratch()

    def block(start: int, stop: int, g: np.random.Generator) -> None:
        b, ws = stop - start, scratch
        X1, X0 = stratified_counts(cells1, b, g, ws, "X1"), stratified_counts(cells0, b, g, ws, "X0")
        N0 = np.full(b, float(n0))  # stratified: every resample keeps the cell sizes
        for k in names:
            a, C, N1 = models[k].auc(X1, X0, N0, starts, ws)
            out[k]["auc_unmatched"][start:stop] = a
            if len(fpr_levels):
                out[k]["tpr"][start:stop] = models[k].tpr(X0, C, N0, N1, fpr_levels)
            out[k]["auc"][start:stop] = a if match is None else models[k].matched_auc(
                X1, X0, starts, cell_of, sizes, match.weights, ws)

    if small:
        chunk = int(min(_MAX_CHUNK, max(_MIN_CHUNK, _CHUNK_ELEMENTS // (n1 + n0))))
        chunk = int(max(1, min(chunk, _MEMORY_BYTES // (_BYTES_PER_COUNT * (n1 + n0)))))
        for start in range(0, n_boot, chunk):
            block(start, min(n_boot, start + chunk), rng)
    else:
        map_blocks(block, n_boot, block_size(n1 + n0), rng, threads)
    return out
