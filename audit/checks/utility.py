"""``utility``: accuracy and loss on the retain and test splits, U against the retrains.

Regression: RMSE (gated, ``at_most``), MAE and R² (reported) on the same splits; the RMSE's
replicates are the square roots of the paired bootstrap of the mean squared error, so every
model is resampled on the same rows.

A harm check: it asks a one-sided question — is U *worse* than a fresh retrain would be?
Accuracy fails only below the retrain distribution (``at_least``), loss only above it
(``at_most``); a U better than the retrains is reported, never blocking. Each reference's
accuracy and loss on the same rows is measured; the decision kernel
(:mod:`audit.core.decision`) adds their seed spread to the row bootstrap.
"""

from __future__ import annotations

import numpy as np

from audit.checks._paired import finish, model_roles, resolve_margin, row_evidence
from audit.checks.base import CheckContext, CheckSpec
from audit.core.decision import Evidence, ModelStat, row_mean_stats
from audit.core.options import SPLITS, Option, switches
from audit.core.results import CheckResult, Metric
from audit.core.stats import winsorize_by_references

__all__ = ["SPEC", "run"]


def _evidence(ctx: CheckContext, split: str) -> list[Evidence]:
    cache, pol = ctx.cache, ctx.policy
    refs, roles = model_roles(ctx)
    correct = {r: cache.correct(r, split) for r in roles}
    losses, _ = winsorize_by_references({r: cache.losses(r, split) for r in roles}, refs)
    ref_loss = float(np.mean([losses[r].mean() for r in refs]))
    loss_floor = resolve_margin(pol["loss_margin"], ref_loss, pol["loss_margin_factor"])
    return [
        row_evidence(ctx, "accuracy", split, correct, "at_least", float(pol["accuracy_margin"]),
                     "each retrained reference's accuracy on the same rows"),
        row_evidence(ctx, "loss", split, losses, "at_most", loss_floor,
                     "each retrained reference's mean cross-entropy on the same rows "
                     "(per-row losses capped at the references' 99th percentile)",
                     note="floor = loss_margin_factor x reference loss" if pol["loss_margin"] == "auto" else None),
    ]


def _regression(ctx: CheckContext, split: str) -> tuple[Evidence, list[Metric]]:
    """RMSE against the retrain distribution (gated); MAE and R² with the references' mean."""
    cache = ctx.cache
    refs, roles = model_roles(ctx)
    y = cache.labels(split)
    st = row_mean_stats({r: cache.losses(r, split) for r in roles}, ctx.n_boot, ctx.rng)
    rmse = {r: ModelStat(float(np.sqrt(s.value)), np.sqrt(s.reps)) for r, s in st.items()}
    ref_rmse = float(np.mean([rmse[r].value for r in refs]))
    ev = Evidence("rmse", split, rmse["unlearned"], [rmse[r] for r in refs], rmse["original"], "at_most",
                  float(ctx.policy["rmse_margin_factor"]) * ref_rmse, len(y),
                  "each retrained reference's RMSE on the same rows",
                  note="floor = rmse_margin_factor x the references' RMSE")
    sst = float(np.sum((y - y.mean()) ** 2))
    mae = {r: float(np.mean(np.abs(cache.values(r, split) - y))) for r in roles}
    r2 = {r: 1.0 - float(np.sum(cache.losses(r, split))) / sst if sst > 0 else float("nan") for r in roles}
    info = [Metric(name, split, vals["unlearned"], reference=float(np.mean([vals[r] for r in refs])),
                   comparator="info", n=len(y), note=note)
            for name, vals, note in (("mae", mae, "mean absolute error; reported, not gated"),
                                     ("r2", r2, "coefficient of determination; reported, not gated"))]
    return ev, info


def run(ctx: CheckContext) -> CheckResult:
    """Compare U's accuracy and loss (regression: RMSE) with the retrain distribution (harm only).

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
    evidence: list[Evidence] = []
    info: list[Metric] = []
    for split in ctx.policy["splits"]:
        if ctx.case.n.get(split, 0) == 0:
            continue
        if ctx.cache.task == "regression":
            ev, more = _regression(ctx, split)
            evidence.append(ev)
            info += more
        else:
            evidence += _evidence(ctx, split)
    return finish(ctx, "utility", SPEC.title, evidence, info, _summary)


def _summary(status: str, metrics: list[Metric]) -> str:
    worse = [m for m in metrics if m.status == "fail"]
    if worse:
        return "Unlearning damaged the model: " + "; ".join(
            f"{m.split} {m.name} {m.value:.3f} vs {m.reference:.3f} retrained" for m in worse)
    regression = any(m.name == "rmse" for m in metrics)
    if status == "pass":
        return ("RMSE on retain and test is no worse than a fresh retrain's." if regression else
                "Accuracy and loss on retain and test are no worse than a fresh retrain's.")
    what = "RMSE is" if regression else "accuracy and loss are"
    return (f"The data cannot yet show that {what} no worse than a retrain's: "
            + "; ".join(f"{m.split} {m.name}" for m in metrics
                        if m.status != "pass" and m.comparator != "info") + ".")


SPEC = CheckSpec(
    id="utility",
    title="Utility (accuracy and loss kept)",
    run=run,
    kind="harm",
    order=10,
    tasks=("classification", "regression"),
    options={
        **switches(required=True),
        "splits": Option(list, ["retain", "test"], "splits whose accuracy and loss are compared",
                         items=Option(str, choices=SPLITS), min_items=1, tighter="superset"),
        "accuracy_margin": Option(float, 0.03, "largest accepted accuracy difference U - R",
                                  minimum=0, maximum=1, tighter="lower"),
        "loss_margin": Option(float, "auto", "largest accepted mean-loss difference U - R; "
                              '"auto" = loss_margin_factor x the references\' loss',
                              minimum=0, allow_auto=True, tighter="lower"),
        "loss_margin_factor": Option(float, 0.5, "auto loss margin as a share of the references' loss",
                                     minimum=0, tighter="lower"),
        "rmse_margin_factor": Option(float, 0.1, "regression: floor of the RMSE margin as a share of the "
                                     "references' RMSE", minimum=0, tighter="lower"),
    },
)
