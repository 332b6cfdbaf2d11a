"""``method`` (method mode): is an unlearning *method* indistinguishable from retraining?

A method audit (:func:`audit.lab.method_audit.run_method_audit`) trains, per seed ``s``, an
original ``O_s`` on forget + retain rows carrying a planted signal (decision record 0008),
runs the method to get ``U_s``, and trains ``K`` retrained references ``R_j`` on the retain
rows only. The runner then runs this check once per method (result id ``method_<name>``),
its context's ``extras["seeds"]`` holding one :class:`SeedRun` per seed, whose ``cache``
answers for the roles ``unlearned`` (``U_s``), ``original`` (``O_s``) and
``retrained:j`` exactly like a model audit's :class:`audit.core.cache.OutputCache`.

Every gated metric of every seed goes through the one decision kernel
(:func:`audit.checks._paired.finish`): ``U_s`` is the candidate, each ``R_j`` is scored as
the candidate against the others (the **negative control**: a retrain posing as the
method) and ``O_s`` is the **positive control** (a no-op posing as the method). The fail
band is Bonferroni over metrics x seeds, so a genuine retrain fails with probability at most
``fail_level`` however many seeds run, and a pass needs every seed inside the joint band.
Gated, per seed: accuracy on retain and test (harm: ``at_least``), the forget-minus-test
loss gap (Yeom 2018), the injection ratio (Izzo 2021: the planted feature's attribution under the model / under
``O_s``) and the trigger hit rate on triggered test rows (the Athena canary as a rate).

With ``extras["forget_kind"] == "class"`` (one class removed whole, decision record 0017) the
per-seed evidence is :func:`audit.checks._method_class.class_seed_evidence` instead: accuracy on
retain and on the kept classes' test rows, the removed class's accuracy and probability mass on
its rows and the kept-class agreement with the retrains (no planted column, no canary).

Reported with **no status** (one rule: a statistic without one value per reference cannot be
scored against the retrain distribution): the Fisher canary test, the loss-attack AUC,
leave-one-seed-out U-LiRA and the NeurIPS-2023 challenge epsilon (decision record 0006),
KL(R || U) (context: on the planted forget rows the retrains' answers come from weights the
planted column never trained, a heavy-tailed spread: a genuine retrain sat 7 of their SDs out),
wall time and storage.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from attacks.metrics import auc
from audit.checks._method_attacks import challenge_metrics, ulira_metric
from audit.checks._method_class import class_info, class_seed_evidence
from audit.checks._paired import finish, model_roles, row_evidence
from audit.checks.base import CheckContext, CheckSpec
from audit.core.decision import Evidence, ModelStat, row_mean_stats
from audit.core.divergence import row_divergences
from audit.core.options import Option, switches
from audit.core.results import CheckResult, Metric
from audit.core.stats import winsorize_by_references

__all__ = ["SPEC", "SeedRun", "run"]


@dataclass
class SeedRun:
    """One seed of one method: the outputs of ``U_s``, ``O_s`` and the references, and costs.

    ``cache`` is any object with :class:`audit.core.cache.OutputCache`'s reading methods and
    roles ``unlearned``, ``original``, ``retrained:0..K-1``; its splits are ``forget``,
    ``retain``, ``test``, ``forget_zeroed`` (forget rows, planted column 0) and ``trigger``
    (triggered test rows, labelled with the target class).

    Attributes
    ----------
    seed : int
        The training seed.
    cache : object
        The seed's outputs, as above (the lab's view of its :class:`audit.core.cache.OutputCache`).
    canary : CanaryTwoSampleTest or None
        The exact two-sample canary test of U's trigger hits against the paired retrain's
        (:func:`audit.lab.canary.canary_two_sample_test`); ``None`` for a class removal.
    seconds : float
        The method's wall time (``seconds_unlearn``).
    retrain_seconds : float
        Wall time of training the paired retrained reference (its reference value).
    storage_bytes : int
        Extra state the method keeps (SISA checkpoints); 0 if none.
    extra : dict of str to float
        Method-specific numbers; the first seed's are reported as notes.
    """

    seed: int
    cache: Any
    canary: Any
    seconds: float
    retrain_seconds: float
    storage_bytes: int = 0
    extra: dict[str, float] = field(default_factory=dict)


def _loss_gap(ctx: CheckContext, tag: str, floor: float) -> Evidence:
    """Mean forget loss minus mean test loss (Winsorised by the references), per model."""
    c = ctx.cache
    refs, roles = model_roles(ctx)
    capped = {s: winsorize_by_references({r: c.losses(r, s) for r in roles}, refs)[0] for s in ("forget", "test")}
    f = row_mean_stats(capped["forget"], ctx.n_boot, ctx.rng)
    t = row_mean_stats(capped["test"], ctx.n_boot, ctx.rng)
    st = {r: ModelStat(f[r].value - t[r].value, f[r].reps - t[r].reps) for r in roles}
    n_f, n_t = len(capped["forget"]["unlearned"]), len(capped["test"]["unlearned"])
    return Evidence(f"loss_gap{tag}", "forget_vs_test", st["unlearned"], [st[r] for r in refs], st["original"],
                    "two_sided", floor, n_f + n_t, "each retrained reference's loss gap on the same rows",
                    n_min_side=min(n_f, n_t))


def _injection_rows(ctx: CheckContext) -> dict[str, np.ndarray] | None:
    """Per-row drop of the target log-probability when the planted column is zeroed, / O's mean drop."""
    c = ctx.cache
    _, roles = model_roles(ctx)
    drop = {r: c.losses(r, "forget_zeroed") - c.losses(r, "forget") for r in roles}
    o = float(drop["original"].mean())
    return None if o <= 0 else {r: d / o for r, d in drop.items()}


