"""``subgroup_shift``: did unlearning hurt a group — one that was declared, or one nobody named?

Two complementary analyses on the test split (rows no model was trained on):

1. **Declared groups** — every value of each ``[data] groups`` column and every pair of two
   columns' values. Per group and model: n, accuracy, loss, binary FNR / FPR. Deltas
   U − R (what the method did beyond exact retraining; decides) and U − O (what the removal
   did overall; reported) with within-group bootstrap CIs, paired exact tests, and Holm
   (gate) / Benjamini–Hochberg (reported) adjustment across all groups × metrics.
   A group × metric fails only when its CI lies beyond the margin on the harmful side *and*
   its Holm-adjusted p is below α. Groups smaller than ``min_group_size`` are reported with
   their n and ``inconclusive``; they never decide and never crash the check.
2. **Discovered slices** — group columns and quantile-binned features, lattice depth ≤ 2,
   searched on one random half of the test rows for where U is worse than R (per-row loss
   difference or disagreement), confirmed on the other half (Holm over the candidates).

Each flagged slice is related to the forgotten data: share of forget rows with the slice's
group values (against the retain share) and a forget-vs-retain classifier's similarity.
Policy ``on_shift`` says whether a harmful shift blocks (``fail``, default) or ``warn``s.

Regression: the one per-group metric is the mean squared error (``loss``; its floor
``loss_margin_factor`` x the group's reference MSE); discovery ranks by the squared-error
difference and a slice must lose at least ``discovery_min_harm`` of the references' MSE
(relative), confirmed by the kernel on the slice's MSE.

The findings (declared, removal, discovered) and their relation to the forgotten data are
worded in :mod:`audit.checks._subgroup_findings`.
"""

from __future__ import annotations

from typing import Any

from audit.checks._subgroup_findings import (
    METRIC_NAMES,
    SPLIT,
    declared_findings,
    discovered_findings,
    removal_findings,
    role_outputs,
)
from audit.checks.base import CheckContext, CheckSpec
from audit.checks.subgroups import (
    ForgetLikeness,
    GroupTest,
    compare_groups,
    enumerate_slices,
    group_metrics,
    slice_label,
)
from audit.checks.subgroups.inference import HARM_SIGN
from audit.checks.subgroups.kernel import kernel_group_metrics
from audit.core.decision import check_controls
from audit.core.options import Option, switches
from audit.core.results import CheckResult, Figure, Finding, Metric, Table

__all__ = ["SPEC", "run"]



def _outputs(ctx: CheckContext) -> dict[str, Any]:
    cache = ctx.cache
    refs = cache.reference_roles
    return {
        "y": cache.labels(SPLIT),
        "u": (cache.predictions("unlearned", SPLIT), cache.losses("unlearned", SPLIT)),
        "o": (cache.predictions("original", SPLIT), cache.losses("original", SPLIT)),
        "r_pred": [cache.predictions(r, SPLIT) for r in refs],
        "r_loss": [cache.losses(r, SPLIT) for r in refs],
        "refs": refs,
    }


def _validate(pol: dict[str, Any], binary: bool) -> list[str]:
    # option values are validated up front from SPEC.options (audit.engine.policy)
    return [m for m in pol["metrics"] if binary or m not in ("fnr", "fpr")]


def _group_tables(out: dict[str, Any], slices: list, binary: bool, tests: list[GroupTest],
                  regression: bool = False) -> list[Table]:
    preds = {"original": out["o"][0], "unlearned": out["u"][0]}
    losses = {"original": out["o"][1], "unlearned": out["u"][1]}
    for r, p, lo in zip(out["refs"], out["r_pred"], out["r_loss"], strict=True):
        preds[r], losses[r] = p, lo
    gm = group_metrics(out["y"], preds, losses, slices, binary=binary)
    if regression:  # a regressor has no accuracy; its loss is the squared error
        gm = gm.drop(columns="accuracy").rename(columns={"loss": "mse"})
    cols = list(gm.columns)
    t_cols = ["slice", "metric", "comparison", "n", "value", "reference", "delta", "ci_low", "ci_high",
              "margin", "test", "p_value", "p_holm", "p_bh", "status", "n_to_settle", "note"]
    rows = [[slice_label(t.slice), t.metric, t.comparison, t.n, t.value, t.reference, t.delta,
             t.ci[0] if t.ci else None, t.ci[1] if t.ci else None, t.margin, t.test, t.p_value,
             t.p_holm, t.p_bh, t.status or "info", t.n_to_settle, "; ".join(t.notes) or None] for t in tests]
    return [
        Table("per-group metrics (test split)", cols, gm.astype(object).where(gm.notna(), None).values.tolist()),
        Table("per-group deltas: U-R decides, U-O reported (Holm gate, BH reported)", t_cols, rows),
    ]


