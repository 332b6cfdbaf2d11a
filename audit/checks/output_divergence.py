"""``output_divergence``: how far U's predictive distribution is from the references'.

Per row x and reference R_i: KL(R_i(x) || U(x)) (Golatkar et al. 2020 use the KL
between the scrubbed and the retrained model's outputs), Jensen-Shannon divergence,
total variation and top-1 disagreement. The value is the mean over references and
rows; each reference is scored the same way against the *other* references
(leave-one-out), which gives the retrain distribution of the divergence and its seed
spread. One-sided (``at_most``): U fails only when it is further from the retrains than
a fresh retrain would be. The margin floor with ``auto`` is ``auto_factor`` times the
retrain-to-retrain level (never less than ``*_min_margin``); the kernel widens it to the
seeds' prediction interval when that is larger.

Regression (``docs/decisions/0012-regression.md``): per row the absolute difference
``|U(x) - R_i(x)|`` of the predictions, in the targets' units, leave-one-out like the
divergences (gated, ``at_most``; ``auto`` floor = ``auto_factor`` x the retrain-to-retrain
level, never below ``abs_diff_min_margin`` x the split's target standard deviation), and the
1-Wasserstein distance between U's and each reference's distribution of predictions on the
split (reported: a distributional distance, not a mean of rows the kernel can resample).
"""

from __future__ import annotations

import numpy as np

from audit.checks._paired import (
    finish,
    leave_one_out_rows,
    model_roles,
    resolve_margin,
    row_evidence,
)
from audit.checks.base import CheckContext, CheckSpec
from audit.core.decision import Evidence
from audit.core.divergence import (
    row_divergences,  # re-exported: the one home is audit.core.divergence
)
from audit.core.options import SPLITS, Option, switches
from audit.core.results import CheckResult, Figure, Metric

__all__ = ["SPEC", "run", "row_divergences"]

_DIVERGENCES = ("kl", "js", "tv", "disagreement")


def _split_rows(ctx: CheckContext, split: str) -> dict[str, dict[str, np.ndarray]]:
    """``{divergence: {role: per-row mean over the references other than role}}``.

    Each pair's divergences are computed chunk by chunk (:meth:`OutputCache.rowwise`), so
    no ``[n, classes]`` float64 array of a whole split is ever made.
    """
    def pair(r: str, c: str) -> dict[str, np.ndarray]:
        return ctx.cache.rowwise(lambda lr, lc, y: row_divergences(lr, lc), split, r, c)

    by_role = leave_one_out_rows(ctx, pair)
    return {d: {c: v[d] if isinstance(v, dict) else v for c, v in by_role.items()} for d in _DIVERGENCES}


def _histogram(u: np.ndarray, r: np.ndarray | None, split: str) -> Figure:
    lu = np.log10(u + 1e-8)
    lr = None if r is None else np.log10(r + 1e-8)
    lo = float(min(lu.min(), lr.min() if lr is not None else lu.min()))
    hi = float(max(lu.max(), lr.max() if lr is not None else lu.max()))
    edges = np.linspace(lo, hi if hi > lo else lo + 1.0, 31)
    series = [{"label": "KL(R || U)", "bin_edges": edges, "counts": np.histogram(lu, edges)[0]}]
    if lr is not None:
        series.append({"label": "KL(R || R') noise floor", "bin_edges": edges,
                       "counts": np.histogram(lr, edges)[0]})
    return Figure("histogram", f"Per-row KL divergence on the {split} split",
                  {"series": series, "xlabel": "log10 KL per row (nats)"})


def _floor(pol: dict, d: str, ref_level: float) -> float | None:
    """The margin floor: numeric, or ``auto`` = auto_factor x the retrain-to-retrain level."""
    setting = pol[f"{d}_margin"]
    margin = resolve_margin(setting, ref_level, pol["auto_factor"])
    if margin is not None and setting == "auto":
        margin = max(margin, float(pol[f"{d}_min_margin"]))
    return margin


def _regression(ctx: CheckContext, split: str) -> tuple[Evidence, Metric]:
    """Gated mean |U(x) - R(x)| (leave-one-out) and the reported 1-Wasserstein distance."""
    from scipy.stats import wasserstein_distance

    c, pol = ctx.cache, ctx.policy
    refs, roles = model_roles(ctx)
    rows = leave_one_out_rows(ctx, lambda r, x: np.abs(c.values(r, split) - c.values(x, split)))
    level = float(np.mean([rows[r].mean() for r in refs]))
    floor = resolve_margin(pol["abs_diff_margin"], level, pol["auto_factor"])
    if pol["abs_diff_margin"] == "auto":
        floor = max(floor or 0.0, float(pol["abs_diff_min_margin"]) * float(np.std(c.labels(split))))
    ev = row_evidence(ctx, "abs_diff", split, rows, "at_most", floor,
                      "each retrained reference's mean absolute prediction difference from the other "
                      "references (leave-one-out)", relative=True)
    w1 = {x: float(np.mean([wasserstein_distance(c.values(r, split), c.values(x, split))
                            for r in refs if r != x])) for x in roles}
    info = Metric("wasserstein", split, w1["unlearned"], reference=float(np.mean([w1[r] for r in refs])),
                  comparator="info", n=len(c.labels(split)),
                  note="1-Wasserstein distance of the prediction distributions; reported, not gated")
    return ev, info


def _run_regression(ctx: CheckContext) -> CheckResult:
    refs, _ = model_roles(ctx)
    evidence: list[Evidence] = []
    info: list[Metric] = []
    if len(refs) >= 2:
        for split in ctx.policy["splits"]:
            if ctx.case.n.get(split, 0) > 0:
                ev, w1 = _regression(ctx, split)
                evidence.append(ev)
                info.append(w1)
    missing = [] if len(refs) >= 2 else ["a second retrained reference (to measure the retrain noise floor)"]
    return finish(ctx, "output_divergence", SPEC.title, evidence, info, _summary, missing=missing)


