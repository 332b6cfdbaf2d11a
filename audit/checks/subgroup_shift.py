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
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from audit.checks.base import CheckContext, CheckSpec
from audit.checks.options import Option, switches
from audit.decision import check_controls
from audit.results import CheckResult, Figure, Finding, Metric, Table
from audit.stats import bootstrap_mean_ci, ci_level
from audit.subgroups import (
    ForgetLikeness,
    GroupTest,
    bin_features,
    compare_groups,
    discover_slices,
    enumerate_slices,
    forget_shares,
    group_metrics,
    slice_label,
)
from audit.subgroups.inference import HARM_SIGN, sign_test
from audit.subgroups.kernel import kernel_group_metrics

__all__ = ["SPEC", "run"]

_SPLIT = "test"
_METRIC_NAMES = {"accuracy": "accuracy", "loss": "loss", "fnr": "false-negative rate",
                 "fpr": "false-positive rate"}


def _outputs(ctx: CheckContext) -> dict[str, Any]:
    cache = ctx.cache
    refs = cache.reference_roles
    return {
        "y": cache.labels(_SPLIT),
        "u": (cache.predictions("unlearned", _SPLIT), cache.losses("unlearned", _SPLIT)),
        "o": (cache.predictions("original", _SPLIT), cache.losses("original", _SPLIT)),
        "r_pred": [cache.predictions(r, _SPLIT) for r in refs],
        "r_loss": [cache.losses(r, _SPLIT) for r in refs],
        "refs": refs,
    }


def _validate(pol: dict[str, Any], binary: bool) -> list[str]:
    # option values are validated up front from SPEC.options (audit.policy)
    return [m for m in pol["metrics"] if binary or m not in ("fnr", "fpr")]


def _metric_name(metric: str, regression: bool) -> str:
    return "mean squared error" if regression and metric == "loss" else _METRIC_NAMES[metric]


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


def _forget_only_values(ctx: CheckContext) -> dict[str, set[str]]:
    """Group values present in the forget split but absent from retain (e.g. the withdrawn district)."""
    case = ctx.case
    f, r = case.frame("forget"), case.frame("retain")
    return {g: set(f[g].astype(str)) - set(r[g].astype(str)) for g in case.groups}


def _elsewhere(ctx: CheckContext, out: dict[str, Any], rows: np.ndarray) -> dict[str, Any]:
    """U − R accuracy on the slice's rows *outside* forget-only group values ("students elsewhere")."""
    frame = ctx.case.frame(_SPLIT)
    only = {g: v for g, v in _forget_only_values(ctx).items() if v}
    if not only or ctx.cache.task == "regression":  # an accuracy delta: classifiers only
        return {}
    inside = np.zeros(len(frame), dtype=bool)
    for g, vals in only.items():
        inside |= frame[g].astype(str).isin(vals).to_numpy()
    keep = rows & ~inside
    if not (rows & inside).any() or keep.sum() < 2:
        return {}
    y = out["y"][keep]
    d = (out["u"][0][keep] == y).astype(float) - np.mean([p[keep] == y for p in out["r_pred"]], axis=0)
    lo, hi = bootstrap_mean_ci(d, ctx.n_boot, ci_level(ctx.alpha), ctx.rng)
    nz = d[d != 0]
    return {"elsewhere_excludes": "; ".join(f"{g} in {sorted(v)}" for g, v in only.items()),
            "elsewhere_n": int(keep.sum()), "elsewhere_delta": float(d.mean()),
            "elsewhere_ci_low": float(lo), "elsewhere_ci_high": float(hi),
            "elsewhere_p_value": sign_test(int((nz > 0).sum()), int((nz < 0).sum()))}


def _relation(ctx: CheckContext, sl: dict[str, str], rows: np.ndarray, like: ForgetLikeness | None,
              out: dict[str, Any]) -> dict:
    case = ctx.case
    shares = forget_shares(case.frame("forget"), case.frame("retain"), sl)
    extra: dict[str, Any] = {}
    for cond, s in shares.items():
        extra[f"forget_share[{cond}]"] = s["forget"]
        extra[f"retain_share[{cond}]"] = s["retain"]
    if like is not None and rows.any():
        X = case.encoded_X(_SPLIT)
        extra["forget_similarity_ratio"] = like.ratio(X[rows], X)
    extra.update(_elsewhere(ctx, out, rows))
    return extra


def _relation_text(extra: dict[str, Any]) -> str:
    parts = []
    for k, v in extra.items():
        if k.startswith("forget_share[") and v is not None:
            cond = k[len("forget_share["):-1]
            r = extra.get(f"retain_share[{cond}]")
            if v > (r or 0):
                parts.append(f"{v:.0%} of the forgotten rows have {cond} (retain: {r:.0%})")
    if extra.get("elsewhere_n"):
        parts.append(f"outside the rows only the forget set has ({extra['elsewhere_excludes']}) the accuracy "
                     f"delta is {extra['elsewhere_delta']:+.3f} (n={extra['elsewhere_n']})")
    ratio = extra.get("forget_similarity_ratio")
    if ratio is not None and np.isfinite(ratio):
        parts.append(f"its rows look {ratio:.1f}x as forget-like as the average test row")
    return "; ".join(parts)