def _forest(tests: list[GroupTest], min_n: int, margin: float) -> Figure:
    rows = [{"label": slice_label(t.slice), "value": t.delta, "ci": list(t.ci)} for t in tests
            if t.comparison == "U-R" and t.metric == "accuracy" and t.n >= min_n and t.ci is not None]
    return Figure("forest", "Accuracy U − R per group (test split)", {"rows": rows, "margin": margin})


def _apply_kernel(ctx: CheckContext, out: dict[str, Any], tests: list[GroupTest], slices: list,
                  metrics: list[str], margins: dict, min_n: int) -> list[Metric]:
    """Decide every U − R group test with the decision kernel (rows + retrain seeds)."""
    km = kernel_group_metrics(slices, out["y"], role_outputs(out), out["refs"], metrics, margins,
                              ctx.settings, min_n, ctx.n_boot, ctx.rng, blocks=ctx.policy["blocks"])
    for t in tests:
        if t.comparison != "U-R":
            continue  # U − O is reported, not decided
        m = km.get((slice_label(t.slice), t.metric))
        if m is None:  # no row of the group carries the metric (e.g. FNR without positives)
            t.status = "inconclusive"
            continue
        t.status, t.margin, t.n_to_settle, t.effect = m.status, m.margin, m.n_to_settle, m.effect
        if m.status == "fail" and m.effect is None:  # two-sided (blocks = "both"): the side from the sign
            m.effect = t.effect = "harm" if (m.delta or 0.0) * HARM_SIGN[t.metric] > 0 else "improvement"
        if m.note:
            t.notes.append(m.note)
    return list(km.values())


def _status_and_summary(findings: list[Finding], tests: list[GroupTest], verdict: str, n_groups: int,
                        min_n: int, metric: str = "accuracy") -> tuple[str, str]:
    harm = [f for f in findings if f.status == verdict]
    better = sorted({slice_label(f.slice) for f in findings if f.effect == "improvement" and f.status == "info"})
    status, summary = _status_and_words(harm, tests, verdict, n_groups, min_n, metric)
    if better:
        summary += (f" {len(better)} group(s) did better than under a retrain (reported as improvements, "
                    "not blocking): " + "; ".join(better[:4]) + (" …" if len(better) > 4 else "") + ".")
    return status, summary


def _status_and_words(harm: list[Finding], tests: list[GroupTest], verdict: str, n_groups: int,
                      min_n: int, metric: str = "accuracy") -> tuple[str, str]:
    decided = [t for t in tests if t.comparison == "U-R" and t.metric == metric and t.n >= min_n]
    name = "accuracy" if metric == "accuracy" else "mean squared error"
    if harm:
        names = sorted({slice_label(f.slice) for f in harm})
        return verdict, (f"Unlearning shifted {len(names)} group(s) beyond what retraining does: "
                         + "; ".join(names[:4]) + (" …" if len(names) > 4 else "") + ".")
    if n_groups and decided and all(t.status == "pass" for t in decided):
        return "pass", (f"No group large enough to judge ({len(decided)}) is served worse ({name}) by the "
                        f"unlearned model than by the retrains beyond what retrains show, and no discovered "
                        f"slice was confirmed.")
    if not n_groups:
        return "pass", ("No subgroup columns are declared; slice discovery over binned features "
                        "confirmed no slice where U is worse than the retrained references.")
    if not decided:
        return "inconclusive", ("No declared group is large enough to show equivalence; no discovered slice "
                                "was confirmed.")
    open_ = [slice_label(t.slice) for t in decided if t.status != "pass"]
    return "inconclusive", ("No harmful shift was confirmed, but equivalence is not shown for: "
                            + "; ".join(open_[:4]) + (" …" if len(open_) > 4 else ""))


