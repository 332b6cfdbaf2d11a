"""Per-group U − R decisions through the one decision kernel (:mod:`audit.core.decision`).

For every declared group and metric, U's value on the group's rows is held against the
retrain distribution of the same value: each reference's own value on those rows gives
the seed spread, the paired row bootstrap the row spread. Harm is one-sided (accuracy
lower, loss / error rates higher); an improvement never blocks. Groups below
``min_group_size`` rows are inconclusive with the size needed. Per-row losses are capped at
the references' 99th percentile over the split (:func:`audit.core.stats.winsorize_by_references`). Fails are Bonferroni
corrected over every eligible group x metric; how far the references spread beyond the
row bootstrap is pooled over the groups of each metric (four references per group give
three degrees of freedom, far too few for a Bonferroni tail; thirty groups give ninety).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from audit.checks.subgroups.inference import HARM_SIGN
from audit.checks.subgroups.slices import Slice, slice_label
from audit.core.decision import Evidence, Settings, decide_all, row_mean_stats
from audit.core.results import Metric
from audit.core.stats import winsorize_by_references

__all__ = ["group_rows", "kernel_group_metrics"]


def group_rows(metric: str, y: np.ndarray, pred: np.ndarray, loss: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row values of ``metric`` for one model and the mask of rows it is defined on.

    Parameters
    ----------
    metric : str
        The metric.
    y, pred, loss : ndarray
        Labels, predictions and losses of one model.

    Returns
    -------
    values : ndarray
    mask : ndarray of bool

    Examples
    --------
    >>> v, m = group_rows("accuracy", np.array([1, 0]), np.array([1, 1]), np.zeros(2))
    >>> v.tolist(), m.tolist()
    ([1.0, 0.0], [True, True])

    >>> v, keep = group_rows("fnr", np.array([1, 0, 1]), np.array([0, 0, 1]), np.zeros(3))
    >>> v[keep].tolist()
    [1.0, 0.0]
    """
    if metric == "loss":
        return np.asarray(loss, dtype=np.float64), np.ones(len(y), dtype=bool)
    if metric == "accuracy":
        return (pred == y).astype(np.float64), np.ones(len(y), dtype=bool)
    return (pred != y).astype(np.float64), y == (1 if metric == "fnr" else 0)


def kernel_group_metrics(
    slices: list[tuple[Slice, np.ndarray]],
    y: np.ndarray,
    outputs: dict[str, tuple[np.ndarray, np.ndarray]],
    refs: list[str],
    metrics: list[str],
    floors: dict[str, float | None],
    settings: Settings,
    min_group_size: int,
    n_boot: int,
    rng: np.random.Generator,
    blocks: str = "harm",
) -> dict[tuple[str, str], Metric]:
    """Kernel-decided U − R metric for every group x metric, keyed ``(slice label, metric)``.

    ``outputs`` maps ``unlearned``, ``original`` and each reference role to
    ``(predictions, losses)`` on the rows. ``floors[metric]`` is the policy margin; for
    ``loss`` a ``None`` floor means ``floors["loss_factor"]`` x the group's reference loss.
    ``blocks`` (policy ``subgroup_shift.blocks``): ``"harm"`` holds each metric one-sided,
    so only the harmful side fails and an improvement beyond the retrains comes back as a
    pass with ``effect = "improvement"``; ``"both"`` holds it two-sided (any shift fails).

    Parameters
    ----------
    slices : list of (dict, ndarray)
        Groups and their row masks.
    y : ndarray
        Labels.
    outputs : dict
        ``{role: (predictions, losses)}``.
    refs : list of str
        Reference roles.
    metrics : list of str
        Metrics per group.
    floors : dict
        Margin floors.
    settings : Settings
        Kernel settings.
    min_group_size : int
        Smaller groups are inconclusive.
    n_boot : int
        Bootstrap resamples.
    rng : numpy.random.Generator
        Source of the resampling.
    blocks : {"harm", "both"}
        Which side of a shift may fail (see above).

    Returns
    -------
    dict of (str, str) to Metric
    """
    losses, _ = winsorize_by_references({r: lo for r, (_, lo) in outputs.items()}, refs)
    outputs = {r: (pred, losses[r]) for r, (pred, _) in outputs.items()}
    evidence: list[Evidence] = []
    keys: list[tuple[str, str]] = []
    for sl, mask in slices:
        for metric in metrics:
            rows, keep = {}, None
            for role, (pred, loss) in outputs.items():
                v, k = group_rows(metric, y[mask], pred[mask], loss[mask])
                rows[role], keep = v[k], k
            if keep is None or not keep.any():
                continue
            st = row_mean_stats(rows, n_boot, rng)
            floor = floors.get(metric)
            if floor is None and metric == "loss":
                floor = float(floors.get("loss_factor") or 0.0) * float(np.mean([st[r].value for r in refs]))
            comparator = ("at_least" if HARM_SIGN[metric] < 0 else "at_most") if blocks == "harm" else "two_sided"
            keys.append((slice_label(sl), metric))
            evidence.append(Evidence(
                f"{metric}[{slice_label(sl)}]", "test", st["unlearned"], [st[r] for r in refs], st["original"],
                comparator, floor, int(keep.sum()), f"each retrained reference's {metric} on the group's rows"))
    group_settings = replace(settings, min_rows=max(settings.min_rows, int(min_group_size)))
    eligible = [e for e in evidence if (e.n or 0) >= group_settings.min_rows]
    decided = {id(e): m for e, m in zip(eligible, decide_all(eligible, group_settings, pool_by="metric"),
                                              strict=True)}
    small = [e for e in evidence if id(e) not in decided]
    for e, m in zip(small, decide_all(small, group_settings), strict=True):
        decided[id(e)] = m
    return {key: decided[id(e)] for key, e in zip(keys, evidence, strict=True)}
