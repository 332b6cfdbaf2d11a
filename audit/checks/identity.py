"""``identity``: is the "unlearned" model the original itself?

Runs before any statistics. U fails at once when its digest equals O's, or when its
log-probabilities (a regressor's predictions; a language model's per-token log-probabilities)
equal O's on every audited row (within ``atol``) while the retrained references differ from O — a re-exported no-op. Nothing else
needs to be measured to know that such a model forgot nothing.
"""

from __future__ import annotations

import numpy as np

from audit.checks.base import CheckContext, CheckSpec
from audit.core.options import Option, switches
from audit.core.results import CheckResult, Metric

__all__ = ["SPEC", "run", "max_output_gap"]


def max_output_gap(ctx: CheckContext, a: str, b: str) -> float:
    """Largest absolute log-probability difference of ``a`` and ``b``.

    Regression: of the predictions; a language model: of the per-token log-probabilities.

    Parameters
    ----------
    ctx : CheckContext
        The check's context.
    a, b : str
        Two roles.

    Returns
    -------
    float
        Over every split.
    """
    def gap(la: np.ndarray, lb: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.max(np.abs(la - lb), axis=1)

    def split_gap(s: str) -> float:
        if ctx.cache.task == "language_model":  # per-token log p(x_t | x_<t), already cached
            va, vb = ctx.cache.token_logprobs(a, s).values, ctx.cache.token_logprobs(b, s).values
            return float(np.max(np.abs(va - vb))) if va.size else 0.0
        if ctx.cache.task == "regression":
            return float(np.max(np.abs(ctx.cache.values(a, s) - ctx.cache.values(b, s))))
        return float(np.max(ctx.cache.rowwise(gap, s, a, b)))

    gaps = [split_gap(s)
            for s in ("forget", "retain", "test") if ctx.case.n.get(s, 0) > 0]
    return max(gaps) if gaps else 0.0


def run(ctx: CheckContext) -> CheckResult:
    """Fail a U that is byte- or output-identical to O.

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
    models = ctx.case.models
    u_sha, o_sha = getattr(models["unlearned"], "sha256", None), getattr(models["original"], "sha256", None)
    if u_sha and u_sha == o_sha:
        return CheckResult("identity", "fail", "The unlearned model is byte-identical to the original "
                           f"(sha256 {u_sha[:12]}…): nothing was unlearned.", title=SPEC.title)
    atol = float(ctx.policy["atol"])
    gap_u = max_output_gap(ctx, "unlearned", "original")
    gap_r = [max_output_gap(ctx, r, "original") for r in ctx.cache.reference_roles]
    regression = ctx.cache.task == "regression"
    what = "prediction" if regression else "log-probability"
    name = "max_prediction_gap[U-O]" if regression else "max_logprob_gap[U-O]"
    metrics = [Metric(name, "all", gap_u, reference=min(gap_r) if gap_r else None,
                      comparator="info", n=sum(ctx.case.n.values()),
                      note="reference = the smallest gap of a retrained reference to the original")]
    if gap_u <= atol and gap_r and min(gap_r) > atol:
        return CheckResult("identity", "fail", "The unlearned model gives the original's outputs on every row "
                           f"(largest {what} gap {gap_u:.2g} <= {atol:g}) while every retrain differs: "
                           "it is the original re-exported.", title=SPEC.title, metrics=metrics)
    return CheckResult("identity", "pass", "The unlearned model is not the original (digest and outputs differ).",
                       title=SPEC.title, metrics=metrics)


SPEC = CheckSpec(
    id="identity",
    title="Identity (is U the original?)",
    run=run,
    order=0,
    options={
        **switches(required=True),
        "atol": Option(float, 1e-6, "largest log-probability (regression: prediction) gap at which U's "
                       "outputs count as O's",
                       minimum=0, maximum=1e-2, tighter="higher"),
    },
    kind="identity",
    tasks=("classification", "regression", "language_model"),
)
