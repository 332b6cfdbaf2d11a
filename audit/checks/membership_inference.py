"""``membership_inference``: does the forget set look as (non-)member-like under U as under R?

For every configured population attack (:mod:`attacks.population`) the forget rows
(positives) are scored against the test rows (negatives, never trained on) under the
unlearned model U, under every retrained reference R_i, and under the original O for
context. The gated quantity is the attack AUC gap ``AUC(U) - mean_i AUC(R_i)``, with a
paired, stratified bootstrap CI (the same resampled rows for every model) at level
``1 - 2*alpha`` and a two-sided equivalence margin (TOST):

* pass — the CI lies inside ``(-margin, +margin)``;
* fail — the CI lies beyond the margin. Above: the forget rows still look like
  training members (under-unlearning). Below: they look *less* member-like than under
  a retrain (over-unlearning, the "Streisand effect": a forget loss far above R's is
  itself a membership signal). The two are reported distinctly;
* otherwise inconclusive, with the n that would settle it.

Every attack must pass for the check to pass (an intersection-union test, so no
multiplicity correction is needed for a pass; any attack can fail the check).
``auc_margin = "auto"`` uses ``auto_factor`` x the spread of AUCs between references
(the retrain noise floor; >= 2 references) but never less than ``auto_min_margin``.
TPR at low FPR is reported (info) with its CI, never resolved below 1/n_test.
"""

from __future__ import annotations

import itertools
import os

import numpy as np

from attacks.lira import lira_offline, lira_online
from attacks.metrics import auc_from_ranks, roc
from attacks.population import ATTACKS, logit_confidence, population_scores
from attacks.resample import paired_roc_bootstrap, tpr_at_fpr_rows
from attacks.rmia import rmia_scores
from audit.checks._paired import paired_metric
from audit.checks.base import CheckContext, CheckSpec
from audit.checks.options import Option, switches
from audit.results import CheckResult, Figure, Finding, Metric, Table, worst_status
from audit.shadows import case_shadows
from audit.stats import ci_level, equivalence_status, n_to_settle

__all__ = ["SPEC", "run"]

SPLIT = "forget_vs_test"


REFERENCE_ATTACK = "lira_offline_refs"
SHADOW_ATTACKS = ("lira_online", "rmia")
KNOWN_ATTACKS = (*ATTACKS, REFERENCE_ATTACK, *SHADOW_ATTACKS)


def _phi(ctx: CheckContext, role: str) -> np.ndarray:
    c = ctx.cache
    return np.r_[logit_confidence(c.logprobs(role, "forget"), c.labels("forget")),
                 logit_confidence(c.logprobs(role, "test"), c.labels("test"))]


def _reference_scores(ctx: CheckContext, roles: list[str]) -> dict[str, np.ndarray]:
    """Offline LiRA with the retrained references as OUT models (they trained on neither
    forget nor test rows); a reference is scored against the *other* references only."""
    refs = ctx.cache.reference_roles
    phi = {r: _phi(ctx, r) for r in roles}
    out = {}
    for r in roles:
        others = [q for q in refs if q != r]
        out[r] = lira_offline(phi[r], np.stack([phi[q] for q in others]), fixed_variance=True)
    return out


def _scores(ctx: CheckContext, attacks: list[str]) -> tuple[list[str], dict, dict]:
    cache = ctx.cache
    roles = ["unlearned", *cache.reference_roles, "original"]
    yf, yt = cache.labels("forget"), cache.labels("test")
    pop = [a for a in attacks if a in ATTACKS]
    pos = {r: population_scores(cache.logprobs(r, "forget"), yf, pop) for r in roles}
    neg = {r: population_scores(cache.logprobs(r, "test"), yt, pop) for r in roles}
    nf = len(yf)
    if REFERENCE_ATTACK in attacks:
        for r, s in _reference_scores(ctx, roles).items():
            pos[r][REFERENCE_ATTACK], neg[r][REFERENCE_ATTACK] = s[:nf], s[nf:]
    if any(a in SHADOW_ATTACKS for a in attacks):
        for a, by_role in _shadow_scores(ctx, roles, attacks).items():
            for r, s in by_role.items():
                pos[r][a], neg[r][a] = s[:nf], s[nf:]
    return roles, pos, neg


