"""``unlearning_inference``: do the O->U output changes reveal which rows were forgotten?

The differencing attack of Chen et al. (2021) (:mod:`attacks.differencing`) sees the
original O and the unlearned U on a row and guesses whether the row was deleted
(forget, positive) or never trained on (test, negative). Its attack model (a logistic
regression by default; the paper's random forest with ``attack_model = "forest"``,
decision record 0021) is cross-fitted: every row is scored by a model trained on the
other folds.
The same attack, with the same folds, runs on O->R_i for every retrained reference:
retraining also changes the forget rows' outputs, so the question is not "does the
attack work" but "does it work *as well as* on a true retrain".

Gated: ``AUC(O->U)`` against the retrain distribution of ``AUC(O->R_i)`` (decision
kernel: paired stratified row bootstrap plus the references' seed spread), two-sided.
The positive control O->O changes nothing and scores 1/2. Above the margin: U's changes single out
the forgotten rows more than retraining would (an extra leak). Below: U changed the
forget rows *less* distinctively than a retrain — typically it did not forget.

Regression: the features are the prediction change ``f_U(x) - f_O(x)``, its size and the
change of the absolute error (:func:`attacks.differencing.regression_difference_features`,
divided by the sampled targets' standard deviation so that they are unit-free like a
classifier's; the ``features`` option names classifier features and does not apply).

Cost: an attack model per fold per model pair (a forest grows faster than linearly in
rows; a logistic regression costs milliseconds). Each side
(forget, test) is therefore capped at ``max_rows`` rows drawn at random with the check's
seed; the same rows serve every pair, the bootstrap and the kernel see only them (so the
interval is as wide as the sample makes it), and the sample sizes are recorded in the
check's notes and table.
"""

from __future__ import annotations

import numpy as np

from attacks.differencing import (
    ATTACK_MODELS,
    FEATURES,
    difference_features,
    make_folds,
    out_of_fold_scores,
    regression_difference_features,
)
from attacks.metrics import auc_from_ranks
from attacks.resample import paired_roc_bootstrap
from audit.checks._paired import finish, model_roles
from audit.checks.base import CheckContext, CheckSpec
from audit.core.cost import tally
from audit.core.decision import Evidence, ModelStat
from audit.core.options import Option, switches
from audit.core.results import CheckResult, Finding, Metric, Table

__all__ = ["SPEC", "run", "sample_rows"]

SPLIT = "forget_vs_test"


