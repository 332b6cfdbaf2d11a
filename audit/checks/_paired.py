"""Shared machinery: a metric from paired per-row quantities of U and the references."""

from __future__ import annotations

import numpy as np

from audit.checks.base import CheckContext
from audit.results import Metric
from audit.stats import bootstrap_mean_ci, ci_level, equivalence_status, n_to_settle

__all__ = ["paired_metric", "resolve_margin"]


def resolve_margin(setting: object, noise_floor: float | None, factor: float) -> float | None:
    """A numeric margin, or ``auto`` = ``factor`` x the reference-vs-reference noise floor.

    Returns ``None`` when ``auto`` cannot be resolved (no noise floor available).
    """
    if setting == "auto":
        if noise_floor is None or not np.isfinite(noise_floor):
            return None
        return float(factor) * float(noise_floor)
    return float(setting)  # type: ignore[arg-type]


def paired_metric(
    ctx: CheckContext,
    name: str,
    split: str,
    u_rows: np.ndarray,
    r_rows: np.ndarray,
    margin: float | None,
    comparator: str,
    note: str | None = None,
) -> Metric:
    """Compare mean(u_rows) with mean(r_rows) on the same rows.

    The value, the reference and their difference are bootstrapped with the *same*
    resampled rows (paired), at the TOST confidence level ``1 - 2*alpha``.
    """
    u = np.asarray(u_rows, dtype=np.float64)
    r = np.asarray(r_rows, dtype=np.float64)
    n = len(u)
    if n == 0:
        return Metric(name, split, None, margin=margin, comparator=comparator, n=0,  # type: ignore[arg-type]
                      status="inconclusive", note="no rows")
    lo, hi = bootstrap_mean_ci(np.stack([u, r, u - r], axis=1), ctx.n_boot, ci_level(ctx.alpha), ctx.rng)
    delta = float(u.mean() - r.mean())
    delta_ci = (float(lo[2]), float(hi[2]))
    status = equivalence_status(delta_ci, margin, comparator) if comparator != "info" else None
    settle = n_to_settle(delta, delta_ci, n, margin, comparator) if status == "inconclusive" else None
    return Metric(
        name=name,
        split=split,
        value=float(u.mean()),
        ci=(float(lo[0]), float(hi[0])),
        reference=float(r.mean()),
        reference_ci=(float(lo[1]), float(hi[1])),
        delta=delta,
        delta_ci=delta_ci,
        margin=margin,
        comparator=comparator,  # type: ignore[arg-type]
        n=n,
        status=status,
        n_to_settle=settle,
        note=note,
    )
