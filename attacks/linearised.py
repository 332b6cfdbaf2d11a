"""ROC replicates over a large non-member side: its resampling term in the normal limit.

An AUC is a two-sample U-statistic. Under resampling (members and non-members apart,
within their cells) its replicate splits, exactly, into (Hoeffding; DeLong et al. 1988)

``AUC* = AUC + sum_i (c_i - 1) A1_i + sum_j (c_j - 1) A0_j + D``

* ``A1_i = w_s V10_i / n1_s``: member ``i``'s share — ``V10_i`` the fraction of its
  stratum's non-members it outranks (ties one half);
* ``A0_j = w_s V01_j / n0_s``: non-member ``j``'s share — ``V01_j`` the fraction of its
  stratum's members that outrank it;
* ``D``: the doubly-centred cross term, of variance at most ``sum_s w_s^2 / (4 n1_s n0_s)``.

The member term is drawn **exactly** (the same stratified counts as
:func:`attacks.resample.paired_roc_bootstrap`, and it *is* the AUC of the resampled
members against the unresampled non-members); the non-member term, a sum over many
rows, is drawn from its normal limit with the same covariance over every model
(:mod:`attacks.normal`); ``D`` is left out. :func:`linearisable` allows this only when
``D``'s variance bound is at most 1 % of the replicates' variance for every contrast of the
models the decision kernel reads — each model, each pair, each model against the mean of the
others and of the others but one (:func:`attacks.normal.contrasts`; the contrast's bound by
Cauchy-Schwarz) — so an interval's width is understated by at most 0.5 %, and the non-member
term passes the skewness guard. With many members too, both terms are drawn in their normal
limit (:func:`linearised_roc`). The TPR at a low FPR (reported, never gated) takes its threshold from
the top non-members only, with Poisson(1) counts (the Poisson bootstrap) on the union of
every model's top rows, and the members above it from the exact member counts.
Decision record 0022.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from attacks.blocks import Scratch, block_size, map_blocks
from attacks.counts import poisson_counts, stratified_counts
from attacks.metrics import mann_whitney_shares
from attacks.normal import cell_covariance, contrasts, normal_from, normal_limit, normal_replicates

__all__ = ["Shares", "linearisable", "linearised_roc"]

MAX_CROSS_SHARE = 0.1  # largest share of a contrast's variance the (non-normal) cross term may hold
_NO_SPREAD = 1e-14  # an AUC variance below this (SD 1e-7) is no spread: a separated model keeps the exact bootstrap


_PAIRS_PER_STRATUM = 20_000  # (member, non-member) pairs that estimate a stratum's cross-term covariance


def _cross_term(pos: Mapping[str, np.ndarray], neg: Mapping[str, np.ndarray], names: list[str],
                groups: list[tuple[np.ndarray, np.ndarray, float]], V1: np.ndarray, V0: np.ndarray,
                theta: np.ndarray) -> np.ndarray:
    """Covariance over models of the cross term ``D = sum_s w_s / (n1_s n0_s) sum_ij (c_i - 1)(c_j - 1) h_ij``.

    ``Var(D) = sum_s w_s^2 E_s[h h'] / (n1_s n0_s)`` with ``h = H - V10_i - V01_j + theta_s``
    doubly centred within the stratum; ``E_s[h h']`` is the mean over every pair, or over
    20 000 pairs drawn uniformly (a fixed seed: the estimate is a property of the rows)."""
    K = len(names)
    out = np.zeros((K, K))
    draw = np.random.default_rng(0x5EED)
    for s, (i, j, w) in enumerate(groups):
        n1s, n0s = len(i), len(j)
        if n1s * n0s <= _PAIRS_PER_STRATUM:
            a, b = np.repeat(np.arange(n1s), n0s), np.tile(np.arange(n0s), n1s)
        else:
            a, b = draw.integers(0, n1s, _PAIRS_PER_STRATUM), draw.integers(0, n0s, _PAIRS_PER_STRATUM)
        h = np.empty((len(a), K))
        for m, k in enumerate(names):
            p, q = pos[k][i[a]], neg[k][j[b]]
            h[:, m] = (p > q) + 0.5 * (p == q) - V1[i[a], m] - V0[j[b], m] + theta[s, m]
        out += (w * w / (n1s * n0s)) * (h.T @ h) / len(a)
    return out


class Shares:
    """Per-row AUC shares of every model: columns ``[matched AUC of each model, unmatched AUC of each]``.

    ``A1`` / ``A0`` are the member / non-member shares (``w_s V10_i / n1_s``, ``w_s V01_j / n0_s``),
    ``value`` the AUCs, ``cross`` the cross term's covariance (matched block, unmatched block).

    Parameters
    ----------
    pos, neg : mapping model name -> scores
        Member / non-member scores, rows aligned across models.
    match : StrataMatch or None
        :func:`attacks.strata.match_strata` of the rows' strata (``None``: unstratified).

    Examples
    --------
    >>> s = Shares({"m": np.array([0.9, 0.4])}, {"m": np.array([0.5, 0.1, 0.4])}, None)
    >>> s.value.tolist()   # (1 + 0.5) / 2 = 0.75, matched and unmatched
    [0.75, 0.75]
    """

    def __init__(self, pos: Mapping[str, np.ndarray], neg: Mapping[str, np.ndarray], match: object | None) -> None:
        names = list(pos)
        K = len(names)
        n1, n0 = len(pos[names[0]]), len(neg[names[0]])
        whole = [(np.arange(n1), np.arange(n0), 1.0)]
        groups = whole if match is None else list(zip(match.pos_index, match.neg_index, match.weights, strict=True))
        A1, A0 = np.zeros((n1, 2 * K)), np.zeros((n0, 2 * K))
        cross = np.zeros((2 * K, 2 * K))
        for block, parts in ((0, groups), (K, whole)):  # matched, unmatched
            V1, V0, theta = np.zeros((n1, K)), np.zeros((n0, K)), np.zeros((len(parts), K))
            for m, k in enumerate(names):
                for s, (i, j, w) in enumerate(parts):
                    v10, v01 = mann_whitney_shares(pos[k][i], neg[k][j])
                    V1[i, m], V0[j, m], theta[s, m] = v10, v01, v10.mean()
                    A1[i, block + m], A0[j, block + m] = w * v10 / len(i), w * v01 / len(j)
            cross[block:block + K, block:block + K] = _cross_term(pos, neg, names, parts, V1, V0, theta)
            if match is None:  # matched = unmatched
                A1[:, K:], A0[:, K:], cross[K:, K:] = A1[:, :K], A0[:, :K], cross[:K, :K]
                break
        self.names, self.A1, self.A0, self.cross = names, A1, A0, cross
        self.value = A1.sum(axis=0)
        self.cov0: np.ndarray | None = None  # the non-member term's covariance, once linearisable computed it


def linearisable(n0: int, shares: Shares, cells1: Sequence[np.ndarray], cells0: Sequence[np.ndarray]) -> bool:
    """Whether the non-member side may be drawn from its normal limit (module docstring).

    Parameters
    ----------
    n0 : int
        Non-member rows.
    shares : Shares
        The rows' AUC shares.
    cells1, cells0 : sequence of index arrays
        The member / non-member resampling cells.

    Returns
    -------
    bool

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> pos, neg = rng.normal(0.3, 1, 500), rng.normal(0, 1, 60_000)
    >>> s = Shares({"m": pos}, {"m": neg}, None)
    >>> linearisable(60_000, s, [np.arange(500)], [np.arange(60_000)])
    True
    >>> linearisable(60_000, Shares({"m": pos + 99}, {"m": neg}, None), [np.arange(500)], [np.arange(60_000)])
    False
    """
    if n0 < normal_from():
        return False
    cov0 = normal_limit(shares.A0, cells0, gated=len(shares.names))  # skew of the gated (matched) AUCs
    if cov0 is None:
        return False
    shares.cov0 = cov0
    cov = cell_covariance(shares.A1, cells1) + cov0
    K = len(shares.names)
    W = contrasts(K)
    for block in (slice(0, K), slice(K, 2 * K)):  # the matched AUCs, the unmatched ones
        var = np.einsum("im,ij,jm->m", W, cov[block, block], W)
        cross = np.einsum("im,ij,jm->m", W, shares.cross[block, block], W)
        live = var > max(1e-24 * float(np.max(var)), _NO_SPREAD)  # identical columns: their D cancel exactly
        if np.any(cross[live] > MAX_CROSS_SHARE * var[live]) or not live[:K].all():
            return False  # also: a model with no spread at all (separated)
    return True


def _top_rows(neg: Mapping[str, np.ndarray], levels: Sequence[float]) -> tuple[np.ndarray, dict, int]:
    """The union of every model's top non-members (enough for the lowest threshold), and each model's order in it."""
    n0 = len(next(iter(neg.values())))
    top = int(np.floor(max(levels) * n0)) + 1
    rows = min(n0, top + int(8 * np.sqrt(top)) + 64)  # Poisson sums of `rows` fall short of `top` w.p. ~1e-15
    desc = {}
    for k, v in neg.items():
        v = np.asarray(v)
        part = np.argpartition(-v, rows - 1)[:rows] if rows < n0 else np.arange(n0)
        desc[k] = part[np.argsort(-v[part], kind="stable")]  # the top rows, highest first
    union = np.unique(np.concatenate(list(desc.values())))
    return union, {k: np.searchsorted(union, d) for k, d in desc.items()}, rows


def linearised_roc(pos: Mapping[str, np.ndarray], neg: Mapping[str, np.ndarray], shares: Shares,
                   cells1: Sequence[np.ndarray], cells0: Sequence[np.ndarray], n_boot: int,
                   rng: np.random.Generator, fpr_levels: Sequence[float] = (), threads: int | None = None
                   ) -> dict[str, dict[str, np.ndarray]]:
    """Replicates as :func:`attacks.resample.paired_roc_bootstrap` returns them, non-member side linearised.

    With ``normal_from`` members or more (and the skewness guard passing on their shares)
    the member term is drawn from its normal limit too, and the TPR's member count from the
    normal limit of the members above each full-sample threshold.

    Parameters
    ----------
    pos, neg : mapping model name -> scores
        Member / non-member scores.
    shares : Shares
        Their AUC shares (same models, same order).
    cells1 : sequence of index arrays
        Member cells, those of ``POISSON_FROM`` rows or more first.
    cells0 : sequence of index arrays
        Non-member cells.
    n_boot : int
        Replicates.
    rng : numpy.random.Generator
        Source of the normal draws and the block seeds.
    fpr_levels : sequence of float
        FPR levels of the TPR replicates.
    threads : int, optional
        Worker threads of the member blocks.

    Returns
    -------
    dict
        ``{name: {"auc", "auc_unmatched", "tpr"}}``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> pos, neg = {"m": rng.normal(0.3, 1, 300)}, {"m": rng.normal(0, 1, 60_000)}
    >>> s = Shares(pos, neg, None)
    >>> reps = linearised_roc(pos, neg, s, [np.arange(300)], [np.arange(60_000)], 2000, rng, (0.01,))
    >>> member_se = np.sqrt(np.var(s.A1[:, 0] * 300) / 300)   # sqrt(var(V10) / n1): the member side
    >>> bool(abs(reps["m"]["auc"].std() / member_se - 1) < 0.1)
    True
    """
    names, K = shares.names, len(shares.names)
    n1, n0 = len(pos[names[0]]), len(neg[names[0]])
    cov0 = shares.cov0 if shares.cov0 is not None else cell_covariance(shares.A0, cells0)
    cov1 = normal_limit(shares.A1, cells1) if n1 >= normal_from() else None  # many members too: both sides
    if cov1 is None:  # the members' term is added per block
        auc = normal_replicates(np.zeros(2 * K), cov0 + shares.cross, n_boot, rng)
    else:
        auc = normal_replicates(shares.value, cov0 + cov1 + shares.cross, n_boot, rng)
    sorted_pos = {k: np.sort(pos[k]) for k in names}
    if cov1 is None:  # the exact member counts: their column order, and each model's member order in it
        rows1 = np.concatenate(cells1)
        A1 = shares.A1[rows1]
        at1 = np.empty(n1, dtype=np.intp)
        at1[rows1] = np.arange(n1)
        member_cols = {k: at1[np.argsort(pos[k], kind="stable")] for k in names}
    levels = np.asarray(fpr_levels, dtype=np.float64)
    k_fp = np.floor(levels * n0).astype(np.int64)  # false positives allowed at each level
    union, in_union, _ = _top_rows(neg, fpr_levels) if len(levels) else (np.empty(0, np.intp), {}, 0)
    desc_scores = {k: np.asarray(neg[k])[union[in_union[k]]] for k in names} if len(levels) else {}
    tpr = {k: np.ones((n_boot, len(levels))) for k in names}
    live = [j for j, kk in enumerate(k_fp) if kk < n0]  # else every non-member may be a false positive: TPR 1
    if cov1 is not None and live:  # the members' share of the TPR, at the full sample's thresholds
        above = np.stack([pos[k] > desc_scores[k][k_fp[j]] for k in names for j in live], axis=1) / n1
        member_tpr = normal_replicates(np.zeros(above.shape[1]), cell_covariance(above, cells1), n_boot, rng)
    scratch = Scratch()

    def block(start: int, stop: int, g: np.random.Generator) -> None:
        b = stop - start
        if cov1 is None:
            X1 = stratified_counts(cells1, b, g, scratch, "X1")
            auc[start:stop] += X1.astype(np.float64) @ A1
        if not live:
            return
        Z = poisson_counts(b, len(union), g)
        for k in names:
            T = np.cumsum(Z[:, in_union[k]], axis=1, dtype=np.int32)
            if cov1 is None:
                C = np.zeros((b, n1 + 1), dtype=np.int64)
                np.cumsum(X1[:, member_cols[k]], axis=1, out=C[:, 1:])
            for j in live:
                r = np.minimum((T < k_fp[j] + 1).sum(axis=1), T.shape[1] - 1)
                below = np.searchsorted(sorted_pos[k], desc_scores[k][r], side="right")
                members_below = below if cov1 is not None else C[np.arange(b), below]
                tpr[k][start:stop, j] = (n1 - members_below) / n1

    if cov1 is None or live:
        map_blocks(block, n_boot, block_size(n1 if cov1 is None else max(1, len(union))), rng, threads)
    if cov1 is not None and live:
        for m, (k, j) in enumerate((k, j) for k in names for j in live):
            tpr[k][:, j] += member_tpr[:, m]
    return {k: {"auc": auc[:, m], "auc_unmatched": auc[:, K + m], "tpr": tpr[k]} for m, k in enumerate(names)}
