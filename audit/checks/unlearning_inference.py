"""``unlearning_inference``: do the O->U output changes reveal which rows were forgotten?

The differencing attack of Chen et al. (2021) (:mod:`attacks.differencing`) sees the
original O and the unlearned U on a row and guesses whether the row was deleted
(forget, positive) or never trained on (test, negative). Its random-forest attack
model is cross-fitted: every row is scored by a model trained on the other folds.
The same attack, with the same folds, runs on O->R_i for every retrained reference:
retraining also changes the forget rows' outputs, so the question is not "does the
attack work" but "does it work *as well as* on a true retrain".

Gated: ``AUC(O->U) - mean_i AUC(O->R_i)`` with a paired stratified bootstrap CI at
``1 - 2*alpha`` against a two-sided margin. Above the margin: U's changes single out
the forgotten rows more than retraining would (an extra leak). Below: U changed the
forget rows *less* distinctively than a retrain — typically it did not forget.
"""

from __future__ import annotations

import itertools

import numpy as np

from attacks.differencing import FEATURES, difference_features, make_folds, out_of_fold_scores
from attacks.metrics import auc_from_ranks
from attacks.resample import paired_roc_bootstrap
from audit.checks.base import CheckContext, CheckSpec
from audit.checks.options import Option, switches
from audit.results import CheckResult, Finding, Metric, Table
from audit.stats import ci_level, equivalence_status, n_to_settle

__all__ = ["SPEC", "run"]

SPLIT = "forget_vs_test"


def _scores(ctx: CheckContext, roles: list[str], kinds: list[str]) -> tuple[dict, dict]:
    c = ctx.cache
    lo = np.r_[c.logprobs("original", "forget"), c.logprobs("original", "test")]
    y = np.r_[c.labels("forget"), c.labels("test")]
    nf = c.labels("forget").shape[0]
    member = np.r_[np.ones(nf), np.zeros(c.labels("test").shape[0])].astype(int)
    folds = make_folds(member, int(ctx.policy["folds"]), ctx.seed)
    pos, neg = {}, {}
    for r in roles:
        lr = np.r_[c.logprobs(r, "forget"), c.logprobs(r, "test")]
        s = out_of_fold_scores(difference_features(lo, lr, kinds, y), member, folds, seed=ctx.seed,
                               n_estimators=int(ctx.policy["n_estimators"]))
        pos[r], neg[r] = s[:nf], s[nf:]
    return pos, neg


def _margin(pol: dict, ref_aucs: list[float]) -> tuple[float | None, str | None]:
    if pol["auc_margin"] != "auto":
        return float(pol["auc_margin"]), None
    if len(ref_aucs) < 2:
        return None, "a second retrained reference (auto margin needs the retrain noise floor)"
    spread = max(abs(a - b) for a, b in itertools.combinations(ref_aucs, 2))
    return max(float(pol["auto_factor"]) * spread, float(pol["auto_min_margin"])), None


def run(ctx: CheckContext) -> CheckResult:
    """Differencing attack on O->U against the same attack on O->R."""
    pol = ctx.policy
    kinds = list(pol["features"])
    n = ctx.case.n
    if min(n.get("forget", 0), n.get("test", 0)) < 2 * int(pol["folds"]):
        return CheckResult("unlearning_inference", "inconclusive", "Too few forget or test rows to cross-fit.",
                           title=SPEC.title, missing=[f"at least {2 * pol['folds']} forget and test rows"])
    refs = ctx.cache.reference_roles
    roles = ["unlearned", *refs]
    pos, neg = _scores(ctx, roles, kinds)
    reps = paired_roc_bootstrap(pos, neg, ctx.n_boot, ctx.rng)
    auc = {r: float(auc_from_ranks(pos[r], neg[r])) for r in roles}
    q = [(1 - ci_level(ctx.alpha)) / 2, 1 - (1 - ci_level(ctx.alpha)) / 2]
    ref_rep = np.mean([reps[r]["auc"] for r in refs], axis=0)
    ref_auc = float(np.mean([auc[r] for r in refs]))
    delta = auc["unlearned"] - ref_auc
    dci = tuple(float(x) for x in np.quantile(reps["unlearned"]["auc"] - ref_rep, q))
    margin, miss = _margin(pol, [auc[r] for r in refs])
    status = equivalence_status(dci, margin, "two_sided")
    rows = len(pos["unlearned"]) + len(neg["unlearned"])
    metric = Metric(
        "auc[differencing]", SPLIT, auc["unlearned"], ci=tuple(np.quantile(reps["unlearned"]["auc"], q)),
        reference=ref_auc, reference_ci=tuple(np.quantile(ref_rep, q)), delta=delta, delta_ci=dci,
        margin=margin, comparator="two_sided", n=rows, status=status,
        n_to_settle=n_to_settle(delta, dci, rows, margin, "two_sided") if status == "inconclusive" else None,
        note=f"Chen et al. 2021 differencing attack ({'+'.join(kinds)}), cross-fitted; reference = same attack on O->R")
    findings = []
    if status != "pass" and margin is not None:
        kind = "leak" if delta > 0 else "under-change"
        msg = ("O->U changes single out the forgotten rows more than retraining does" if delta > 0 else
               "U changed the forgotten rows less distinctively than a retrain (it has not forgotten them)")
        findings.append(Finding(msg, metric="auc[differencing]", delta=delta, ci=dci, status=status,
                                test="paired bootstrap TOST", extra={"direction": kind, "margin": margin}))
    table = Table("Differencing attack AUC per pair (forget vs test)", ["pair", "auc"],
                  [[f"original->{r}", auc[r]] for r in roles])
    return CheckResult("unlearning_inference", status, _summary(status, delta), title=SPEC.title,
                       metrics=[metric], findings=findings, tables=[table], missing=[miss] if miss else [])


def _summary(status: str, delta: float) -> str:
    if status == "pass":
        return "Comparing O with U reveals the forgotten rows no more and no less than comparing O with a retrain."
    if status == "fail" and delta > 0:
        return "Comparing O with U reveals which rows were forgotten more than comparing O with a retrain does."
    if status == "fail":
        return "U's outputs changed on the forgotten rows less than a retrain's would: they were not forgotten."
    return "The data cannot yet show that O->U changes are as (un)revealing as O->R changes."


SPEC = CheckSpec(
    id="unlearning_inference",
    title="Unlearning inference (differencing attack)",
    run=run,
    order=45,
    options={
        # advisory by default: on small audits (digits: ~790 rows) the cross-fitted attack's
        # 90 % CI is about +-0.035 AUC, so even a retrain often lands inconclusive; the
        # membership_inference check is the gate. Set required = true to gate on it.
        **switches(required=False),
        "features": Option(list, ["sorted_diff", "l2", "logit_diff"], "differencing features",
                           items=Option(str, choices=FEATURES), min_items=1, tighter="superset"),
        "folds": Option(int, 5, "cross-fitting folds", minimum=2),
        "n_estimators": Option(int, 100, "trees of the attack's random forest", minimum=1),
        "auc_margin": Option(float, 0.05, "largest accepted AUC gap U - R", minimum=0, maximum=1,
                             allow_auto=True, tighter="lower"),
        "auto_factor": Option(float, 2.0, '"auto" margin = auto_factor x the R-R AUC spread',
                              minimum=0, exclusive_minimum=True, tighter="lower"),
        "auto_min_margin": Option(float, 0.02, "floor of the auto AUC margin", minimum=0, maximum=1,
                                  tighter="lower"),
    },
)
