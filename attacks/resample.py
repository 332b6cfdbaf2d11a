"""Paired, stratified bootstrap of ROC metrics for several models on the same rows.

Members and non-members are resampled separately (stratified: the class sizes stay
fixed) and **the same resampled rows are used for every model**, so the difference of
two models' AUCs is bootstrapped as a paired quantity. A resample is a vector of row counts
(:func:`attacks.counts.multinomial_counts`); a chunk of them is summed into each model's
score buckets by one sparse product (:class:`_Slots`), and the AUC (ties one half, as
:func:`attacks.metrics.auc_from_ranks`) and the TPR at a fixed FPR (the resample's own
non-member quantile as threshold) come from the bucket totals: O(n) per resample, no sort,
memory O(n) whatever the number of resamples (``docs/decisions/0018-bootstrap-counts.md``).

With stratum labels (class, group) the resampling is stratified within (member,
stratum) and the AUC is the *matched* AUC of :func:`attacks.metrics.matched_auc`:
members are ranked only against non-members of their own stratum.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from attacks.counts import multinomial_counts
from attacks.metrics import match_strata

__all__ = ["paired_roc_bootstrap", "tpr_at_fpr_rows", "weighted_roc"]

_CHUNK_ELEMENTS = 8_000_000  # rows x resamples of one chunk of counts (32 MB of int32) ...
_MIN_CHUNK, _MAX_CHUNK = 32, 64  # ... within these: a sparse product wants a few resamples per row ...
_MEMORY_BYTES = 256 * 2**20  # ... and fewer when many distinct member scores make many slots


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


class _Slots:
    """Where every row's resample count goes, for one model's scores and one grouping.

    Within a stratum the members' distinct scores ``u_0 < ... < u_{G-1}`` cut the score
    line into ``2G + 1`` *buckets*: below ``u_0``, equal to ``u_0``, between ``u_0`` and
    ``u_1``, ... A non-member row adds its count to its bucket, a member row to its score's
    *group*. The weighted Mann-Whitney count of a resample then needs only the bucket and
    group totals: a member at ``u_g`` outranks the non-members of buckets ``< 2g + 1`` and
    ties with bucket ``2g + 1`` (one half), and the TPR at a low FPR only the bucket where
    the ``k + 1``-th largest non-member sits. Every model and grouping is one block of rows
    of one sparse matrix, so a chunk of resamples is summed into all of them in one product.
    """

    def __init__(self, pos: np.ndarray, neg: np.ndarray, pos_groups: Sequence[np.ndarray],
                 neg_groups: Sequence[np.ndarray], weights: np.ndarray, at: tuple[np.ndarray, np.ndarray],
                 neg_order: np.ndarray) -> None:
        buckets, groups, self.strata = [], [], []
        nb = ng = 0
        whole = len(neg_groups) == 1 and len(neg_groups[0]) == len(neg)
        for i, j, w in zip(pos_groups, neg_groups, weights, strict=True):
            u, g = np.unique(pos[i], return_inverse=True)
            if whole:
                rows = neg_order
            else:  # this stratum's rows in score order, picked from the one sort
                inside = np.zeros(len(neg), dtype=bool)
                inside[j] = True
                rows = neg_order[inside[neg_order]]
            buckets.append((rows, nb + _bucket(u, neg[rows])))
            groups.append((i, g.ravel()))
            self.strata.append((nb, ng, len(u), w / (2.0 * len(i) * len(j))))  # buckets, groups, G, factor
            nb += 2 * len(u) + 1
            ng += len(u)
        self.n_buckets = nb
        self.group_offsets = np.cumsum([0] + [st[2] for st in self.strata])
        self.n_slots = nb + ng
        self.n1 = sum(len(i) for i in pos_groups)
        self.n0 = sum(len(j) for j in neg_groups)
        # the slot of every count row (-1: not in this block); ``at`` says where each
        # member / non-member is among the count rows
        self.slot_of_row = np.full(len(at[0]) + len(at[1]), -1, dtype=np.int32)
        for k, (i, g) in enumerate(groups):
            self.slot_of_row[at[0][i]] = nb + self.group_offsets[k] + g
        for j, b in buckets:
            self.slot_of_row[at[1][j]] = b

    def auc(self, S: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """AUC ``[b]`` from this block's totals ``S [n_slots, b]``; also ``C``, ``M`` resample-major.

        Per stratum, with ``C`` the cumulative bucket totals from the stratum's start, a
        member at ``u_g`` counts ``C[2g+1] + C[2g+2]`` = 2 x (below + equal / 2): integer
        sums over strided views (exact), one float product per stratum. Totals are turned
        resample-major (``[b, slots]``) first: a cumulative sum down the slots of a
        ``[slots, b]`` array walks memory with a stride (measured 2-10x slower)."""
        C = np.zeros((S.shape[1], self.n_buckets + 1), dtype=np.int64)
        np.cumsum(np.ascontiguousarray(S[:self.n_buckets].T), axis=1, out=C[:, 1:])
        M = np.ascontiguousarray(S[self.n_buckets:].T)
        out = np.zeros(S.shape[1])
        for nb, g0, G, factor in self.strata:
            Cs, Ms = C[:, nb:nb + 2 * G + 2], M[:, g0:g0 + G]
            twice = (np.einsum("bg,bg->b", Ms, Cs[:, 1::2][:, :G]) + np.einsum("bg,bg->b", Ms, Cs[:, 2::2])
                     - 2 * Cs[:, 0] * Ms.sum(axis=1, dtype=np.int64))
            out += factor * twice
        return out, C, M

    def tpr(self, C: np.ndarray, M: np.ndarray, levels: Sequence[float]) -> np.ndarray:
        """TPR ``[b, L]`` at each FPR level (one stratum: the unmatched block; ``C``, ``M`` from :meth:`auc`)."""
        b = C.shape[0]
        out = np.empty((b, len(levels)))
        CM = np.zeros((b, M.shape[1] + 1), dtype=np.int64)
        np.cumsum(M, axis=1, out=CM[:, 1:])
        for j, level in enumerate(levels):
            k = int(np.floor(level * self.n0))  # false positives allowed
            if k >= self.n0:
                out[:, j] = 1.0
                continue
            # buckets t with more than k non-members at or above them: [0, t*]; the
            # threshold (the k+1-th largest non-member) is in bucket t*, and the members
            # strictly above it are the groups from ceil(t* / 2) on
            t_star = (C[:, :self.n_buckets] < self.n0 - k).sum(axis=1) - 1
            out[:, j] = (self.n1 - CM[np.arange(b), (t_star + 1) // 2]) / self.n1
        return out


class _Blocks:
    """One model's :class:`_Slots` stacked into one sparse matrix ``A [slots, rows]``.

    One matrix per model, not one for all: its totals then stay in cache (measured: ~3x
    faster per count than one product over six models' slots)."""

    def __init__(self, blocks: Sequence[_Slots], n_rows: int) -> None:
        from scipy import sparse

        self.blocks = list(blocks)
        offsets = np.cumsum([0] + [s.n_slots for s in self.blocks])
        self.offsets = offsets
        slots = np.stack([np.where(s.slot_of_row >= 0, s.slot_of_row + off, -1)
                          for s, off in zip(self.blocks, offsets, strict=False)], axis=1)  # [rows, blocks]
        has = slots >= 0
        indptr = np.zeros(n_rows + 1, dtype=np.int64)
        np.cumsum(has.sum(axis=1), out=indptr[1:])
        indices = slots[has].astype(np.int32)  # row-major: each column of A in order, built directly
        self.A = sparse.csc_matrix((np.ones(len(indices), dtype=np.int32), indices, indptr),
                                   shape=(int(offsets[-1]), n_rows))

    def totals(self, X: np.ndarray) -> list[np.ndarray]:
        """Each block's totals ``[n_slots, b]`` for row counts ``X [rows, b]`` (int32)."""
        S = np.asarray(self.A @ X.astype(np.int32, copy=False))
        return [S[a:z] for a, z in zip(self.offsets[:-1], self.offsets[1:], strict=True)]


def _bucket(u: np.ndarray, vs: np.ndarray) -> np.ndarray:
    """Bucket of each sorted value of ``vs`` among the sorted distinct ``u``: ``2 * below + (equal)``.

    The values come sorted (one sort per model): numpy's search then starts from the last
    hit (measured ~5x faster than unsorted needles at a million rows).

    >>> _bucket(np.array([1.0, 3.0]), np.array([0.0, 1.0, 2.0, 3.0, 4.0])).tolist()
    [0, 1, 2, 3, 4]
    """
    lo = np.searchsorted(u, vs, side="left")
    return 2 * lo + (np.searchsorted(u, vs, side="right") > lo)


def weighted_roc(pos: np.ndarray, neg: np.ndarray, w1: np.ndarray, w0: np.ndarray,
                 fpr_levels: Sequence[float] = ()) -> tuple[np.ndarray, np.ndarray]:
    """AUC ``[b]`` and TPR ``[b, L]`` of ``b`` resamples given as row counts, without a sort.

    ``w1 [n1, b]`` / ``w0 [n0, b]`` say how often each member / non-member row is in each
    resample. Equal to ranking the resampled scores (ties one half; the TPR threshold is the
    resample's ``floor(level * n0) + 1``-th largest non-member score, members strictly above
    it count), which :func:`paired_roc_bootstrap` relies on.

    >>> pos, neg = np.array([0.9, 0.4]), np.array([0.5, 0.1, 0.4])
    >>> auc, tpr = weighted_roc(pos, neg, np.array([[1, 2], [1, 0]]), np.array([[1, 1], [1, 1], [1, 1]]), (0.34,))
    >>> auc.tolist(), tpr.tolist()   # 2nd resample: member 0.9 twice, outranks every non-member
    ([0.75, 1.0], [[0.5], [1.0]])
    """
    pos, neg = np.asarray(pos, float), np.asarray(neg, float)
    n1, n0 = len(pos), len(neg)
    w1, w0 = np.asarray(w1), np.asarray(w0)
    slots = _Slots(pos, neg, [np.arange(n1)], [np.arange(n0)], np.ones(1), (np.arange(n1), n1 + np.arange(n0)),
                   np.argsort(neg))
    slots.strata = [(nb, g0, G, f * n1 * n0) for nb, g0, G, f in slots.strata]  # resample sizes vary
    S = _Blocks([slots], n1 + n0).totals(np.concatenate([w1, w0]))[0]
    auc, C, M = slots.auc(S)
    auc = auc / (w1.sum(axis=0) * w0.sum(axis=0))
    tpr = np.empty((w1.shape[1], len(fpr_levels)))
    for b in range(w1.shape[1]):  # n0 / n1 of each resample (the bootstrap keeps them fixed)
        slots.n1, slots.n0 = int(w1[:, b].sum()), int(w0[:, b].sum())
        tpr[b] = slots.tpr(C[[b]], M[[b]], fpr_levels)[0]
    return auc, tpr


def _fill_counts(X: np.ndarray, cells: Sequence[np.ndarray], rng: np.random.Generator) -> None:
    """Counts of ``X.shape[1]`` resamples drawn within each cell (stratified), rows first.

    The count rows hold the cells one after the other (:func:`_positions`)."""
    start = 0
    for idx in cells:
        X[start:start + len(idx)] = multinomial_counts(len(idx), X.shape[1], rng, rows_first=True, dtype=X.dtype)
        start += len(idx)


def _positions(cells1: Sequence[np.ndarray], cells0: Sequence[np.ndarray], n1: int, n0: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """Where each member / non-member row sits among the count rows (cells in order)."""
    at1, at0 = np.empty(n1, dtype=np.int64), np.empty(n0, dtype=np.int64)
    order1, order0 = np.concatenate(cells1), np.concatenate(cells0)
    at1[order1] = np.arange(n1)
    at0[order0] = n1 + np.arange(n0)
    return at1, at0


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
    sorted once into buckets, and a chunk of resamples is summed into them by one sparse
    product per model, so a replicate costs O(n) work per model instead of a sort.
    Equal, up to rounding, to ranking the resampled scores (:func:`weighted_roc`).

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
    at = _positions(cells1, cells0, n1, n0)
    order = {k: np.argsort(N[k]) for k in names}  # the one sort per model (ties: any order)
    whole = {k: _Slots(P[k], N[k], [np.arange(n1)], [np.arange(n0)], np.ones(1), at, order[k]) for k in names}
    strat = {} if match is None else {
        k: _Slots(P[k], N[k], match.pos_index, match.neg_index, match.weights, at, order[k]) for k in names}
    blocks = {k: _Blocks([whole[k]] + ([strat[k]] if strat else []), n1 + n0) for k in names}
    out = {k: {"auc": np.empty(n_boot), "auc_unmatched": np.empty(n_boot),
               "tpr": np.empty((n_boot, len(fpr_levels)))} for k in names}
    chunk = int(min(_MAX_CHUNK, max(_MIN_CHUNK, _CHUNK_ELEMENTS // max(1, n1 + n0))))
    # per resample: its counts (int32) and, per model, slot totals and cumulative counts
    per_resample = 4 * (n1 + n0) + 16 * max(sum(b.n_slots for b in blocks[k].blocks) for k in names)
    chunk = int(max(1, min(chunk, _MEMORY_BYTES // per_resample)))
    X = np.empty((n1 + n0, min(chunk, n_boot)), dtype=np.int32)
    for start in range(0, n_boot, chunk):
        sl = slice(start, min(n_boot, start + chunk))
        x = X[:, :sl.stop - sl.start]
        _fill_counts(x[:n1], cells1, rng)
        _fill_counts(x[n1:], cells0, rng)
        for k in names:
            S = blocks[k].totals(x)
            a, C, M = whole[k].auc(S[0])
            out[k]["auc_unmatched"][sl] = a
            out[k]["tpr"][sl] = whole[k].tpr(C, M, fpr_levels)
            out[k]["auc"][sl] = a if match is None else strat[k].auc(S[1])[0]
    return out