def _shadow_scores(ctx: CheckContext, roles: list[str], attacks: list[str]) -> dict[str, dict]:
    """Online LiRA and RMIA against shadows trained with the case's recipe."""
    pol = ctx.policy
    k = int(pol["shadow_models"])
    sh, nf, _ = case_shadows(ctx.case, k, ctx.seed, _cache_dir(pol["shadow_cache_dir"]))
    y = np.r_[ctx.cache.labels("forget"), ctx.cache.labels("test")]
    sh_phi = np.stack([logit_confidence(lp, y) for lp in sh.logp])
    sh_p = np.exp(np.stack([lp[np.arange(len(y)), y] for lp in sh.logp]))
    out: dict[str, dict] = {a: {} for a in attacks if a in SHADOW_ATTACKS}
    for r in roles:
        lp = np.r_[ctx.cache.logprobs(r, "forget"), ctx.cache.logprobs(r, "test")]
        if "lira_online" in out:
            out["lira_online"][r] = lira_online(logit_confidence(lp, y), sh_phi, sh.member,
                                                fixed_variance=k < 64)
        if "rmia" in out:
            p = np.exp(lp[np.arange(len(y)), y])
            # population z = the test rows (non-members of every audited model)
            out["rmia"][r] = rmia_scores(p, sh_p, p[nf:], sh_p[:, nf:], gamma=float(pol["rmia_gamma"]))
    return out


def _margin(pol: dict, ref_aucs: list[float]) -> tuple[float | None, str | None]:
    setting = pol["auc_margin"]
    if setting != "auto":
        return float(setting), None
    if len(ref_aucs) < 2:
        return None, "a second retrained reference (auto margin needs the retrain noise floor)"
    spread = max(abs(a - b) for a, b in itertools.combinations(ref_aucs, 2))
    return max(float(pol["auto_factor"]) * spread, float(pol["auto_min_margin"])), None


def _roc_figure(attack: str, pos: dict, neg: dict, roles: list[str]) -> Figure:
    curves = []
    grid = np.linspace(0.0, 1.0, 101)
    for r in roles:
        member = np.r_[np.ones(len(pos[r])), np.zeros(len(neg[r]))]
        fpr, tpr, _ = roc(np.r_[pos[r], neg[r]], member)
        label = {"unlearned": "U (unlearned)", "original": "O (original)"}.get(r, r.replace("retrained:", "R"))
        curves.append({"label": label, "fpr": grid, "tpr": np.interp(grid, fpr, tpr)})
    return Figure("roc", f"ROC of the {attack} attack, forget (members) vs test", {"curves": curves})


def _attack_metrics(ctx: CheckContext, attack: str, roles: list[str], pos: dict, neg: dict,
                    levels: list[float]) -> tuple[list[Metric], dict, str | None, list[list]]:
    """Gated AUC gap metric, info metrics (O's AUC, TPR at low FPR) and table rows."""
    pol, alpha = ctx.policy, ctx.alpha
    refs = ctx.cache.reference_roles
    reps = paired_roc_bootstrap({r: pos[r][attack] for r in roles}, {r: neg[r][attack] for r in roles},
                                ctx.n_boot, ctx.rng, levels)
    auc = {r: float(auc_from_ranks(pos[r][attack], neg[r][attack])) for r in roles}
    tpr = {r: tpr_at_fpr_rows(pos[r][attack][None], neg[r][attack][None], levels)[0] for r in roles}
    q = [(1 - ci_level(alpha)) / 2, 1 - (1 - ci_level(alpha)) / 2]
    ref_rep = np.mean([reps[r]["auc"] for r in refs], axis=0)
    delta_rep = reps["unlearned"]["auc"] - ref_rep
    ref_auc = float(np.mean([auc[r] for r in refs]))
    delta = auc["unlearned"] - ref_auc
    margin, missing = _margin(pol, [auc[r] for r in refs])
    dci = tuple(float(x) for x in np.quantile(delta_rep, q))
    status = equivalence_status(dci, margin, "two_sided")
    n = len(pos["unlearned"][attack]) + len(neg["unlearned"][attack])
    metrics = [Metric(
        name=f"auc[{attack}]", split=SPLIT, value=auc["unlearned"],
        ci=tuple(np.quantile(reps["unlearned"]["auc"], q)), reference=ref_auc,
        reference_ci=tuple(np.quantile(ref_rep, q)), delta=delta, delta_ci=dci, margin=margin,
        comparator="two_sided", n=n, status=status,
        n_to_settle=n_to_settle(delta, dci, n, margin, "two_sided") if status == "inconclusive" else None,
        note="reference = mean AUC of the same attack on the retrained models; paired bootstrap")]
    metrics.append(Metric(f"auc[{attack}]@original", SPLIT, auc["original"],
                          ci=tuple(np.quantile(reps["original"]["auc"], q)), reference=ref_auc,
                          n=n, note="context: the model before unlearning"))
    for j, level in enumerate(levels):
        n0 = len(neg["unlearned"][attack])
        resolved = n0 >= 1.0 / level
        metrics.append(Metric(
            f"tpr@{level:g}fpr[{attack}]", SPLIT, float(tpr["unlearned"][j]),
            ci=tuple(np.quantile(reps["unlearned"]["tpr"][:, j], q)),
            reference=float(np.mean([tpr[r][j] for r in refs])),
            reference_ci=tuple(np.quantile(np.mean([reps[r]["tpr"][:, j] for r in refs], axis=0), q)),
            n=n, note=None if resolved else f"unresolved: {n0} test rows < 1/FPR = {1 / level:g}"))
    rows = [[r, attack, auc[r], *[float(t) for t in tpr[r]]] for r in roles]
    return metrics, {"delta": delta, "delta_ci": dci, "margin": margin, "status": status}, missing, rows


