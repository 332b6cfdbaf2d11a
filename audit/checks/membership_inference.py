"""``membership_inference``: does the forget set look as (non-)member-like under U as under R?

For every configured population attack (:mod:`attacks.population`) the forget rows
(positives) are scored against the test rows (negatives, never trained on) under the
unlearned model U, under every retrained reference R_i, and under the original O for
context. Gated, per attack: the attack's AUC under U against the retrain distribution of
the same AUC (each reference attacked the same way; the offline-LiRA attack scores each
reference with the *other* references as OUT models). Also gated: the loss gap (mean
forget loss minus the label-matched mean test loss). Every model is bootstrapped on the
same resampled rows, and the decision kernel (:mod:`audit.core.decision`) adds the
references' seed spread:

* pass — U's delta lies inside the retrain distribution's equivalence region;
* fail — it lies beyond it. Member-like side: the forget rows still look like training
  members (under-unlearning). Other side: they look *less* member-like than under a
  retrain (over-unlearning, the "Streisand effect"). The two are reported distinctly;
* otherwise inconclusive, with the rows or references that would settle it.

Every attack must pass for the check to pass (an intersection-union test); a fail uses
Bonferroni over the gated metrics. ``auc_margin`` is the floor of the margin (``auto``:
``auto_min_margin``); the references' spread widens it.
TPR at low FPR is reported (info) with its CI, never resolved below 1/n_test.

Regression: the loss attack scores ``-(f(x) - y)^2``, the reference LiRA fits its Gaussians
to ``-log((f(x) - y)^2 + eps)`` across the references, and the loss gap is the forget minus
the (group-matched) test mean squared error, its floor ``loss_gap_factor`` x the references'
test MSE (the nats floor ``loss_gap_min_margin`` does not apply). The label is no stratum.
Other attacks (confidence, entropy, shadow LiRA / RMIA) read class probabilities: they are
dropped with the reason in ``missing``.

The attacks' per-row scores are computed in :mod:`audit.checks._mia_scores`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from attacks.metrics import roc_on_grid
from attacks.resample import paired_roc_bootstrap, tpr_at_fpr_rows
from attacks.strata import matched_auc
from audit.checks._mia_scores import (
    KNOWN_ATTACKS,
    REFERENCE_ATTACK,
    REGRESSION_ATTACKS,
    SHADOW_ATTACKS,
    attack_scores,
    plausible_cache_dir,
)
from audit.checks._paired import finish, model_roles
from audit.checks.base import CheckContext, CheckSpec
from audit.core.decision import Evidence, ModelStat, row_mean_stats
from audit.core.forget_kind import detect_forget_kind
from audit.core.options import Option, switches
from audit.core.results import CheckResult, Figure, Finding, Metric, Table
from audit.core.stats import ci_level, winsorize_by_references

__all__ = ["SPEC", "run", "matched_test_weights"]

SPLIT = "forget_vs_test"


def _floor(pol: dict) -> float:
    """The AUC margin floor; ``auto`` leaves the width to the references' spread."""
    setting = pol["auc_margin"]
    return float(pol["auto_min_margin"]) if setting == "auto" else float(setting)


def _roc_figure(attack: str, pos: dict, neg: dict, roles: list[str]) -> Figure:
    curves = []
    grid = np.linspace(0.0, 1.0, 101)
    for r in roles:
        label = {"unlearned": "U (unlearned)", "original": "O (original)"}.get(r, r.replace("retrained:", "R"))
        curves.append({"label": label, "fpr": grid, "tpr": roc_on_grid(pos[r], neg[r], grid)})
    return Figure("roc", f"ROC of the {attack} attack, forget (members) vs test", {"curves": curves})


