"""``sequence_membership``: do the forget texts look as (non-)member-like under U as under R?

A language model's membership inference, per sequence (:mod:`attacks.sequence`): LOSS, zlib,
Min-K% and Min-K%++ scores of every forget text (positives) against every test text
(negatives, never trained on) under the unlearned model U, under every retrained reference
R_i and under the original O. Gated, per attack: the AUC under U against the retrain
distribution of the same AUC (two-sided, like ``membership_inference``: an AUC above a
retrain's says the forget texts are still remembered, one below says they were pushed past a
retrain — itself a tell). Every model is bootstrapped on the same resampled texts
(:func:`attacks.resample.paired_roc_bootstrap`), and the decision kernel adds the references'
seed spread. Reported, not gated: TPR at low FPR, and the privleak-style relative gap of MUSE
(Shi et al. 2024), ``(AUC_U - AUC_R) / AUC_R x 100`` with ``AUC_R`` the references' mean AUC —
a point score that benchmarks print without a noise floor; here the mean size of each
reference's own privleak against the other references is shown beside it.
"""

from __future__ import annotations

import numpy as np

from attacks.metrics import auc_from_ranks
from attacks.resample import paired_roc_bootstrap, tpr_at_fpr_rows
from attacks.sequence import SEQUENCE_ATTACKS, sequence_scores
from audit.checks._paired import finish, model_roles
from audit.checks.base import CheckContext, CheckSpec
from audit.checks.membership_inference import _roc_figure
from audit.core.decision import Evidence, ModelStat
from audit.core.options import Option, switches
from audit.core.results import CheckResult, Figure, Finding, Metric, Table
from audit.core.stats import ci_level

__all__ = ["SPEC", "run", "privleak"]

SPLIT = "forget_vs_test"


def privleak(auc: float, reference_auc: float) -> float:
    """MUSE's privleak: the relative AUC gap to a retrained model, in percent.

    Parameters
    ----------
    auc : float
        The attack's AUC under the model scored.
    reference_auc : float
        The AUC under the retrained model(s) it is compared with (must be non-zero).

    Returns
    -------
    float
        ``(auc - reference_auc) / reference_auc * 100``; positive = more member-like than
        the reference.

    Examples
    --------
    >>> privleak(0.75, 0.5)
    50.0
    """
    return (auc - reference_auc) / reference_auc * 100.0


def _scores(ctx: CheckContext, roles: list[str], attacks: list[str]) -> dict[str, dict[str, dict]]:
    """``{split: {role: {attack: per-text scores}}}`` for the forget and test texts."""
    c, k = ctx.cache, float(ctx.policy["k"])
    out: dict[str, dict[str, dict]] = {}
    for split in ("forget", "test"):
        texts = c.texts(split)
        out[split] = {}
        for r in roles:
            lp = c.token_logprobs(r, split)
            mu, sigma = c.token_moments(r, split)
            out[split][r] = sequence_scores(lp.values, lp.offsets, texts, attacks, k, mu.values, sigma.values)
    return out


