"""Shared machinery of the checks: evidence from per-row values, and deciding it.

Every gated metric of every check goes through :mod:`audit.decision` (the one decision
kernel) via :func:`row_evidence` / :func:`finish`; :func:`paired_metric` remains for
context-only (``info``) metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from audit.checks.base import CheckContext
from audit.decision import Evidence, check_controls, decide_all, row_mean_stats
from audit.results import CheckResult, Metric, worst_status
from audit.stats import bootstrap_mean_ci, ci_level, equivalence_status, n_to_settle

__all__ = ["paired_metric", "resolve_margin", "row_evidence", "leave_one_out_rows", "finish", "model_roles"]


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


def model_roles(ctx: CheckContext) -> tuple[list[str], list[str]]:
    """``(refs, roles)``: the reference roles, and every role a check scores (U, O, refs)."""
    refs = list(ctx.cache.reference_roles)
    return refs, ["unlearned", "original", *refs]


def row_evidence(
    ctx: CheckContext,
    name: str,
    split: str,
    rows: dict[str, np.ndarray],
    comparator: str,
    floor: float | None,
    source: str,
    note: str | None = None,
    relative: bool = False,
) -> Evidence:
    """Evidence for a mean of per-row values: U, O and every reference on the same rows.

    ``rows`` maps every role (``unlearned``, ``original``, each reference) to its per-row
    values; for a statistic relative to the references, a reference's rows must already
    be computed against the *other* references (leave-one-out).
    """
    refs, roles = model_roles(ctx)
    st = row_mean_stats({r: rows[r] for r in roles}, ctx.n_boot, ctx.rng)
    return Evidence(name, split, st["unlearned"], [st[r] for r in refs], st["original"], comparator,
                    floor, len(rows["unlearned"]), source, note, relative=relative)


def leave_one_out_rows(ctx: CheckContext, pair: Callable[[str, str], Any]) -> dict[str, Any]:
    """Per-row ``mean_{R != c} pair(R, c)`` for every role ``c``: a reference never meets itself.

    ``pair`` returns an array of per-row values, or a dict of them (then so does each
    entry of the result). Pairs are summed as they come, so only one is held at a time.
    """
    refs, roles = model_roles(ctx)
    out: dict[str, Any] = {}
    for c in roles:
        total: Any = None
        others = [r for r in refs if r != c]
        for r in others:
            rows = pair(r, c)
            if total is None:
                total = rows
            elif isinstance(rows, dict):
                total = {k: total[k] + v for k, v in rows.items()}
            else:
                total = total + rows
        if total is None:
            out[c] = np.full(0, np.nan)
        else:
            out[c] = ({k: v / len(others) for k, v in total.items()} if isinstance(total, dict)
                      else total / len(others))
    return out


def finish(ctx: CheckContext, check_id: str, title: str, evidence: list[Evidence], info: list[Metric],
           summary: Callable[[str, list[Metric]], str], **kwargs: Any) -> CheckResult:
    """Decide the gated evidence with the kernel and assemble the check's result.

    The status is the worst over gated metrics (``inconclusive`` when there are none);
    the check's negative and positive controls are attached.
    """
    gated = decide_all(evidence, ctx.settings)
    status = worst_status([m.status for m in gated if m.status])
    controls = check_controls(gated)
    if status == "fail" and controls["negative"]["failed"]:
        status = "inconclusive"
        kwargs.setdefault("notes", []).append(
            f"{controls['negative']['failed']} of {controls['negative']['total']} retrained references fail "
            "this check when scored against the others: the check is mis-calibrated on this case, so its "
            "fail is reported as inconclusive")
    return CheckResult(id=check_id, title=title, status=status, summary=summary(status, gated),
                       metrics=[*gated, *info], controls=controls, **kwargs)
