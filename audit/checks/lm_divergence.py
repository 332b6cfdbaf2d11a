"""``lm_divergence``: how far U's next-token distributions are from the retrained references'.

Per predicted token and reference R_i: ``KL(R_i || U)`` of the two next-token distributions
(the token-level analogue of ``output_divergence``'s KL, Golatkar et al. 2020), averaged over
the text's tokens, then over the references (leave-one-out: each reference is scored the same
way against the *other* references, which gives the retrain distribution of the divergence and
its seed spread). Gated per split, one-sided (``at_most``): U fails only when it is further
from the retrains than a fresh retrain is. Top-1 disagreement (the share of positions where the
two models' most likely next token differs) is reported. The divergences come from the
:class:`audit.lm.cache.TokenCache` sweep, which runs every model over a split once and forms
every pair's KL while the batch's distributions are in memory (decision record 0014).
"""

from __future__ import annotations

import numpy as np

from audit.checks._paired import (
    finish,
    leave_one_out_rows,
    model_roles,
    resolve_margin,
    row_evidence,
)
from audit.checks.base import CheckContext, CheckSpec
from audit.core.options import SPLITS, Option, switches
from audit.core.results import CheckResult, Metric

__all__ = ["SPEC", "run"]


def _rows(ctx: CheckContext, split: str, what: str) -> dict[str, np.ndarray]:
    """Per text, the mean over its tokens of ``KL(R || c)`` (or disagreement), leave-one-out over R."""
    c = ctx.cache
    get = c.kl if what == "kl" else c.disagreement
    return leave_one_out_rows(ctx, lambda r, x: get(r, x, split).means())


def run(ctx: CheckContext) -> CheckResult:
    """Compare U-vs-R token divergences with the retrain-to-retrain distribution on every split.

    Parameters
    ----------
    ctx : CheckContext
        The language-model case, its :class:`audit.lm.cache.TokenCache`, this check's policy
        and its seeded rng.

    Returns
    -------
    CheckResult
        ``token_kl`` per non-empty configured split decided by the kernel
        (:func:`audit.checks._paired.finish`, ``at_most``, leave-one-out over the references),
        ``top1_disagreement`` as info; inconclusive without running when there are fewer than
        3 retrained references.
    """
    pol = ctx.policy
    refs, _ = model_roles(ctx)
    if len(refs) < 3:
        return CheckResult("lm_divergence", "inconclusive", "Too few retrained references to measure how far "
                           "retrains are from each other.", title=SPEC.title,
                           missing=[f"at least 3 retrained references (has {len(refs)}): each is scored "
                                    "against the others"])
    evidence, info = [], []
    src = "each retrained reference's token KL from the other references (leave-one-out)"
    for split in pol["splits"]:
        if ctx.case.n.get(split, 0) == 0:
            continue
        kl = _rows(ctx, split, "kl")
        level = float(np.mean([kl[r].mean() for r in refs]))
        floor = resolve_margin(pol["kl_margin"], level, pol["auto_factor"])
        if pol["kl_margin"] == "auto":
            floor = max(floor or 0.0, float(pol["kl_min_margin"]))
        evidence.append(row_evidence(ctx, "token_kl", split, kl, "at_most", floor, src, relative=True))
        dis = _rows(ctx, split, "dis")
        info.append(Metric("top1_disagreement", split, float(dis["unlearned"].mean()),
                           reference=float(np.mean([dis[r].mean() for r in refs])), comparator="info",
                           n=len(dis["unlearned"]), note="share of positions whose most likely next token "
                           "differs from a reference's; reported, not gated"))
    return finish(ctx, "lm_divergence", SPEC.title, evidence, info, _summary)


def _summary(status: str, metrics: list[Metric]) -> str:
    forget = next((m for m in metrics if m.name == "token_kl" and m.split == "forget"), None)
    tail = ""
    if forget is not None and forget.reference:
        tail = (f" On the forget texts KL(R||U) = {forget.value:.4g} nats per token against a "
                f"retrain-to-retrain noise floor of {forget.reference:.4g}.")
    if status == "pass":
        return "U's next-token distributions are as close to the retrained models as retrains are to each other." + tail
    if status == "fail":
        return "U's next-token distributions differ from the retrained models by more than retrains differ." + tail
    return "The data cannot yet show U's next-token distributions to be as close to retrains as retrains are." + tail


SPEC = CheckSpec(
    id="lm_divergence",
    title="Token-level divergence from retrained language models",
    run=run,
    kind="forgetting",
    order=21,
    tasks=("language_model",),
    unsupported="it compares language models' next-token distributions",
    options={
        **switches(required=True),
        "splits": Option(list, ["forget", "retain", "test"], "splits on which U's next-token distributions "
                         "are compared with R's", items=Option(str, choices=SPLITS), min_items=1,
                         tighter="superset"),
        "auto_factor": Option(float, 0.25, '"auto" floor = auto_factor x the retrain-to-retrain KL',
                              minimum=0, exclusive_minimum=True, tighter="lower"),
        "kl_margin": Option(float, "auto", "token KL margin (nats per token)", minimum=0, allow_auto=True,
                            tighter="lower"),
        "kl_min_margin": Option(float, 0.001, "floor of the auto token KL margin", minimum=0, tighter="lower"),
    },
)