def run(ctx: CheckContext) -> CheckResult:
    """Per-group deltas and slice discovery of U against the retrained references.

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
    pol, case = ctx.policy, ctx.case
    regression = ctx.cache.task == "regression"
    binary = int(case.n_classes) == 2 and not regression
    metrics = ["loss"] if regression else _validate(pol, binary)
    out = _outputs(ctx)
    frame = case.frame(SPLIT)
    min_n = int(pol["min_group_size"])
    slices = enumerate_slices(frame, list(case.groups), max_depth=int(pol["max_depth"])) if case.groups else []
    margins = {"accuracy": float(pol["accuracy_margin"]), "fnr": float(pol["rate_margin"]),
               "fpr": float(pol["rate_margin"]), "loss": None, "loss_factor": float(pol["loss_margin_factor"])}
    tests = compare_groups(slices, out["y"], out["u"],
                           {"U-R": (out["r_pred"], out["r_loss"]), "U-O": ([out["o"][0]], [out["o"][1]])},
                           metrics, ctx.alpha, ctx.n_boot, ctx.rng, min_n)
    decided = _apply_kernel(ctx, out, tests, slices, metrics, margins, min_n)
    like = ForgetLikeness(case.encoded_X("forget"), case.encoded_X("retain"), ctx.rng) if case.n.get("forget") else None
    verdict = pol["on_shift"]
    masks = {slice_label(s): m for s, m in slices}
    findings = declared_findings(ctx, out, tests, masks, like, verdict)
    notes = [f"{len(slices)} declared groups; {sum(len(s) == 2 for s, _ in slices)} are intersections",
             f"groups below min_group_size={min_n} are reported as inconclusive and do not decide"]
    if pol["discovery"]:
        found, dnotes = discovered_findings(ctx, out, pol, like, verdict)
        findings += found
        notes += dnotes
    findings += removal_findings(tests, ctx.alpha)
    status, summary = _status_and_summary(findings, tests, verdict, len(slices), min_n,
                                          "loss" if regression else "accuracy")
    if regression:
        notes.append("regression: the per-group metric is the mean squared error (the policy's metrics "
                     "list names classifier metrics)")
    missing = [] if case.groups else ["no [data] groups declared: only discovered slices were searched"]
    if not case.groups and not pol["discovery"]:
        status, summary = "inconclusive", ("Nothing was examined: no [data] groups are declared and slice "
                                           "discovery is off.")
        missing = ["[data] groups, or policy subgroup_shift.discovery = true"]
    return CheckResult(id="subgroup_shift", title=SPEC.title, status=status, summary=summary,
                       metrics=decided, findings=findings, controls=check_controls(decided),
                       tables=_group_tables(out, slices, binary, tests, regression) if slices else [],
                       figures=[_forest(tests, min_n, margins["accuracy"])] if slices and not regression else [],
                       notes=notes, missing=missing)


SPEC = CheckSpec(
    id="subgroup_shift",
    title="Subgroup shift (declared groups and discovered slices)",
    run=run,
    kind="harm",
    order=60,
    tasks=("classification", "regression"),
    options={
        **switches(required=True),
        "metrics": Option(list, ["accuracy", "loss", "fnr", "fpr"], "per-group metrics (fnr/fpr: binary only)",
                          items=Option(str, choices=tuple(METRIC_NAMES)), min_items=1, tighter="superset"),
        "accuracy_margin": Option(float, 0.05, "largest accepted group accuracy drop U - R",
                                  minimum=0, maximum=1, tighter="lower"),
        "rate_margin": Option(float, 0.08, "largest accepted FNR / FPR rise U - R", minimum=0,
                              maximum=1, tighter="lower"),
        "loss_margin_factor": Option(float, 0.5, "loss margin as a share of the group's reference loss",
                                     minimum=0, tighter="lower"),
        "min_group_size": Option(int, 30, "smallest group (rows) whose shift is judged; smaller groups are "
                                 "reported as inconclusive with their size and never decide", minimum=2),
        "blocks": Option(str, "harm", "which group shifts can block: 'harm' (a group served worse than under a "
                         "retrain; an improvement is reported, never blocks) or 'both' (any shift beyond "
                         "what retrains show)", choices=("harm", "both"), tighter=("harm", "both")),
        "max_depth": Option(int, 2, "most group columns combined in one slice", minimum=1),
        "on_shift": Option(str, "fail", "status of a harmful shift", choices=("warn", "fail"),
                           tighter=("warn", "fail")),
        "discovery": Option(bool, True, "search for harmed slices beyond the declared groups",
                            tighter="higher"),
        "discovery_signal": Option(str, "loss", "row signal the slice search ranks by",
                                   choices=("loss", "disagreement")),
        "feature_bins": Option(int, 4, "quantile bins per numeric feature in the search", minimum=2),
        "max_binned_features": Option(int, 30, "numeric features binned for the search", minimum=0),
        "max_candidates": Option(int, 5, "slices confirmed on the held-out half", minimum=1),
        "min_slice_size": Option(int, 100, "smallest discovered slice (rows over both halves)",
                                 minimum=2),
        "discovery_min_harm": Option(float, 0.10, "smallest accuracy harm a discovered slice must show",
                                     minimum=0, maximum=1, tighter="lower"),
    },
)