def _cache_dir(setting: str) -> str | None:
    """Resolve the policy's shadow cache directory ("" = user cache, "none" = off)."""
    if setting == "none":
        return None
    if setting:
        return setting
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "unlearn-audit", "shadows")


def _loss_rate_metric(ctx: CheckContext) -> Metric:
    """Calibrated loss attack at threshold 0 on the forget rows (difficulty calibration,
    Watson et al. 2022): the share of (row, reference) pairs where U's loss is below the
    reference's. A retrain sits at 1/2 by exchangeability of seeds; a model that still
    remembers the rows is above, one pushed past a retrain (gradient ascent) below."""
    c = ctx.cache
    refs = c.reference_roles
    lu = c.losses("unlearned", "forget")
    lr = [c.losses(r, "forget") for r in refs]

    def below(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (a < b) + 0.5 * (a == b)

    u_rows = np.mean([below(lu, b) for b in lr], axis=0)
    if len(refs) >= 2:
        r_rows = np.mean([below(lr[i], lr[j]) for i, j in itertools.permutations(range(len(refs)), 2)], axis=0)
    else:
        r_rows = np.full_like(u_rows, 0.5)
    return paired_metric(ctx, "calibrated_loss_rate", "forget", u_rows, r_rows,
                         float(ctx.policy["loss_rate_margin"]), "two_sided",
                         note="share of forget rows with a lower loss under U than under a retrain "
                              "(reference: the same between retrains, 1/2 by symmetry)")


def _finding(attack: str, d: dict) -> Finding | None:
    lo, hi = d["delta_ci"]
    if d["margin"] is None or d["status"] == "pass":
        return None
    if d["delta"] > 0:
        kind, what = "under-unlearning", "still look like training members under U"
    else:
        kind, what = "over-unlearning", "look less member-like under U than under a retrain (Streisand effect)"
    name = attack if attack == "calibrated_loss_rate" else f"auc[{attack}]"
    return Finding(message=f"{attack}: forget rows {what}", metric=name, delta=d["delta"],
                   ci=(lo, hi), status=d["status"], test="paired bootstrap TOST",
                   extra={"direction": kind, "margin": d["margin"]})


def run(ctx: CheckContext) -> CheckResult:
    """Population membership attacks on forget vs test under U, each R and O."""
    pol = ctx.policy
    attacks = list(pol["attacks"])
    missing: list[str] = []
    if REFERENCE_ATTACK in attacks and len(ctx.cache.reference_roles) < 2:
        attacks.remove(REFERENCE_ATTACK)
        missing.append(f"a second retrained reference (the {REFERENCE_ATTACK} attack scores each "
                       "reference against the others)")
    if any(a in SHADOW_ATTACKS for a in attacks) and (not ctx.case.recipe or pol["shadow_models"] < 4):
        attacks = [a for a in attacks if a not in SHADOW_ATTACKS]
        missing.append("a [training] recipe and shadow_models >= 4 (for the LiRA / RMIA attacks)")
    if not attacks:
        return CheckResult("membership_inference", "inconclusive", "No attack could run.",
                           title=SPEC.title, missing=missing)
    if ctx.case.n.get("forget", 0) < 2 or ctx.case.n.get("test", 0) < 2:
        return CheckResult("membership_inference", "inconclusive", "Too few forget or test rows to attack.",
                           title=SPEC.title, missing=["at least 2 forget and 2 test rows"])
    levels = [float(x) for x in pol["fpr_levels"]]
    roles, pos, neg = _scores(ctx, attacks)
    metrics, findings, rows, figures = [], [], [], []
    for attack in attacks:
        ms, decision, miss, trows = _attack_metrics(ctx, attack, roles, pos, neg, levels)
        metrics += ms
        rows += trows
        if miss and miss not in missing:
            missing.append(miss)
        f = _finding(attack, decision)
        if f is not None:
            findings.append(f)
        figures.append(_roc_figure(attack, {r: pos[r][attack] for r in roles},
                                   {r: neg[r][attack] for r in roles}, roles))
    if pol["loss_rate_margin"] > 0:
        m = _loss_rate_metric(ctx)
        metrics.insert(0, m)
        f = _finding("calibrated_loss_rate", {"delta": m.delta, "delta_ci": m.delta_ci,
                                              "margin": m.margin, "status": m.status})
        if f is not None:
            findings.insert(0, f)
    status = worst_status([m.status for m in metrics if m.status])
    table = Table("Attack AUC and TPR at low FPR per model (forget vs test)",
                  ["model", "attack", "auc", *[f"tpr@{x:g}fpr" for x in levels]], rows)
    return CheckResult("membership_inference", status, _summary(status, findings), title=SPEC.title,
                       metrics=metrics, findings=findings, tables=[table], figures=figures,
                       missing=missing)


def _summary(status: str, findings: list[Finding]) -> str:
    kinds = {f.extra.get("direction") for f in findings if f.status == "fail"}
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
    order=40,
    options={
        **switches(required=True),
        # shadow attacks (lira_online, rmia) train `shadow_models` models: opt in via policy
        "attacks": Option(list, ["loss", "logit_confidence", "modified_entropy", "entropy", REFERENCE_ATTACK],
                          "attacks run on forget vs test rows", items=Option(str, choices=KNOWN_ATTACKS),
                          min_items=1, tighter="superset"),
        "auc_margin": Option(float, 0.05, "largest accepted AUC gap U - R", minimum=0, maximum=1,
                             allow_auto=True, tighter="lower"),
        "auto_factor": Option(float, 2.0, '"auto" margin = auto_factor x the R-R AUC spread',
                              minimum=0, exclusive_minimum=True, tighter="lower"),
        "auto_min_margin": Option(float, 0.02, "floor of the auto AUC margin", minimum=0, maximum=1,
                                  tighter="lower"),
        "fpr_levels": Option(list, [0.01, 0.001], "false-positive rates at which TPR is reported",
                             items=Option(float, minimum=0, maximum=1, exclusive_minimum=True,
                                          exclusive_maximum=True), min_items=1, tighter="superset"),
        # with a [training] recipe: shadows for lira_online / rmia
        "shadow_models": Option(int, 16, "shadow models for lira_online / rmia (needs a recipe)",
                                minimum=4, also=(0,), multiple_of=2, tighter="higher"),
        # cached shadow outputs: "" = the user cache ($XDG_CACHE_HOME or ~/.cache)/unlearn-audit,
        # "none" = do not cache
        "shadow_cache_dir": Option(str, "", 'shadow-output cache; "" = user cache, "none" = off',
                                   tighter="neutral"),
        "rmia_gamma": Option(float, 1.0, "RMIA likelihood-ratio threshold gamma", minimum=0,
                             exclusive_minimum=True),
        # calibrated loss-attack rate on forget rows (0 disables). Row bootstraps miss the
        # seed-to-seed spread of this rate: two retrains of the accent case differ by ~0.1.
        # No tighter direction: 0 switches the attack off.
        "loss_rate_margin": Option(float, 0.15, "margin of the calibrated loss rate (0 = off)",
                                   minimum=0, maximum=0.5),
    },
)
