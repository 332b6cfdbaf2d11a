"""Shared machinery of the checks: evidence from per-row values, and deciding it.

Every gated metric of every check, in model and in method mode, goes through
:mod:`audit.core.decision` (the one decision kernel) via :func:`row_evidence` / :func:`finish`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from audit.checks.base import CheckContext
from audit.core.decision import Evidence, check_controls, decide_all, row_mean_stats
from audit.core.results import CheckResult, Metric, worst_status

__all__ = ["resolve_margin", "row_evidence", "leave_one_out_rows", "finish", "model_roles"]


def resolve_margin(setting: object, noise_floor: float | None, factor: float) -> float | None:
    """A numeric margin, or ``auto`` = ``factor`` x the reference-vs-reference noise floor.

    Returns ``None`` when ``auto`` cannot be resolved (no noise floor available).

    Parameters
    ----------
    setting : float or "auto"
        The policy's margin.
    noise_floor : float or None
        The reference-vs-reference level.
    factor : float
        Multiplier of the noise floor for ``auto``.

    Returns
    -------
    float or None

    Examples
    --------
    >>> resolve_margin(0.1, None, 2.0), resolve_margin("auto", 0.05, 2.0), resolve_margin("auto", None, 2.0)
    (0.1, 0.1, None)
    """
    if setting == "auto":
        if noise_floor is None or not np.isfinite(noise_floor):
            return None
        return float(factor) * float(noise_floor)
    return float(setting)  # type: ignore[arg-type]


def model_roles(ctx: CheckContext) -> tuple[list[str], list[str]]:
    """``(refs, roles)``: the reference roles, and every role a check scores (U, O, refs).

    Parameters
    ----------
    ctx : CheckContext
        The check's context.

    Returns
    -------
    refs : list of str
        ``retrained:0..``.
    roles : list of str
        ``unlearned``, ``original`` and the references.
    """
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

    Parameters
    ----------
    ctx : CheckContext
        The check's context (bootstrap count and rng).
    name, split : str
        The metric's name and split.
    rows : dict of str to ndarray
        Per-row values of every role.
    comparator : str
        ``two_sided``, ``at_most`` or ``at_least``.
    floor : float or None
        The margin floor (the kernel widens it to the references' spread).
    source : str
        Where the reference values come from, in words.
    note : str, optional
        Shown with the metric.
    relative : bool
        The statistic is relative to the references (leave-one-out).

    Returns
    -------
    Evidence
    """
    refs, roles = model_roles(ctx)
    st = row_mean_stats({r: rows[r] for r in roles}, ctx.n_boot, ctx.rng)
    return Evidence(name, split, st["unlearned"], [st[r] for r in refs], st["original"], comparator,
                    floor, len(rows["unlearned"]), source, note, relative=relative)


def leave_one_out_rows(ctx: CheckContext, pair: Callable[[str, str], Any]) -> dict[str, Any]:
    """Per-row ``mean_{R != c} pair(R, c)`` for every role ``c``: a reference never meets itself.

    ``pair`` returns an array of per-row values, or a dict of them (then so does each
    entry of the result). Pairs are summed as they come, so only one is held at a time.

    Parameters
    ----------
    ctx : CheckContext
        The check's context.
    pair : callable
        ``pair(reference, role) -> per-row values`` (array, or dict of arrays).

    Returns
    -------
    dict
        ``{role: mean over the other references}``.
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

    Parameters
    ----------
    ctx : CheckContext
        The check's context (kernel settings).
    check_id, title : str
        The check's id and title.
    evidence : list of Evidence
        The gated metrics.
    info : list of Metric
        Reported metrics (no status).
    summary : callable
        ``summary(status, metrics) -> str``.
    **kwargs
        Further :class:`audit.core.results.CheckResult` fields (tables, figures, notes, missing).

    Returns
    -------
    CheckResult
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