def _attack(ctx: CheckContext, attack: str, roles: list[str], scores: dict, levels: list[float]
            ) -> tuple[Evidence, list[Metric], list[list]]:
    refs = ctx.cache.reference_roles
    pos = {r: scores["forget"][r][attack] for r in roles}
    neg = {r: scores["test"][r][attack] for r in roles}
    reps = paired_roc_bootstrap(pos, neg, ctx.n_boot, ctx.rng, levels)
    auc = {r: float(auc_from_ranks(pos[r], neg[r])) for r in roles}
    tpr = {r: tpr_at_fpr_rows(pos[r][None], neg[r][None], levels)[0] for r in roles}
    n1, n0 = len(pos["unlearned"]), len(neg["unlearned"])
    ev = Evidence(f"auc[{attack}]", SPLIT, ModelStat(auc["unlearned"], reps["unlearned"]["auc"]),
                  [ModelStat(auc[r], reps[r]["auc"]) for r in refs],
                  ModelStat(auc["original"], reps["original"]["auc"]), "two_sided", float(ctx.policy["auc_margin"]),
                  n1 + n0, "each retrained reference's AUC under the same attack on the same texts",
                  n_min_side=min(n1, n0))
    q = [(1 - ci_level(ctx.alpha)) / 2, 1 - (1 - ci_level(ctx.alpha)) / 2]
    info = []
    for j, level in enumerate(levels):
        info.append(Metric(
            f"tpr@{level:g}fpr[{attack}]", SPLIT, float(tpr["unlearned"][j]),
            ci=tuple(np.quantile(reps["unlearned"]["tpr"][:, j], q)),
            reference=float(np.mean([tpr[r][j] for r in refs])), comparator="info", n=n1 + n0,
            note=None if n0 >= 1.0 / level else f"unresolved: {n0} test texts < 1/FPR = {1 / level:g}"))
    ref_auc = float(np.mean([auc[r] for r in refs]))
    own = {r: privleak(auc[r], float(np.mean([auc[q] for q in refs if q != r]))) for r in refs if len(refs) > 1}
    leak = {r: privleak(auc[r], ref_auc) for r in ("unlearned", "original")} | own
    info.append(Metric(f"privleak[{attack}]", SPLIT, leak["unlearned"],
                       reference=float(np.mean(np.abs(list(own.values())))) if own else None, comparator="info",
                       n=n1 + n0, note=f"(AUC_U - AUC_R) / AUC_R x 100, AUC_R = {ref_auc:.3f} (the references' "
                       f"mean); the original's is {leak['original']:.1f}; reference = the mean size of each "
                       "reference's own privleak against the others (how far genuine retrains stray); "
                       "reported, not gated"))
    rows = [[r, attack, auc[r], *[float(t) for t in tpr[r]], leak.get(r)] for r in roles]
    return ev, info, rows


def _histogram(scores: dict, attack: str) -> Figure:
    """Per-text LOSS scores (mean log-probability) of the forget and test texts under U and R_0."""
    series, vals = [], []
    for split in ("forget", "test"):
        for role, label in (("unlearned", "U"), ("retrained:0", "R0")):
            vals.append((f"{label} {split}", scores[split][role][attack]))
    allv = np.concatenate([v for _, v in vals])
    edges = np.linspace(float(allv.min()), float(allv.max()) + 1e-9, 31)
    for label, v in vals:
        series.append({"label": label, "bin_edges": edges, "counts": np.histogram(v, edges)[0]})
    return Figure("histogram", "Per-text mean token log-probability, forget vs test",
                  {"series": series, "xlabel": "mean log p per token (nats)"})


def _finding(m: Metric) -> Finding | None:
    if m.status not in ("fail", "inconclusive") or m.delta is None or m.delta_ci is None:
        return None
    if m.delta > 0:
        kind, what = "under-unlearning", "still look like training texts under U"
    else:
        kind, what = "over-unlearning", "look less like training texts under U than under a retrain (Streisand effect)"
    return Finding(message=f"{m.name}: forget texts {what}", metric=m.name, delta=m.delta, ci=m.delta_ci,
                   status=m.status, test="decision kernel (texts + retrain seeds)",
                   extra={"direction": kind, "margin": m.margin})