def _divergence_rows(cache: Any, split: str, roles: list[str]) -> dict[str, np.ndarray]:
    """Per-row KL(R || m) averaged over the references other than ``m``."""
    refs = cache.reference_roles
    return {m: np.mean([row_divergences(cache.logprobs(r, split), cache.logprobs(m, split))["kl"]
                        for r in refs if r != m], axis=0) for m in roles}


def _seed_evidence(ctx: CheckContext, tag: str) -> tuple[list[Evidence], list[str]]:
    pol, c = ctx.policy, ctx.cache
    refs, roles = model_roles(ctx)
    src = "each retrained reference's {} on the same rows"
    ev = [row_evidence(ctx, f"accuracy{tag}", s, {r: c.correct(r, s) for r in roles}, "at_least",
                       float(pol["accuracy_margin"]), src.format("accuracy")) for s in ("retain", "test")]
    ev.append(_loss_gap(ctx, tag, float(pol["loss_gap_margin"])))
    notes = []
    inj = _injection_rows(ctx)
    if inj is None:
        notes.append(f"seed{tag}: the original does not use the planted feature; no injection ratio")
    else:
        ev.append(row_evidence(ctx, f"injection_ratio{tag}", "forget", inj, "two_sided",
                               float(pol["injection_margin"]), src.format("injection ratio"),
                               note="attribution of the planted feature under the model / under the original"))
    target = ctx.extras["target"]
    hits = {r: (c.predictions(r, "trigger") == target).astype(float) for r in roles}
    ev.append(row_evidence(ctx, f"trigger_hit_rate{tag}", "trigger", hits, "two_sided",
                           float(pol["trigger_margin"]), src.format("trigger hit rate"),
                           note="share of triggered test rows sent to the planted target class"))
    return ev, notes


def _mia_auc(cache: Any, role: str) -> float:
    f, t = cache.losses(role, "forget"), cache.losses(role, "test")
    return auc(-np.r_[f, t], np.r_[np.ones(len(f)), np.zeros(len(t))])


def _kl_info(runs: list[SeedRun], split: str) -> Metric:
    """KL(R || U) per row, U over seeds against the references' leave-one-out level (context)."""
    refs = runs[0].cache.reference_roles
    u = [float(_divergence_rows(r.cache, split, ["unlearned"])["unlearned"].mean()) for r in runs]
    level = _divergence_rows(runs[0].cache, split, refs)
    ref = float(np.mean([level[r].mean() for r in refs]))
    return Metric("kl_r_u", split, float(np.mean(u)), reference=ref, delta=float(np.mean(u)) - ref,
                  comparator="info", n=len(u),
                  note="KL(R || U) per row, mean over the references and seeds; reference = each reference's "
                       "KL from the others. Context, not gated: on the forget rows the retrains answer the "
                       "planted column with weights it never trained, so their spread is heavy-tailed")


def _planted_info(runs: list[SeedRun]) -> list[Metric]:
    """Random forget rows: the Fisher canary test and the loss attack (reported, no status)."""
    refs = list(runs[0].cache.reference_roles)
    detected = [not r.canary.deleted for r in runs]
    c0 = runs[0].canary
    mia_u = [_mia_auc(r.cache, "unlearned") for r in runs]
    mia_r = [_mia_auc(runs[0].cache, ref) for ref in refs]
    return [
        Metric("canary_detected", "trigger", float(np.mean(detected)), comparator="info", n=len(runs),
               note=f"share of seeds whose exact two-sample canary test (Fisher, {c0.n} queries, alpha "
                    f"{c0.alpha:g}) tells U's trigger hits from the paired retrain's; reported, no status "
                    "(trigger_hit_rate carries the canary to the decision kernel)"),
        Metric("loss_attack_auc", "forget_vs_test", float(np.mean(mia_u)), reference=float(np.mean(mia_r)),
               delta=float(np.mean(mia_u) - np.mean(mia_r)), comparator="info", n=len(runs),
               note="loss attack AUC, mean over seeds; reference = mean over the references; context "
                    "(loss_gap is the gated form)"),
    ]