def run(ctx: CheckContext) -> CheckResult:
    """Compare U-vs-R divergences with the retrain-to-retrain distribution on every split.

    Parameters
    ----------
    ctx : CheckContext
        The case, the output cache, this check's policy and its seeded rng.

    Returns
    -------
    CheckResult
        Gated metrics decided by the kernel (:func:`audit.checks._paired.finish`), findings,
        tables and figures.
    """
    if ctx.cache.task == "regression":
        return _run_regression(ctx)
    pol = ctx.policy
    refs, _ = model_roles(ctx)
    evidence: list[Evidence] = []
    info: list[Metric] = []
    figures: list[Figure] = []
    src = "each retrained reference's divergence from the other references (leave-one-out)"
    for split in pol["splits"]:
        if ctx.case.n.get(split, 0) == 0:
            continue
        rows = _split_rows(ctx, split)
        for d in _DIVERGENCES:
            level = float(np.mean([rows[d][r].mean() for r in refs])) if len(refs) >= 2 else float("nan")
            ev = row_evidence(ctx, d, split, rows[d], "at_most", _floor(pol, d, level), src,
                                relative=True) \
                if len(refs) >= 2 else None
            if ev is not None and d in pol["gate_on"]:
                evidence.append(ev)
            elif d not in pol["gate_on"]:
                u = rows[d]["unlearned"]
                info.append(Metric(d, split, float(u.mean()), reference=level if len(refs) >= 2 else None,
                                   comparator="info", n=len(u), note="context; not gated"))
        if split == "forget" and len(refs) >= 2:
            ref_kl = np.mean([rows["kl"][r] for r in refs], axis=0)
            figures.append(_histogram(rows["kl"]["unlearned"], ref_kl, split))
    missing = [] if len(refs) >= 2 else ["a second retrained reference (to measure the retrain noise floor)"]
    return finish(ctx, "output_divergence", SPEC.title, evidence, info, _summary, figures=figures,
                  missing=missing)


def _summary(status: str, metrics: list[Metric]) -> str:
    forget_kl = next((m for m in metrics if m.name == "kl" and m.split == "forget"), None)
    forget_ad = next((m for m in metrics if m.name == "abs_diff" and m.split == "forget"), None)
    tail = ""
    if forget_ad is not None and forget_ad.value is not None and forget_ad.reference is not None:
        tail = (f" On the forget rows the mean absolute prediction difference |U - R| = {forget_ad.value:.4g} "
                f"against {forget_ad.reference:.4g} between retrains.")
    if forget_kl is not None and forget_kl.value is not None and forget_kl.reference:
        tail = (f" On the forget rows KL(R||U) = {forget_kl.value:.4g} against a retrain-to-retrain "
                f"noise floor of {forget_kl.reference:.4g}.")
    if status == "pass":
        return "U's predictions are as close to the retrained models as retrains are to each other." + tail
    if status == "fail":
        return "U's predictions differ from the retrained models by more than retrains differ." + tail
    return "The data cannot yet show U's predictions to be as close to retrains as retrains are." + tail


SPEC = CheckSpec(
    id="output_divergence",
    title="Output divergence from retrained models",
    run=run,
    kind="forgetting",
    order=20,
    tasks=("classification", "regression"),
    options={
        **switches(required=True),
        "splits": Option(list, ["forget", "retain", "test"], "splits on which U is compared with R",
                         items=Option(str, choices=SPLITS), min_items=1, tighter="superset"),
        "gate_on": Option(list, ["kl"], "divergences that decide the status (the others are reported)",
                          items=Option(str, choices=_DIVERGENCES), min_items=1, tighter="superset"),
        "auto_factor": Option(float, 0.25, '"auto" floor = auto_factor x the retrain-to-retrain level '
                              '(the references\' spread widens it)',
                              minimum=0, exclusive_minimum=True, tighter="lower"),
        "kl_margin": Option(float, "auto", "KL margin", minimum=0, allow_auto=True, tighter="lower"),
        "js_margin": Option(float, "auto", "Jensen-Shannon margin", minimum=0, allow_auto=True,
                            tighter="lower"),
        "tv_margin": Option(float, "auto", "total-variation margin", minimum=0, maximum=1,
                            allow_auto=True, tighter="lower"),
        "disagreement_margin": Option(float, "auto", "top-1 disagreement margin", minimum=0, maximum=1,
                                      allow_auto=True, tighter="lower"),
        # auto margins never go below these (two retrains can agree perfectly on a split)
        "kl_min_margin": Option(float, 0.001, "floor of the auto KL margin", minimum=0, tighter="lower"),
        "js_min_margin": Option(float, 0.0005, "floor of the auto JS margin", minimum=0, tighter="lower"),
        "tv_min_margin": Option(float, 0.01, "floor of the auto TV margin", minimum=0, maximum=1,
                                tighter="lower"),
        "disagreement_min_margin": Option(float, 0.02, "floor of the auto disagreement margin",
                                          minimum=0, maximum=1, tighter="lower"),
        "abs_diff_margin": Option(float, "auto", "regression: margin of the mean absolute prediction "
                                  "difference |U - R| (targets' units)", minimum=0, allow_auto=True,
                                  tighter="lower"),
        "abs_diff_min_margin": Option(float, 0.01, "regression: floor of the auto |U - R| margin as a "
                                      "share of the split's target standard deviation", minimum=0,
                                      tighter="lower"),
    },
)