def _attack_metrics(ctx: CheckContext, attack: str, roles: list[str], pos: dict, neg: dict,
                    levels: list[float], strata: tuple[np.ndarray, np.ndarray, str]
                    ) -> tuple[Evidence, list[Metric], list[list]]:
    """Gated matched-AUC evidence (every model on the same resampled rows), TPR at low FPR (info).

    The AUC compares each forget row only with test rows of its own stratum (label, and
    the group values a group removal concentrates on), weighted by the forget rows' strata.
    """
    refs = ctx.cache.reference_roles
    ps, ns, how = strata
    reps = paired_roc_bootstrap({r: pos[r][attack] for r in roles}, {r: neg[r][attack] for r in roles},
                                ctx.n_boot, ctx.rng, levels, pos_strata=ps, neg_strata=ns)
    matched = {r: matched_auc(pos[r][attack], neg[r][attack], ps, ns) for r in roles}
    auc = {r: float(matched[r].auc) for r in roles}
    n_matched = matched["unlearned"].n_matched
    dropped = matched["unlearned"].n_dropped
    tpr = {r: tpr_at_fpr_rows(pos[r][attack][None], neg[r][attack][None], levels)[0] for r in roles}
    q = [(1 - ci_level(ctx.alpha)) / 2, 1 - (1 - ci_level(ctx.alpha)) / 2]
    n1, n0 = n_matched, len(neg["unlearned"][attack])
    stat = {r: ModelStat(auc[r], reps[r]["auc"]) for r in roles}
    src = ("each retrained reference's AUC under the same attack" if attack != REFERENCE_ATTACK else
           "each retrained reference attacked with the other references as OUT models (leave-one-out)")
    note = how + (f"; {dropped} forget rows dropped: no test row of their stratum" if dropped else "")
    ev = Evidence(f"auc[{attack}]", SPLIT, stat["unlearned"], [stat[r] for r in refs], stat["original"],
                  "two_sided", _floor(ctx.policy), n1 + n0, src, note=note, n_min_side=min(n1, n0),
                  relative=attack == REFERENCE_ATTACK)
    info = []
    for j, level in enumerate(levels):
        resolved = n0 >= 1.0 / level
        info.append(Metric(
            f"tpr@{level:g}fpr[{attack}]", SPLIT, float(tpr["unlearned"][j]),
            ci=tuple(np.quantile(reps["unlearned"]["tpr"][:, j], q)),
            reference=float(np.mean([tpr[r][j] for r in refs])),
            reference_ci=tuple(np.quantile(np.mean([reps[r]["tpr"][:, j] for r in refs], axis=0), q)),
            n=n1 + n0, note=None if resolved else f"unresolved: {n0} test rows < 1/FPR = {1 / level:g}"))
    rows = [[r, attack, auc[r], *[float(t) for t in tpr[r]]] for r in roles]
    return ev, info, rows


