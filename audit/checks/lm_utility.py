"""``lm_utility``: perplexity on the retain and test texts, U against the retrains (harm only).

Perplexity of a split = ``exp(total NLL / total predicted tokens)`` over its texts. Texts are
resampled, not tokens (a text's tokens are not independent): the numerator and the token count
are bootstrapped together on the same resampled texts for every model
(:func:`audit.core.stats.bootstrap_means`), so U's and each reference's perplexities are paired.
One-sided (``at_most``): U fails only when its perplexity is higher than a fresh retrain's
would be; a lower one is reported as an improvement. The margin floor is ``ppl_margin_factor``
times the references' perplexity; the kernel widens it to their seed spread.
"""

from __future__ import annotations

import numpy as np

from audit.checks._paired import finish, model_roles
from audit.checks.base import CheckContext, CheckSpec
from audit.core.decision import Evidence, ModelStat
from audit.core.options import SPLITS, Option, switches
from audit.core.results import CheckResult, Metric
from audit.core.stats import bootstrap_means

__all__ = ["SPEC", "run", "perplexity_stats"]


def perplexity_stats(nll_sums: dict[str, np.ndarray], tokens: np.ndarray, n_boot: int,
                     rng: np.random.Generator) -> dict[str, ModelStat]:
    """Perplexity of each model and its paired text-bootstrap replicates.

    Parameters
    ----------
    nll_sums : dict of str to ndarray
        Per model, one summed negative log-likelihood (nats) per text.
    tokens : ndarray
        Predicted tokens per text (same order as every ``nll_sums`` array).
    n_boot : int
        Bootstrap replicates; texts are resampled, the same resample for every model and for
        the token counts (:func:`audit.core.stats.bootstrap_means`).
    rng : numpy.random.Generator
        Source of the resampling.

    Returns
    -------
    dict of str to ModelStat
        Per model, ``value = exp(total NLL / total tokens)`` and ``reps`` the ``n_boot``
        replicate perplexities (ratio of the resampled sums), paired across models.

    Examples
    --------
    >>> st = perplexity_stats({"u": np.array([2.0, 4.0])}, np.array([2, 2]), 50, np.random.default_rng(0))
    >>> round(st["u"].value, 4) == round(float(np.exp(1.5)), 4), st["u"].reps.shape
    (True, (50,))
    """
    names = list(nll_sums)
    mat = np.column_stack([*(np.asarray(nll_sums[r], np.float64) for r in names), tokens.astype(np.float64)])
    reps = bootstrap_means(mat, n_boot, rng)
    total = float(tokens.sum())
    return {r: ModelStat(float(np.exp(nll_sums[r].sum() / total)), np.exp(reps[:, i] / reps[:, -1]))
            for i, r in enumerate(names)}


def _evidence(ctx: CheckContext, split: str) -> tuple[Evidence, Metric]:
    refs, roles = model_roles(ctx)
    lps = {r: ctx.cache.token_logprobs(r, split) for r in roles}
    tokens = lps["unlearned"].lengths
    st = perplexity_stats({r: -lps[r].sums() for r in roles}, tokens, ctx.n_boot, ctx.rng)
    ref_ppl = float(np.mean([st[r].value for r in refs]))
    ev = Evidence("perplexity", split, st["unlearned"], [st[r] for r in refs], st["original"], "at_most",
                  float(ctx.policy["ppl_margin_factor"]) * ref_ppl, len(tokens),
                  "each retrained reference's perplexity on the same texts",
                  note="floor = ppl_margin_factor x the references' perplexity")
    nll = {r: float(np.log(st[r].value)) for r in roles}
    info = Metric("mean_nll", split, nll["unlearned"], reference=float(np.mean([nll[r] for r in refs])),
                  comparator="info", n=int(tokens.sum()),
                  note="mean negative log-likelihood per token (nats) = log perplexity; reported, not gated")
    return ev, info


def run(ctx: CheckContext) -> CheckResult:
    """Compare U's perplexity on each configured split with the retrain distribution (harm only).

    Parameters
    ----------
    ctx : CheckContext
        The language-model case, its :class:`audit.lm.cache.TokenCache`, this check's policy
        and its seeded rng.

    Returns
    -------
    CheckResult
        ``perplexity`` per non-empty configured split decided by the kernel
        (:func:`audit.checks._paired.finish`, ``at_most``), ``mean_nll`` as info; an empty split
        is listed as missing.
    """
    evidence: list[Evidence] = []
    info: list[Metric] = []
    missing = []
    for split in ctx.policy["splits"]:
        if ctx.case.n.get(split, 0) == 0:
            missing.append(f"{split} texts (the {split} split is empty)")
            continue
        ev, m = _evidence(ctx, split)
        evidence.append(ev)
        info.append(m)
    return finish(ctx, "lm_utility", SPEC.title, evidence, info, _summary, missing=missing)


def _summary(status: str, metrics: list[Metric]) -> str:
    worse = [m for m in metrics if m.status == "fail"]
    if worse:
        return "Unlearning damaged the language model: " + "; ".join(
            f"{m.split} perplexity {m.value:.3g} vs {m.reference:.3g} retrained" for m in worse)
    if status == "pass":
        return "Perplexity on the retain and test texts is no worse than a fresh retrain's."
    return ("The data cannot yet show that perplexity is no worse than a retrain's: "
            + "; ".join(f"{m.split} {m.name}" for m in metrics if m.status not in ("pass", None)
                        and m.comparator != "info") + ".")


SPEC = CheckSpec(
    id="lm_utility",
    title="Language-model utility (perplexity kept)",
    run=run,
    kind="harm",
    order=11,
    tasks=("language_model",),
    unsupported="it measures a language model's perplexity on texts",
    options={
        **switches(required=True),
        "splits": Option(list, ["retain", "test"], "splits whose perplexity is compared",
                         items=Option(str, choices=SPLITS), min_items=1, tighter="superset"),
        "ppl_margin_factor": Option(float, 0.1, "floor of the perplexity margin as a share of the references' "
                                    "perplexity", minimum=0, tighter="lower"),
    },
)