def run(ctx: CheckContext) -> CheckResult:
    """Sequence-level membership attacks on forget vs test texts under U, each R and O.

    Parameters
    ----------
    ctx : CheckContext
        The language-model case, its :class:`audit.lm.cache.TokenCache`, this check's policy
        (``attacks``, ``k``, ``auc_margin``, ``fpr_levels``) and its seeded rng.

    Returns
    -------
    CheckResult
        ``auc[attack]`` per configured attack decided by the kernel (two-sided), TPR at each
        FPR level and privleak as info, the per-model table, ROC figures (and the LOSS score
        histogram), under-/over-unlearning findings and notes on truncated texts;
        inconclusive without running when the forget or test split has fewer than 2 texts.
    """
    pol = ctx.policy
    n = ctx.case.n
    if n.get("forget", 0) < 2 or n.get("test", 0) < 2:
        need = ctx.settings.min_rows
        return CheckResult("sequence_membership", "inconclusive", "Too few forget or test texts to attack.",
                           title=SPEC.title, missing=[f"at least {need} forget and {need} test texts "
                                                      f"(has {n.get('forget', 0)} and {n.get('test', 0)})"])
    _, roles = model_roles(ctx)
    attacks, levels = list(pol["attacks"]), [float(x) for x in pol["fpr_levels"]]
    scores = _scores(ctx, roles, attacks)
    evidence, info, rows, figures = [], [], [], []
    for attack in attacks:
        ev, ms, trows = _attack(ctx, attack, roles, scores, levels)
        evidence.append(ev)
        info += ms
        rows += trows
        figures.append(_roc_figure(attack, {r: scores["forget"][r][attack] for r in roles},
                                   {r: scores["test"][r][attack] for r in roles}, roles))
    if "loss" in attacks:
        figures.insert(0, _histogram(scores, "loss"))
    notes = [f"{t} {s} text(s) cut to {ctx.case.max_tokens} tokens (the models' position limit)"
             for s, t in ctx.case.truncated.items() if t and s in ("forget", "test")]
    table = Table("Sequence attack AUC, TPR at low FPR and privleak per model (forget vs test texts)",
                  ["model", "attack", "auc", *[f"tpr@{x:g}fpr" for x in levels], "privleak"], rows)
    result = finish(ctx, "sequence_membership", SPEC.title, evidence, info, _summary, tables=[table],
                    figures=figures, notes=notes)
    result.findings = [f for f in (_finding(m) for m in result.metrics if m.comparator != "info") if f]
    return result


def _summary(status: str, metrics: list[Metric]) -> str:
    kinds = {f.extra.get("direction") for f in (_finding(m) for m in metrics) if f and f.status == "fail"}
    if status == "pass":
        return ("Per-text membership attacks (LOSS, zlib, Min-K%, Min-K%++) find the forget texts exactly as "
                "member-like under U as under retrained models.")
    if "under-unlearning" in kinds and "over-unlearning" in kinds:
        return "Attacks disagree: some find the forget texts too member-like, others too little (both fail)."
    if "under-unlearning" in kinds:
        return "The forget texts still look like training texts under U: per-text membership attacks beat the retrain."
    if "over-unlearning" in kinds:
        return ("Over-unlearning: the forget texts look less like training texts under U than under a retrain, "
                "which itself reveals them (Streisand effect).")
    return "The data cannot yet show U's membership leakage on the forget texts to equal a retrain's."


SPEC = CheckSpec(
    id="sequence_membership",
    title="Sequence membership inference on the forget texts",
    run=run,
    kind="forgetting",
    order=41,
    tasks=("language_model",),
    unsupported="it scores texts with a language model's per-token log-probabilities",
    options={
        **switches(required=True),
        "attacks": Option(list, list(SEQUENCE_ATTACKS), "per-text attacks on forget vs test texts (each one gated)",
                          items=Option(str, choices=SEQUENCE_ATTACKS), min_items=1, tighter="superset"),
        "k": Option(float, 0.2, "share of a text's least likely tokens that Min-K% and Min-K%++ average",
                    minimum=0, maximum=1, exclusive_minimum=True, tighter="neutral"),
        "auc_margin": Option(float, 0.03, "floor of the AUC margin (the references' spread widens it)",
                             minimum=0, maximum=1, tighter="lower"),
        "fpr_levels": Option(list, [0.01, 0.1], "false-positive rates at which TPR is reported",
                             items=Option(float, minimum=0, maximum=1, exclusive_minimum=True,
                                          exclusive_maximum=True), min_items=1, tighter="superset"),
    },
)