def sample_rows(n: int, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of at most ``cap`` of ``n`` rows, drawn without replacement.

    Parameters
    ----------
    n : int
        Rows available.
    cap : int
        Most rows kept.
    rng : numpy.random.Generator
        Source of the draw.

    Returns
    -------
    ndarray of int

    Examples
    --------
    >>> sample_rows(5, 10, np.random.default_rng(0)).tolist()
    [0, 1, 2, 3, 4]
    >>> len(sample_rows(1000, 10, np.random.default_rng(0)))
    10
    """
    if n <= cap:
        return np.arange(n)
    return np.sort(rng.choice(n, size=cap, replace=False))


def _scores(ctx: CheckContext, roles: list[str], kinds: list[str],
            rows: dict[str, np.ndarray]) -> tuple[dict, dict]:
    c = ctx.cache
    out = c.values if c.task == "regression" else c.logprobs32

    def stacked(role: str) -> np.ndarray:
        # only the sampled rows leave the (float32, maybe memory-mapped) store, as float64
        return np.r_[out(role, "forget")[rows["forget"]], out(role, "test")[rows["test"]]].astype(np.float64)

    lo = stacked("original")
    y = np.r_[c.labels("forget")[rows["forget"]], c.labels("test")[rows["test"]]]
    nf = len(rows["forget"])
    member = np.r_[np.ones(nf), np.zeros(len(rows["test"]))].astype(int)
    folds = make_folds(member, int(ctx.policy["folds"]), ctx.seed)
    pos, neg = {}, {}
    spread = float(np.std(y)) if c.task == "regression" else 1.0
    spread = spread if spread > 0 else 1.0
    for r in roles:
        lr = stacked(r)
        feats = (regression_difference_features(lo, lr, y) / spread if c.task == "regression"
                 else difference_features(lo, lr, kinds, y))
        s = out_of_fold_scores(feats, member, folds, seed=ctx.seed, n_estimators=int(ctx.policy["n_estimators"]),
                               model=str(ctx.policy["attack_model"]))
        if np.ptp(feats, axis=0).any():  # constant features (O->O) score 1/2 without a forest
            tally("attack_models_trained", len(np.unique(folds)))
        pos[r], neg[r] = s[:nf], s[nf:]
    return pos, neg


def run(ctx: CheckContext) -> CheckResult:
    """Differencing attack on O->U against the same attack on every O->R_i.

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
    kinds = list(pol["features"])
    n = ctx.case.n
    if min(n.get("forget", 0), n.get("test", 0)) < 2 * int(pol["folds"]):
        return CheckResult("unlearning_inference", "inconclusive", "Too few forget or test rows to cross-fit.",
                           title=SPEC.title, missing=[f"at least {2 * pol['folds']} forget and test rows"])
    refs, roles = model_roles(ctx)
    cap = int(pol["max_rows"])
    rows = {s: sample_rows(n[s], cap, ctx.rng) for s in ("forget", "test")}
    pos, neg = _scores(ctx, roles, kinds, rows)
    reps = paired_roc_bootstrap(pos, neg, ctx.n_boot, ctx.rng)
    auc = {r: float(auc_from_ranks(pos[r], neg[r])) for r in roles}
    st = {r: ModelStat(auc[r], reps[r]["auc"]) for r in roles}
    n1, n0 = len(pos["unlearned"]), len(neg["unlearned"])
    floor = float(pol["auto_min_margin"]) if pol["auc_margin"] == "auto" else float(pol["auc_margin"])
    ev = Evidence("auc[differencing]", SPLIT, st["unlearned"], [st[r] for r in refs], st["original"],
                  "two_sided", floor, n1 + n0, "the same attack on original->R_i for each retrained reference",
                  note=f"Chen et al. 2021 differencing attack ({'+'.join(kinds)}; {pol['attack_model']} "
                       "attack model), cross-fitted",
                  n_min_side=min(n1, n0))
    table = Table("Differencing attack AUC per pair (forget vs test)", ["pair", "auc"],
                  [[f"original->{r}", auc[r]] for r in roles])
    sampled = Table("Rows the attack used (a seeded random sample when a side exceeds max_rows)",
                    ["split", "rows used", "rows in split"],
                    [[s, len(rows[s]), int(n[s])] for s in ("forget", "test")])
    result = finish(ctx, "unlearning_inference", SPEC.title, [ev], [], _summary, tables=[table, sampled])
    if any(len(rows[s]) < n[s] for s in rows):
        result.notes.append(f"attack sample: {len(rows['forget'])} of {n['forget']} forget rows and "
                            f"{len(rows['test'])} of {n['test']} test rows (max_rows = {cap}); the "
                            "interval reflects the sample, not the whole split")
    m = result.metrics[0]
    if m.status in ("fail", "inconclusive") and m.delta is not None and m.delta_ci is not None:
        leak = m.delta > 0
        msg = ("O->U changes single out the forgotten rows more than retraining does" if leak else
               "U changed the forgotten rows less distinctively than a retrain (it has not forgotten them)")
        result.findings.append(Finding(msg, metric=m.name, delta=m.delta, ci=m.delta_ci, status=m.status,
                                       test="decision kernel (rows + retrain seeds)",
                                       extra={"direction": "leak" if leak else "under-change",
                                              "margin": m.margin}))
    return result


def _summary(status: str, metrics: list[Metric]) -> str:
    delta = metrics[0].delta or 0.0 if metrics else 0.0
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
    kind="forgetting",
    power=False,
    order=45,
    tasks=("classification", "regression"),
    options={
        # required: with the retrain spread in the band a genuine retrain passes (negative
        # control), and a model that changed the forget rows less than a retrain (a no-op, a
        # light fine-tune) is what this attack sees where membership attacks cannot
        **switches(required=True),
        "features": Option(list, ["sorted_diff", "l2", "logit_diff"], "differencing features",
                           items=Option(str, choices=FEATURES), min_items=1, tighter="superset"),
        "folds": Option(int, 5, "cross-fitting folds", minimum=2),
        "attack_model": Option(str, "logistic", "the attack's classifier: a logistic regression, or Chen et al.'s "
                               "random forest (about 30x the cost)",
                               choices=ATTACK_MODELS),
        "n_estimators": Option(int, 100, "trees of the attack's random forest (attack_model = forest)", minimum=1),
        "max_rows": Option(int, 2000, "rows per side (forget, test) the attack trains and scores on; a "
                           "seeded random sample above it keeps the cost linear", minimum=20,
                           tighter="higher"),
        "auc_margin": Option(float, 0.05, "floor of the AUC margin (the references' spread widens it)", minimum=0, maximum=1,
                             allow_auto=True, tighter="lower"),
        "auto_min_margin": Option(float, 0.02, "floor of the auto AUC margin", minimum=0, maximum=1,
                                  tighter="lower"),
    },
)