def _declared_findings(ctx, out, tests, masks, like, verdict) -> list[Finding]:  # noqa: ANN001
    """A finding per decided U − R shift: harm (blocks) and improvement (blocks only under ``blocks = "both"``)."""
    by_key = {(slice_label(t.slice), t.metric, t.comparison): t for t in tests}
    findings = []
    for t in tests:
        if t.comparison != "U-R" or (t.status != "fail" and t.effect != "improvement"):
            continue
        blocks = t.status == "fail"
        uo = by_key.get((slice_label(t.slice), t.metric, "U-O"))
        extra = {"p_bh": t.p_bh, "u_minus_o": uo.delta if uo else None, "margin": t.margin,
                 "value_u": t.value, "value_r": t.reference, "source": "declared groups"}
        if t.effect == "harm":
            extra.update(_relation(ctx, t.slice, masks[slice_label(t.slice)], like, out))
        rel = _relation_text(extra)
        what = ("the unlearning method, not the removal itself, shifted this group" if t.effect == "harm" else
                "the group is better served than under a retrain"
                + ("; policy subgroup_shift.blocks = 'both' blocks any shift" if blocks else "; reported, "
                   "does not block"))
        msg = (f"{slice_label(t.slice)}: {_metric_name(t.metric, ctx.cache.task == 'regression')} "
               f"{t.value:.3f} under the unlearned model "
               f"vs {t.reference:.3f} under the retrained references (delta {t.delta:+.3f}); {what}"
               + (f". Relation: {rel}" if rel else ""))
        findings.append(Finding(msg, dict(t.slice), metric=t.metric, n=t.n, delta=t.delta, ci=t.ci,
                                p_value=t.p_value, p_adjusted=t.p_holm, test=t.test + " (Holm-adjusted)",
                                status=verdict if blocks else "info", extra=extra, effect=t.effect))
    return findings


def _removal_findings(tests: list[GroupTest], alpha: float) -> list[Finding]:
    """Harm that the retrain shows too: U − O harmful and significant, U − R not failing."""
    by_key = {(slice_label(t.slice), t.metric, t.comparison): t for t in tests}
    out = []
    for t in tests:
        if t.comparison != "U-O" or t.metric != "accuracy" or t.p_holm is None or t.p_holm >= alpha:
            continue
        ur = by_key.get((slice_label(t.slice), t.metric, "U-R"))
        if t.delta is None or t.delta >= 0 or (ur is not None and ur.status == "fail"):
            continue
        msg = (f"{slice_label(t.slice)}: accuracy fell by {-t.delta:.3f} from the original model; the "
               f"retrained references show the same shift, so it comes from removing the data itself")
        out.append(Finding(msg, dict(t.slice), metric="accuracy[U-O]", n=t.n, delta=t.delta, ci=t.ci,
                           p_value=t.p_value, p_adjusted=t.p_holm, test=t.test + " (Holm-adjusted)",
                           status="info", extra={"p_bh": t.p_bh, "source": "removal effect"}, effect="harm"))
    return out


def _signal(out: dict[str, Any], kind: str) -> np.ndarray:
    if kind == "loss":
        return out["u"][1] - np.mean(out["r_loss"], axis=0)
    return np.mean([out["u"][0] != p for p in out["r_pred"]], axis=0)