def matched_test_weights(y_forget: np.ndarray, y_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Test-row weights that give the test rows the forget rows' label mix.

    Returns ``(weights over test rows, mask of forget rows kept)``: forget rows whose label
    has no test row cannot be matched and are dropped.

    Parameters
    ----------
    y_forget : ndarray
        Stratum (label) of every forget row.
    y_test : ndarray
        Stratum of every test row.

    Returns
    -------
    weights : ndarray
    keep : ndarray of bool

    Examples
    --------
    >>> w, keep = matched_test_weights(np.array([0, 0, 1]), np.array([0, 1, 1, 1]))
    >>> w.round(3).tolist(), keep.tolist()
    ([2.667, 0.444, 0.444, 0.444], [True, True, True])
    """
    labels, inv_t, counts_t = np.unique(y_test, return_inverse=True, return_counts=True)
    keep = np.isin(y_forget, labels)
    counts_f = np.bincount(np.searchsorted(labels, y_forget[keep]), minlength=len(labels))
    share_f = counts_f / keep.sum() if keep.any() else np.zeros(len(labels))
    return (share_f / (counts_t / counts_t.sum()))[inv_t.ravel()], keep


def _strata(ctx: CheckContext) -> tuple[np.ndarray, np.ndarray, str]:
    """Stratum codes of the forget and test rows, and a sentence saying what was matched.

    The labels (``"label=3, grp=A"``) become integer codes in their sorted order, once:
    every later grouping sorts integers, not Python strings (the same strata, same order)."""
    fk = detect_forget_kind(ctx.case)
    how = (f"non-members matched on {', '.join(fk.strata_columns) or 'nothing'} "
           f"(forget kind: {fk.kind}; {fk.evidence})")
    f, t = fk.strata(ctx.case.frame("forget")), fk.strata(ctx.case.frame("test"))
    codes, _ = pd.factorize(np.concatenate([f, t]), sort=True)
    return codes[:len(f)], codes[len(f):], how


def _loss_gap_evidence(ctx: CheckContext, strata: tuple[np.ndarray, np.ndarray, str]) -> Evidence:
    """Mean loss on the forget rows minus the label-matched mean loss on the test rows.

    Yeom et al. (2018)'s loss attack as a gap: a model that still remembers the forget rows
    has a gap below a retrain's (the rows fit better than unseen rows of the same labels);
    one pushed past a retrain (gradient ascent) has a gap above. Per-row losses are capped
    at the references' 99th percentile (a Winsorised mean: one row a forest gives
    probability 0 must not outweigh the rest). Matching the test rows'
    strata (label, and group for a group removal) to the forget rows' keeps a class or group
    removal from measuring the class instead."""
    c = ctx.cache
    refs, roles = model_roles(ctx)
    w, keep = matched_test_weights(strata[0], strata[1])
    nf = int(keep.sum())
    both, _ = winsorize_by_references({r: np.r_[c.losses(r, "forget")[keep], c.losses(r, "test")]
                                       for r in roles}, refs)
    forget = row_mean_stats({r: v[:nf] for r, v in both.items()}, ctx.n_boot, ctx.rng)
    scaled = w * len(w) / w.sum() if w.sum() > 0 else w
    test = row_mean_stats({r: v[nf:] * scaled for r, v in both.items()}, ctx.n_boot, ctx.rng)
    st = {r: ModelStat(forget[r].value - test[r].value, forget[r].reps - test[r].reps) for r in roles}
    ref_test = float(np.mean([test[r].value for r in refs]))
    pol = ctx.policy
    floor = float(pol["loss_gap_factor"]) * abs(ref_test)
    if c.task != "regression":  # the minimum is in nats; a squared error has the targets' units
        floor = max(float(pol["loss_gap_min_margin"]), floor)
    dropped = int((~keep).sum())
    return Evidence("loss_gap", SPLIT, st["unlearned"], [st[r] for r in refs], st["original"], "two_sided",
                    floor, int(keep.sum()) + len(w), "each retrained reference's loss gap on the same rows",
                    note=strata[2] + (f"; {dropped} forget rows dropped: no test row of their stratum"
                                      if dropped else ""),
                    n_min_side=int(keep.sum()))


def _finding(m: Metric) -> Finding | None:
    """Under- or over-unlearning, named by direction, for a gated metric that did not pass."""
    if m.status not in ("fail", "inconclusive") or m.delta is None or m.delta_ci is None:
        return None
    member_like = m.delta > 0 if m.name.startswith("auc[") else m.delta < 0
    if member_like:
        kind, what = "under-unlearning", "still look like training members under U"
    else:
        kind, what = "over-unlearning", "look less member-like under U than under a retrain (Streisand effect)"
    return Finding(message=f"{m.name}: forget rows {what}", metric=m.name, delta=m.delta, ci=m.delta_ci,
                   status=m.status, test="decision kernel (rows + retrain seeds)",
                   extra={"direction": kind, "margin": m.margin})


def run(ctx: CheckContext) -> CheckResult:
    """Population membership attacks on forget vs test under U, each R and O.

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
    pol = ctx.policy
    attacks = list(pol["attacks"])
    missing: list[str] = []
    if ctx.cache.task == "regression" and set(attacks) - set(REGRESSION_ATTACKS):
        dropped = [a for a in attacks if a not in REGRESSION_ATTACKS]
        attacks = [a for a in attacks if a in REGRESSION_ATTACKS]
        missing.append(f"regression support for the {', '.join(dropped)} attack(s): they read class "
                       f"probabilities; a regressor is attacked with {', '.join(REGRESSION_ATTACKS)}")
    if REFERENCE_ATTACK in attacks and len(ctx.cache.reference_roles) < 2:
        attacks.remove(REFERENCE_ATTACK)
        missing.append(f"a second retrained reference (the {REFERENCE_ATTACK} attack scores each "
                       "reference against the others)")
    if any(a in SHADOW_ATTACKS for a in attacks) and (not ctx.case.recipe or pol["shadow_models"] < 4):
        attacks = [a for a in attacks if a not in SHADOW_ATTACKS]
        missing.append("a [training] recipe and shadow_models >= 4 (for the LiRA / RMIA attacks)")
    if ctx.case.n.get("forget", 0) < 2 or ctx.case.n.get("test", 0) < 2:
        return CheckResult("membership_inference", "inconclusive", "Too few forget or test rows to attack.",
                           title=SPEC.title, missing=["at least 2 forget and 2 test rows"])
    levels = [float(x) for x in pol["fpr_levels"]]
    strata = _strata(ctx)
    evidence, info, rows, figures = [], [], [], []
    if attacks:
        roles, pos, neg = attack_scores(ctx, attacks)
        for attack in attacks:
            ev, ms, trows = _attack_metrics(ctx, attack, roles, pos, neg, levels, strata)
            evidence.append(ev)
            info += ms
            rows += trows
            figures.append(_roc_figure(attack, {r: pos[r][attack] for r in roles},
                                       {r: neg[r][attack] for r in roles}, roles))
    if pol["loss_gap"]:
        evidence.insert(0, _loss_gap_evidence(ctx, strata))
    table = Table("Attack AUC and TPR at low FPR per model (forget vs test)",
                  ["model", "attack", "auc", *[f"tpr@{x:g}fpr" for x in levels]], rows)
    result = finish(ctx, "membership_inference", SPEC.title, evidence, info, _summary, tables=[table],
                    figures=figures, missing=missing)
    result.findings = [f for f in (_finding(m) for m in result.metrics if m.comparator != "info") if f]
    return result


