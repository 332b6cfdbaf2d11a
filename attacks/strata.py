"""Members against non-members of the same stratum: the matched AUC and how rows are grouped.

A class or group removal makes the forget rows differ from the test rows in their label or
group mix; comparing each forget row only with test rows of its own stratum (label, and the
group values a group removal concentrates on) measures membership, not the mix.
:func:`match_strata` groups the rows (also the cells of the stratified bootstrap,
:mod:`attacks.resample`), :func:`matched_auc` weights the strata's Mann-Whitney AUCs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from attacks.metrics import auc_from_ranks

__all__ = ["StrataMatch", "match_strata", "MatchedAUC", "matched_auc"]


@dataclass(frozen=True)
class StrataMatch:
    """Members (positives) and non-members (negatives) grouped by stratum.

    ``strata`` are the matched strata (both sides present), in sorted order, with the
    row indices ``pos_index`` / ``neg_index`` of each and ``weights`` = its share of the
    matched positives. ``dropped`` are strata with positives but no negatives and
    ``n_dropped`` their positive rows. ``pos_cells`` / ``neg_cells`` hold the row indices
    of *every* stratum present on that side (the cells of a stratified resample).

    Parameters
    ----------
    strata : tuple
        Matched strata, sorted.
    pos_index, neg_index : tuple of ndarray
        Positive / negative row indices of each matched stratum.
    weights : ndarray
        Each matched stratum's share of the matched positives.
    dropped : tuple
        Strata with positives but no negatives.
    n_dropped : int
        Positive rows in ``dropped``.
    pos_cells, neg_cells : tuple of ndarray
        Row indices of every stratum present on each side (matched or not).
    """

    strata: tuple
    pos_index: tuple[np.ndarray, ...]
    neg_index: tuple[np.ndarray, ...]
    weights: np.ndarray
    dropped: tuple
    n_dropped: int
    pos_cells: tuple[np.ndarray, ...]
    neg_cells: tuple[np.ndarray, ...]


def _cells(codes: np.ndarray, k: int) -> list[np.ndarray]:
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(k + 1))
    return [order[bounds[c]:bounds[c + 1]] for c in range(k)]


def match_strata(pos_strata: np.ndarray, neg_strata: np.ndarray) -> StrataMatch:
    """Group member and non-member rows by stratum label (any sortable values).

    Parameters
    ----------
    pos_strata : ndarray, shape (n1,)
        Stratum label of every positive row.
    neg_strata : ndarray, shape (n0,)
        Stratum label of every negative row.

    Returns
    -------
    StrataMatch

    Examples
    --------
    >>> m = match_strata(np.array(["a", "a", "b"]), np.array(["a", "c"]))
    >>> m.strata, m.dropped, m.n_dropped, m.weights.tolist()
    (('a',), ('b',), 1, [1.0])
    """
    ps, ns = np.asarray(pos_strata).ravel(), np.asarray(neg_strata).ravel()
    keys, inv = np.unique(np.concatenate([ps, ns]), return_inverse=True)
    inv = inv.ravel()
    pc, nc = _cells(inv[:len(ps)], len(keys)), _cells(inv[len(ps):], len(keys))
    kept = [c for c in range(len(keys)) if len(pc[c]) and len(nc[c])]
    gone = [c for c in range(len(keys)) if len(pc[c]) and not len(nc[c])]
    sizes = np.array([len(pc[c]) for c in kept], dtype=np.float64)
    return StrataMatch(
        strata=tuple(keys[kept].tolist()), pos_index=tuple(pc[c] for c in kept),
        neg_index=tuple(nc[c] for c in kept), weights=sizes / sizes.sum() if len(kept) else sizes,
        dropped=tuple(keys[gone].tolist()), n_dropped=int(sum(len(pc[c]) for c in gone)),
        pos_cells=tuple(c for c in pc if len(c)), neg_cells=tuple(c for c in nc if len(c)))


@dataclass(frozen=True)
class MatchedAUC:
    """Result of :func:`matched_auc`: the weighted AUC, its parts and what was dropped.

    Parameters
    ----------
    auc : float
        The weighted AUC over matched strata.
    stratum_auc, weights : dict
        AUC and weight of each matched stratum.
    dropped : tuple
        Strata left out (no negatives).
    n_dropped, n_matched : int
        Positive rows dropped and matched.
    """

    auc: float
    stratum_auc: dict
    weights: dict
    dropped: tuple
    n_dropped: int
    n_matched: int


def matched_auc(
    pos: np.ndarray, neg: np.ndarray, pos_strata: np.ndarray, neg_strata: np.ndarray
) -> MatchedAUC:
    """AUC of members against non-members *of the same stratum*.

    ``AUC = sum_s (n_pos,s / n_pos_matched) * AUC_s``, where ``AUC_s`` is the Mann-Whitney
    AUC of stratum ``s``'s members against stratum ``s``'s non-members only (ties count
    one half). It is the probability that a member outranks a non-member drawn from the
    member's own stratum, so a label or group mix that differs between members and
    non-members no longer reads as membership. Strata with members but no non-members
    cannot be compared and are dropped (``dropped``, ``n_dropped``); raises
    ``ValueError`` when no stratum has both.

    Parameters
    ----------
    pos, neg : ndarray
        Attack scores of members and non-members (higher = more member-like).
    pos_strata, neg_strata : ndarray
        Stratum label of every member / non-member row (e.g. the class label, or a
        combined "label, group" key).

    Returns
    -------
    MatchedAUC
        The weighted AUC, each stratum's AUC and weight, and what was dropped.

    Examples
    --------
    >>> pos, neg = np.array([0.9, 0.1, 0.2]), np.array([0.8, 0.0, 0.5])
    >>> r = matched_auc(pos, neg, np.array([1, 0, 0]), np.array([1, 0, 2]))
    >>> r.auc, r.stratum_auc, r.n_matched   # class 1: 0.9 > 0.8; class 0: both > 0.0
    (1.0, {0: 1.0, 1: 1.0}, 3)
    """
    p, n = np.asarray(pos, dtype=np.float64).ravel(), np.asarray(neg, dtype=np.float64).ravel()
    for name, s, lab in (("pos", p, pos_strata), ("neg", n, neg_strata)):
        if len(np.asarray(lab).ravel()) != len(s):
            raise ValueError(f"{name} has {len(s)} scores but {len(np.asarray(lab).ravel())} strata")
        if not np.all(np.isfinite(s)):
            raise ValueError("scores must be finite")
    m = match_strata(pos_strata, neg_strata)
    if not m.strata:
        raise ValueError("no stratum has both members and non-members")
    per = [float(auc_from_ranks(p[i], n[j])) for i, j in zip(m.pos_index, m.neg_index, strict=True)]
    return MatchedAUC(float(np.dot(m.weights, per)), dict(zip(m.strata, per, strict=True)),
                      dict(zip(m.strata, m.weights.tolist(), strict=True)), m.dropped, m.n_dropped,
                      int(sum(len(i) for i in m.pos_index)))