def _row_values(out: dict[str, Any], regression: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-row U and mean-R values of the discovery metric, and the per-row harm (larger = worse).

    Classification: correctness, harm = R - U. Regression: squared error, harm = (U - R) as a
    share of the references' mean squared error on the split.
    """
    if regression:
        u, r = out["u"][1], np.mean(out["r_loss"], axis=0)
        return u, r, (u - r) / max(float(r.mean()), 1e-300)
    y = out["y"]
    u_ok = (out["u"][0] == y).astype(float)
    r_ok = np.mean([p == y for p in out["r_pred"]], axis=0)
    return u_ok, r_ok, r_ok - u_ok


def _discovered_findings(ctx, out, pol, like, verdict) -> tuple[list[Finding], list[str]]:  # noqa: ANN001
    case = ctx.case
    regression = ctx.cache.task == "regression"
    frame = case.frame(_SPLIT)
    feats = [f for f in case.features if f not in case.groups][: int(pol["max_binned_features"])]
    y = out["y"]
    u_val, r_val, harm = _row_values(out, regression)
    metric, what = ("loss", "mse") if regression else ("accuracy", "accuracy")
    floors = ({"loss": None, "loss_factor": float(pol["loss_margin_factor"])} if regression
              else {"accuracy": float(pol["discovery_min_harm"])})
    signal = _signal(out, "loss" if regression else pol["discovery_signal"])
    disc = pd.concat([frame[case.groups].astype(str), bin_features(frame, feats, int(pol["feature_bins"]))],
                     axis=1)
    cands = discover_slices(disc, list(disc.columns), signal, ctx.rng,
                            alpha=ctx.alpha, min_slice_size=int(pol["min_slice_size"]),
                            max_candidates=int(pol["max_candidates"]), max_depth=int(pol["max_depth"]),
                            harm=harm, min_harm=float(pol["discovery_min_harm"]))
    findings, notes = [], []
    for d in cands:
        if d.confirmed:
            km = kernel_group_metrics([(d.slice, d.mask)], y, _role_outputs(out), out["refs"], [metric],
                                      floors, ctx.settings, 2, ctx.n_boot, ctx.rng)
            k = next(iter(km.values()))
            if k.status != "fail":
                size = f"{what} rise ({(k.delta or 0):.3g})" if regression else f"accuracy loss ({-(k.delta or 0):.3f})"
                notes.append(f"discovered slice {slice_label(d.slice)} was confirmed on the held-out half but "
                             f"its {size} is within what retrains show "
                             f"(margin {k.margin:.3f}): not a finding")
                continue
        if not d.confirmed:
            notes.append(f"candidate slice {slice_label(d.slice)} (search p={d.p_search:.2g}) was not "
                         f"confirmed on the held-out half (Holm p={d.p_adjusted:.2g}, "
                         f"{'relative MSE rise' if regression else 'accuracy loss'} "
                         f"{d.harm if d.harm is not None else float('nan'):.3f}, "
                         f"needed p<{ctx.alpha} and >= {pol['discovery_min_harm']})")
            continue
        m = d.mask
        diff = u_val[m] - r_val[m]
        lo, hi = bootstrap_mean_ci(diff, ctx.n_boot, ci_level(ctx.alpha), ctx.rng)
        full = np.ones(len(frame), dtype=bool)
        for col, val in d.slice.items():
            full &= disc[col].to_numpy() == val
        sig = "loss" if regression else pol["discovery_signal"]
        extra = {"effect_confirm": d.effect_confirm, "effect_search": d.effect_search, "n_search": d.n_search,
                 "p_search": d.p_search, "signal": sig, "source": "discovered slice",
                 f"{what}_u": float(u_val[m].mean()), f"{what}_r": float(r_val[m].mean())}
        extra.update(_relation(ctx, d.slice, full, like, out))
        rel = _relation_text(extra)
        msg = (f"discovered slice {slice_label(d.slice)}: the unlearned model is worse than the retrained "
               f"references here ({what} {extra[f'{what}_u']:.3f} vs {extra[f'{what}_r']:.3f} on the "
               f"confirmation half)" + (f". Relation: {rel}" if rel else ""))
        findings.append(Finding(msg, dict(d.slice), metric=f"{what}[U-R], signal={sig}",
                                n=d.n_confirm, delta=float(diff.mean()), ci=(float(lo), float(hi)),
                                p_value=d.p_confirm, p_adjusted=d.p_adjusted,
                                test="Welch t one-sided, confirmation half (Holm over candidates)",
                                status=verdict, extra=extra, effect="harm"))
    return findings, notes


def _forest(tests: list[GroupTest], min_n: int, margin: float) -> Figure:
    rows = [{"label": slice_label(t.slice), "value": t.delta, "ci": list(t.ci)} for t in tests
            if t.comparison == "U-R" and t.metric == "accuracy" and t.n >= min_n and t.ci is not None]
    return Figure("forest", "Accuracy U − R per group (test split)", {"rows": rows, "margin": margin})


def _role_outputs(out: dict[str, Any]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    roles = {"unlearned": out["u"], "original": out["o"]}
    roles.update({r: (p, lo) for r, p, lo in zip(out["refs"], out["r_pred"], out["r_loss"], strict=True)})
    return roles


def _apply_kernel(ctx: CheckContext, out: dict[str, Any], tests: list[GroupTest], slices: list,
                  metrics: list[str], margins: dict, min_n: int) -> list[Metric]:
    """Decide every U − R group test with the decision kernel (rows + retrain seeds)."""
    km = kernel_group_metrics(slices, out["y"], _role_outputs(out), out["refs"], metrics, margins,
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
    """Per-group deltas and slice discovery of U against the retrained references."""
    pol, case = ctx.policy, ctx.case
    regression = ctx.cache.task == "regression"
    binary = int(case.n_classes) == 2 and not regression
    metrics = ["loss"] if regression else _validate(pol, binary)
    out = _outputs(ctx)
    frame = case.frame(_SPLIT)
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
    findings = _declared_findings(ctx, out, tests, masks, like, verdict)
    notes = [f"{len(slices)} declared groups; {sum(len(s) == 2 for s, _ in slices)} are intersections",
             f"groups below min_group_size={min_n} are reported as inconclusive and do not decide"]
    if pol["discovery"]:
        found, dnotes = _discovered_findings(ctx, out, pol, like, verdict)
        findings += found
        notes += dnotes
    findings += _removal_findings(tests, ctx.alpha)
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
                          items=Option(str, choices=tuple(_METRIC_NAMES)), min_items=1, tighter="superset"),
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