def _summary(status: str, metrics: list[Metric]) -> str:
    kinds = {f.extra.get("direction") for f in (_finding(m) for m in metrics) if f and f.status == "fail"}
    if status == "pass":
        return "Membership attacks find the forget rows exactly as member-like under U as under retrained models."
    if "under-unlearning" in kinds and "over-unlearning" in kinds:
        return "Attacks disagree: some find the forget rows too member-like, others too little (both fail)."
    if "under-unlearning" in kinds:
        return "The forget rows still look like training members under U: membership attacks beat the retrain."
    if "over-unlearning" in kinds:
        return ("Over-unlearning: the forget rows look less member-like under U than under a retrain, "
                "which itself reveals them (Streisand effect).")
    return "The data cannot yet show U's membership leakage on the forget rows to equal a retrain's."


SPEC = CheckSpec(
    id="membership_inference",
    title="Membership inference on the forget set",
    run=run,
    kind="forgetting",
    order=40,
    tasks=("classification", "regression"),
    options={
        **switches(required=True),
        # shadow attacks (lira_online, rmia) train `shadow_models` models: opt in via policy
        # every listed attack is gated and costs Bonferroni power: loss (logit_confidence and
        # modified entropy are near-monotone in p(y|x): the same ranking) and the
        # reference-calibrated LiRA; the label-free entropy attack reads confidently wrong
        # answers as member-like, so it is opt-in
        "attacks": Option(list, ["loss", REFERENCE_ATTACK],
                          "attacks run on forget vs test rows (each one gated)",
                          items=Option(str, choices=KNOWN_ATTACKS), min_items=1, tighter="superset"),
        "auc_margin": Option(float, 0.03, "floor of the AUC margin (the references' spread widens it)",
                             minimum=0, maximum=1, allow_auto=True, tighter="lower"),
        "auto_min_margin": Option(float, 0.02, 'the floor when auc_margin = "auto"', minimum=0, maximum=1,
                                  tighter="lower"),
        "fpr_levels": Option(list, [0.01, 0.001], "false-positive rates at which TPR is reported",
                             items=Option(float, minimum=0, maximum=1, exclusive_minimum=True,
                                          exclusive_maximum=True), min_items=1, tighter="superset"),
        # with a [training] recipe: shadows for lira_online / rmia
        "shadow_models": Option(int, 16, "shadow models for lira_online / rmia (needs a recipe)",
                                minimum=4, maximum=1024, also=(0,), multiple_of=2, tighter="higher"),
        # cached shadow outputs: "" = the user cache ($XDG_CACHE_HOME or ~/.cache)/unlearn-audit,
        # "none" = do not cache
        "shadow_cache_dir": Option(str, "", 'shadow-output cache; "" = user cache, "none" = off',
                                   tighter="neutral", check=plausible_cache_dir),
        "rmia_gamma": Option(float, 1.0, "RMIA likelihood-ratio threshold gamma", minimum=0,
                             exclusive_minimum=True),
        # forget-minus-matched-test loss gap (Yeom 2018 as a gap)
        "loss_gap": Option(bool, True, "gate on the forget loss minus the label-matched test loss",
                           tighter="higher"),
        "loss_gap_factor": Option(float, 0.1, "loss-gap margin floor = factor x the references' test loss",
                                  minimum=0, tighter="lower"),
        "loss_gap_min_margin": Option(float, 0.01, "smallest loss-gap margin floor (nats)", minimum=0,
                                      tighter="lower"),
    },
)