def _info(ctx: CheckContext, runs: list[SeedRun]) -> list[Metric]:
    refs = list(runs[0].cache.reference_roles)
    info = class_info(runs) if _is_class(ctx) else _planted_info(runs)
    # U-LiRA and the challenge pair seed i's U with reference i (the lab trains >= one per seed)
    phi_u = np.stack([r.cache.phi("unlearned") for r in runs])
    phi_r = np.stack([runs[0].cache.phi(refs[i]) for i in range(len(runs))])
    info += [_kl_info(runs, "forget"), _kl_info(runs, "test"), ulira_metric(phi_u, phi_r, ctx.alpha),
             *challenge_metrics(phi_u, phi_r, seed=ctx.seed)]
    secs = float(np.mean([r.seconds for r in runs]))
    info.append(Metric("seconds_unlearn", "seeds", secs, reference=float(np.mean([r.retrain_seconds for r in runs])),
                       comparator="info", n=len(runs), note="reference = wall time of the exact retrain"))
    info.append(Metric("storage_bytes", "seeds", float(np.mean([r.storage_bytes for r in runs])),
                       comparator="info", n=len(runs)))
    return info


def _is_class(ctx: CheckContext) -> bool:
    return ctx.extras.get("forget_kind", "random") == "class"


def run(ctx: CheckContext) -> CheckResult:
    """Decide one method over every seed with the kernel; report the seed-level detectors.

    Parameters
    ----------
    ctx : CheckContext
        The method's context: ``extras`` holds ``method`` (its name), ``seeds`` (one
        :class:`SeedRun` per seed), ``target`` (the planted target class) and
        ``forget_kind`` (``"random"``, the default, or ``"class"``).

    Returns
    -------
    CheckResult
        Id ``method_<name>``: the gated per-seed metrics decided together by
        :func:`audit.checks._paired.finish`, the reported ones beside them.
    """
    name, runs = ctx.extras["method"], ctx.extras["seeds"]
    seed_evidence = class_seed_evidence if _is_class(ctx) else _seed_evidence
    evidence: list[Evidence] = []
    notes: list[str] = []
    for r in runs:
        ev, why = seed_evidence(replace(ctx, cache=r.cache), f"[seed={r.seed}]")
        evidence += ev
        notes += why
    notes += [f"{k} = {v:.4g}" for k, v in runs[0].extra.items()]
    return finish(ctx, f"method_{name}", f"Method: {name}", evidence, _info(ctx, runs),
                  lambda status, metrics: _summary(name, status, metrics), notes=notes)


def _summary(name: str, status: str, metrics: list[Metric]) -> str:
    failed = sorted({f"{m.name.split('[')[0]} ({m.split})" for m in metrics if m.status == "fail"})
    if status == "pass":
        return f"{name}: indistinguishable from retraining on every gated metric of every seed."
    if failed:
        return f"{name}: differs from retraining on {', '.join(failed)}."
    return f"{name}: could not be shown equivalent to retraining with these seeds and references."


SPEC = CheckSpec(
    id="method",
    title="Method audit (one check per method)",
    run=run,
    kind="forgetting",
    order=200,
    modes=("method",),
    options={
        **switches(required=True),
        "accuracy_margin": Option(float, 0.03, "largest accepted accuracy drop U - R (floor of the band)",
                                  minimum=0, maximum=1, tighter="lower"),
        "loss_gap_margin": Option(float, 0.05, "floor of the forget-minus-test loss gap band (nats)",
                                  minimum=0, tighter="lower"),
        "injection_margin": Option(float, 0.1, "floor of the injection-ratio band (0 = forgotten, 1 = kept)",
                                   minimum=0, tighter="lower"),
        "trigger_margin": Option(float, 0.05, "floor of the trigger-hit-rate band", minimum=0, maximum=1,
                                 tighter="lower"),
        "class_accuracy_margin": Option(float, 0.05, "class removal: floor of the band of the removed class's "
                                        "accuracy U - R", minimum=0, maximum=1, tighter="lower"),
        "class_mass_margin": Option(float, 0.05, "class removal: floor of the band of the removed class's mean "
                                    "probability U - R", minimum=0, maximum=1, tighter="lower"),
        "agreement_margin": Option(float, 0.1, "class removal: largest accepted drop of the kept-class agreement "
                                   "with the retrains (floor of the band)", minimum=0, maximum=1, tighter="lower"),
        "canary_alpha": Option(float, 1e-3, "level of the reported Fisher canary test", minimum=0, maximum=0.5,
                               exclusive_minimum=True),
        "n_queries": Option(int, 100, "triggered test rows queried", minimum=20, tighter="higher"),
        "inject_value": Option(float, 3.0, "value of the planted column on the forget rows",
                               exclusive_minimum=True, minimum=0),
        "references": Option(int, 8, "retrained references trained on the retain rows (at least one per "
                             "seed is trained)", minimum=3, maximum=256, tighter="higher"),
        "sisa_shards": Option(int, 5, "SISA shards", minimum=1, maximum=64, tighter="neutral"),
        "sisa_slices": Option(int, 3, "SISA slices per shard", minimum=1, maximum=64, tighter="neutral"),
        "fed_clients": Option(int, 5, "FedAvg clients (the forget rows are one of them)", minimum=2,
                              maximum=64, tighter="neutral"),
    },
)
