"""``utility``: accuracy and loss on the retain and test splits, U against R.

Catastrophic unlearning (U much worse than a retrain) fails; so does a U that is
much *better* on retain/test than a retrain (two-sided: it is not behaving like one).
"""

from __future__ import annotations

import numpy as np

from audit.checks._paired import paired_metric, resolve_margin
from audit.checks.base import CheckContext, CheckSpec
from audit.checks.options import SPLITS, Option, switches
from audit.results import CheckResult, worst_status

__all__ = ["SPEC", "run"]


def run(ctx: CheckContext) -> CheckResult:
    """Compare U's accuracy and loss with the mean of the retrained references."""
    cache, pol = ctx.cache, ctx.policy
    refs = cache.reference_roles
    metrics = []
    for split in pol["splits"]:
        if ctx.case.n.get(split, 0) == 0:
            continue
        r_correct = np.mean([cache.correct(r, split) for r in refs], axis=0)
        metrics.append(
            paired_metric(ctx, "accuracy", split, cache.correct("unlearned", split), r_correct,
                          float(pol["accuracy_margin"]), "two_sided")
        )
        r_loss = np.mean([cache.losses(r, split) for r in refs], axis=0)
        loss_margin = resolve_margin(pol["loss_margin"], float(r_loss.mean()), pol["loss_margin_factor"])
        metrics.append(
            paired_metric(ctx, "loss", split, cache.losses("unlearned", split), r_loss,
                          loss_margin, "two_sided",
                          note="auto margin = loss_margin_factor x reference loss"
                          if pol["loss_margin"] == "auto" else None)
        )
        metrics.append(
            paired_metric(ctx, "accuracy[original]", split, cache.correct("original", split),
                          r_correct, None, "info", note="context: the original model")
        )
    status = worst_status([m.status for m in metrics if m.status])
    worse = [m for m in metrics if m.status == "fail" and m.name == "accuracy" and (m.delta or 0) < 0]
    if worse:
        summary = "Unlearning damaged the model: " + "; ".join(
            f"{m.split} accuracy {m.value:.3f} vs {m.reference:.3f} retrained" for m in worse)
    elif status == "pass":
        summary = "Accuracy and loss on retain and test are equivalent to the retrained references."
    elif status == "fail":
        summary = "Accuracy or loss on retain/test differs from the retrained references beyond the margin."
    else:
        summary = "Utility could not be shown equivalent to the retrained references with this much data."
    return CheckResult(id="utility", title=SPEC.title, status=status, summary=summary, metrics=metrics)


SPEC = CheckSpec(
    id="utility",
    title="Utility (accuracy and loss kept)",
    run=run,
    order=10,
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
    },
)
