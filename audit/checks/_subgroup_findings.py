"""The findings of ``subgroup_shift``: which group shifted, and how it relates to the forgotten data.

:func:`declared_findings` words every decided U − R shift of a declared group (harm, or an
improvement), :func:`removal_findings` the harm a retrain shows too (the removal itself), and
:func:`discovered_findings` searches slices on one half of the test rows and confirms them on
the other through the kernel. Each harmful slice is related to the forget set: the share of
forget rows with its values (against retain), a forget-vs-retain classifier's similarity and the
accuracy delta outside the group values only the forget set has ("students elsewhere").
The check itself (tables, the kernel over the groups, the status) is
:mod:`audit.checks.subgroup_shift`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from audit.checks.base import CheckContext
from audit.checks.subgroups import (
    ForgetLikeness,
    GroupTest,
    bin_features,
    discover_slices,
    forget_shares,
    slice_label,
)
from audit.checks.subgroups.inference import sign_test
from audit.checks.subgroups.kernel import kernel_group_metrics
from audit.core.results import Finding
from audit.core.stats import bootstrap_mean_ci, ci_level

__all__ = ["SPLIT", "METRIC_NAMES", "metric_name", "role_outputs", "declared_findings", "removal_findings",
           "discovered_findings"]

SPLIT = "test"
METRIC_NAMES = {"accuracy": "accuracy", "loss": "loss", "fnr": "false-negative rate",
                 "fpr": "false-positive rate"}


def metric_name(metric: str, regression: bool) -> str:
    """A group metric's name in words.

    Parameters
    ----------
    metric : str
        ``accuracy``, ``loss``, ``fnr`` or ``fpr``.
    regression : bool
        A regressor's ``loss`` is its mean squared error.

    Returns
    -------
    str

    Examples
    --------
    >>> metric_name("fnr", False), metric_name("loss", True)
    ('false-negative rate', 'mean squared error')
    """
    return "mean squared error" if regression and metric == "loss" else METRIC_NAMES[metric]


def role_outputs(out: dict[str, Any]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{role: (predictions, losses)}`` on the test split from the check's outputs.

    Parameters
    ----------
    out : dict
        ``subgroup_shift``'s outputs: ``u`` / ``o`` pairs, ``refs``, ``r_pred``, ``r_loss``.

    Returns
    -------
    dict of str to (ndarray, ndarray)
        U, O and every retrained reference by role.
    """
    roles = {"unlearned": out["u"], "original": out["o"]}
    roles.update({r: (p, lo) for r, p, lo in zip(out["refs"], out["r_pred"], out["r_loss"], strict=True)})
    return roles


def _forget_only_values(ctx: CheckContext) -> dict[str, set[str]]:
    """Group values present in the forget split but absent from retain (e.g. the withdrawn district)."""
    case = ctx.case
    f, r = case.frame("forget"), case.frame("retain")
    return {g: set(f[g].astype(str)) - set(r[g].astype(str)) for g in case.groups}


def _elsewhere(ctx: CheckContext, out: dict[str, Any], rows: np.ndarray) -> dict[str, Any]:
    """U − R accuracy on the slice's rows *outside* forget-only group values ("students elsewhere")."""
    frame = ctx.case.frame(SPLIT)
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
        X = case.encoded_X(SPLIT)
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


def declared_findings(ctx: CheckContext, out: dict[str, Any], tests: list[GroupTest], masks: dict[str, np.ndarray],
                      like: ForgetLikeness | None, verdict: str) -> list[Finding]:
    """A finding per decided U − R shift: harm (blocks) and improvement (blocks only under ``blocks = "both"``).

    Parameters
    ----------
    ctx : CheckContext
        The check's context.
    out : dict
        The check's outputs on the test split (see :func:`role_outputs`).
    tests : list of GroupTest
        Every group × metric × comparison, decided by the kernel (U − R).
    masks : dict of str to ndarray
        Test-row mask of each declared group, by its label.
    like : ForgetLikeness or None
        The forget-vs-retain classifier (None without forget rows).
    verdict : str
        The status a harmful shift gets (``on_shift``: ``fail`` or ``warn``).

    Returns
    -------
    list of Finding
    """
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
        msg = (f"{slice_label(t.slice)}: {metric_name(t.metric, ctx.cache.task == 'regression')} "
               f"{t.value:.3f} under the unlearned model "
               f"vs {t.reference:.3f} under the retrained references (delta {t.delta:+.3f}); {what}"
               + (f". Relation: {rel}" if rel else ""))
        findings.append(Finding(msg, dict(t.slice), metric=t.metric, n=t.n, delta=t.delta, ci=t.ci,
                                p_value=t.p_value, p_adjusted=t.p_holm, test=t.test + " (Holm-adjusted)",
                                status=verdict if blocks else "info", extra=extra, effect=t.effect))
    return findings


def removal_findings(tests: list[GroupTest], alpha: float) -> list[Finding]:
    """Harm that the retrain shows too: U − O harmful and significant, U − R not failing.

    Parameters
    ----------
    tests : list of GroupTest
        The group tests (U − O and U − R).
    alpha : float
        Level of the Holm-adjusted p-value.

    Returns
    -------
    list of Finding
        ``info`` findings (the removal itself, not the method, shifted the group).
    """
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


def discovered_findings(ctx: CheckContext, out: dict[str, Any], pol: dict[str, Any], like: ForgetLikeness | None,
                        verdict: str) -> tuple[list[Finding], list[str]]:
    """Slices where U is worse than the retrains: searched on one half, confirmed on the other.

    Parameters
    ----------
    ctx : CheckContext
        The check's context.
    out : dict
        The check's outputs on the test split (see :func:`role_outputs`).
    pol : dict
        The ``[subgroup_shift]`` policy (discovery options).
    like : ForgetLikeness or None
        The forget-vs-retain classifier.
    verdict : str
        The status a confirmed harmful slice gets.

    Returns
    -------
    findings : list of Finding
        One per slice confirmed and failing the kernel.
    notes : list of str
        Candidates not confirmed, or confirmed but within what retrains show.
    """
    case = ctx.case
    regression = ctx.cache.task == "regression"
    frame = case.frame(SPLIT)
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
            km = kernel_group_metrics([(d.slice, d.mask)], y, role_outputs(out), out["refs"], [metric],
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
