"""Paired, stratified bootstrap of ROC metrics for several models on the same rows.

Members and non-members are resampled separately (stratified: the class sizes stay
fixed) and **the same resampled rows are used for every model**, so the difference of
two models' AUCs is bootstrapped as a paired quantity. AUC is computed from ranks
(:func:`attacks.metrics.auc_from_ranks`), vectorised over a chunk of resamples; TPR at
a fixed FPR uses the resample's own non-member quantile as threshold. Chunks keep
memory bounded in the number of rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from attacks.metrics import auc_from_ranks

__all__ = ["paired_roc_bootstrap", "tpr_at_fpr_rows"]

_CHUNK_ELEMENTS = 4_000_000


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


def paired_roc_bootstrap(
    pos: Mapping[str, np.ndarray],
    neg: Mapping[str, np.ndarray],
    n_boot: int,
    rng: np.random.Generator,
    fpr_levels: Sequence[float] = (),
) -> dict[str, dict[str, np.ndarray]]:
    """Bootstrap replicates of AUC (and TPR at ``fpr_levels``) for every model.

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
    n1 = len(pos[names[0]])
    n0 = len(neg[names[0]])
    per_chunk = max(1, _CHUNK_ELEMENTS // (n1 + n0))
    parts: dict[str, dict[str, list[np.ndarray]]] = {k: {"auc": [], "tpr": []} for k in names}
    done = 0
    while done < n_boot:
        b = min(per_chunk, n_boot - done)
        i1 = rng.integers(0, n1, size=(b, n1))
        i0 = rng.integers(0, n0, size=(b, n0))
        for k in names:
            p, q = np.asarray(pos[k])[i1], np.asarray(neg[k])[i0]
            parts[k]["auc"].append(auc_from_ranks(p, q))
            parts[k]["tpr"].append(tpr_at_fpr_rows(p, q, fpr_levels))
        done += b
    return {k: {m: np.concatenate(v[m], axis=0) for m in ("auc", "tpr")} for k, v in parts.items()}
