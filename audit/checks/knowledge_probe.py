"""``knowledge_probe``: does U still know the forgotten facts when asked?

Language-model cases with a question and an answer column. Per QA row, from the
answer's token log-probabilities given the question (``TokenCache.conditional_logprobs``,
once per model and key):

* **answer probability** — ``exp(mean log p(answer token | question, earlier answer
  tokens))``: the length-normalised probability ``P(a | q) ** (1 / |a|)`` TOFU reports;
* **truth ratio** (TOFU, Maini et al. 2024) — with the case's wrong-but-plausible
  ``perturbed`` answers ``a'_1 .. a'_m``: ``(1/m) sum_j P(a'_j | q) ** (1/|a'_j|) /
  P(a | q) ** (1/|a|)``. About 1 when the model cannot tell the true answer from the wrong
  ones (a model that never saw the fact); far below 1 when it knows the fact. A ratio of
  small probabilities is heavy-tailed (on bios the retrains' mean ratio was 62 while their
  median was near 1), so the gated statistic is the mean of ``ln(truth ratio)`` — 0 for a
  model that cannot tell, negative when it still knows the facts, positive when it prefers
  the wrong answers — and the geometric mean ``exp(mean ln TR)`` is reported as
  ``truth_ratio``.

Through the decision kernel against each retrained reference on the same rows: on the
forget split two-sided (a U that is *surer than a retrain that the true answer is wrong*
is as distinguishable as one that still knows it), and on ``harm_splits`` the answer
probability one-sided (``at_least``): the facts U was meant to keep must stay as known as
a retrain knows them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from audit.checks._paired import finish, model_roles, row_evidence
from audit.checks.base import CheckContext, CheckSpec
from audit.core.decision import Evidence
from audit.core.options import SPLITS, Option, switches
from audit.core.results import CheckResult, Figure, Metric

__all__ = ["SPEC", "run", "answer_probability", "truth_ratio", "probe_rows"]


def _row_means(ragged: Any) -> np.ndarray:
    return np.asarray(ragged.means(), dtype=np.float64)


def answer_probability(mean_logprob: np.ndarray) -> np.ndarray:
    """``exp`` of the mean answer-token log-probability: ``P(a | q) ** (1 / |a|)`` per row.

    Parameters
    ----------
    mean_logprob : array, shape (n,)
        Per row, the mean log-probability of the answer's tokens given the question (and
        the answer's earlier tokens).

    Returns
    -------
    numpy.ndarray
        ``(n,)`` float64 length-normalised answer probabilities in ``[0, 1]``.

    Examples
    --------
    >>> answer_probability(np.log(np.array([0.5, 0.25]))).round(3).tolist()
    [0.5, 0.25]
    """
    return np.exp(np.asarray(mean_logprob, dtype=np.float64))


def truth_ratio(mean_logprob_true: np.ndarray, mean_logprob_perturbed: list[np.ndarray]) -> np.ndarray:
    """TOFU's truth ratio per row: mean over perturbed answers of ``P'^(1/|a'|) / P^(1/|a|)``.

    Parameters
    ----------
    mean_logprob_true : array, shape (n,)
        Mean token log-probability of each row's true answer.
    mean_logprob_perturbed : list of arrays
        Per row, the mean token log-probability of each of its perturbed answers.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` truth ratios (1 = cannot tell the true answer from the wrong ones).

    Examples
    --------
    >>> truth_ratio(np.log([0.5]), [np.log([0.25, 0.05])]).round(3).tolist()
    [0.3]
    """
    true = np.asarray(mean_logprob_true, dtype=np.float64)
    return np.array([float(np.mean(np.exp(np.asarray(p, dtype=np.float64) - t)))
                     for t, p in zip(true, mean_logprob_perturbed, strict=True)])


def _perturbed_rows(cache: Any, role: str, split: str, questions: list[str],
                    perturbed: list[list[str]]) -> list[np.ndarray]:
    counts = [len(p) for p in perturbed]
    prompts = [q for q, c in zip(questions, counts, strict=True) for _ in range(c)]
    flat = [a for p in perturbed for a in p]
    means = _row_means(cache.conditional_logprobs(role, f"knowledge_probe:perturbed:{split}", prompts, flat))
    return np.split(means, np.cumsum(counts)[:-1])


def probe_rows(cache: Any, role: str, split: str) -> dict[str, np.ndarray]:
    """Per QA row of ``split`` (rows with a question): ``answer_probability`` and ``truth_ratio``.

    Rows whose question is None are dropped. The answers' (and perturbed answers')
    conditional log-probabilities come from ``cache.conditional_logprobs`` under the keys
    ``knowledge_probe:answer:<split>`` and ``knowledge_probe:perturbed:<split>``, so each is
    computed once per role. Also what :mod:`audit.lm.compare` reads for TOFU's forget
    quality, from the same cache.

    Parameters
    ----------
    cache : TokenCache
        The language-model case's cache (:class:`audit.lm.cache.TokenCache`).
    role : str
        The model scored (``"unlearned"``, ``"original"`` or a reference role).
    split : str
        ``"forget"``, ``"retain"`` or ``"test"``.

    Returns
    -------
    dict of str to numpy.ndarray
        ``{"answer_probability": (n,)}`` over the ``n`` rows with a question, plus
        ``"truth_ratio": (n,)`` only when the case has a ``perturbed`` column and every one of
        those rows has at least one wrong answer.
    """
    questions, answers = cache.questions(split), cache.answers(split)
    keep = [i for i, q in enumerate(questions) if q is not None]
    questions, answers = [questions[i] for i in keep], [answers[i] for i in keep]
    perturbed = cache.perturbed(split)
    perturbed = [list(perturbed[i] or []) for i in keep] if perturbed else []
    true = _row_means(cache.conditional_logprobs(role, f"knowledge_probe:answer:{split}", questions, answers))
    out = {"answer_probability": answer_probability(true)}
    if perturbed and all(perturbed):
        out["truth_ratio"] = truth_ratio(true, _perturbed_rows(cache, role, split, questions, perturbed))
    return out


def _split_rows(ctx: CheckContext, split: str) -> dict[str, dict[str, np.ndarray]]:
    """``{metric: {role: per-row values}}`` for one split's rows that have a question."""
    _, roles = model_roles(ctx)
    per_role = {r: probe_rows(ctx.cache, r, split) for r in roles}
    return {m: {r: per_role[r][m] for r in roles} for m in per_role["unlearned"]}


def _figure(rows: dict[str, np.ndarray], refs: list[str]) -> Figure:
    logs = {r: np.log10(np.maximum(v, 1e-6)) for r, v in rows.items()}
    lo = float(min(v.min() for v in logs.values()))
    hi = float(max(v.max() for v in logs.values()))
    edges = np.linspace(lo, hi if hi > lo else lo + 1.0, 21)
    series = [{"label": "truth ratio, unlearned", "bin_edges": edges, "counts": np.histogram(logs["unlearned"], edges)[0]},
              {"label": "truth ratio, retrained (per model)", "bin_edges": edges,
               "counts": np.histogram(np.concatenate([logs[r] for r in refs]), edges)[0] / max(1, len(refs))},
              {"label": "truth ratio, original", "bin_edges": edges, "counts": np.histogram(logs["original"], edges)[0]}]
    return Figure("histogram", "Per-question truth ratio on the forget split",
                  {"series": series, "xlabel": "log10 truth ratio (0 = cannot tell true from wrong answers)"})


def run(ctx: CheckContext) -> CheckResult:
    """Answer probability and truth ratio of U on the forgotten facts, against the retrains'.

    Parameters
    ----------
    ctx : CheckContext
        The language-model case, its :class:`audit.lm.cache.TokenCache`, this check's policy
        (``harm_splits``, ``answer_probability_margin``, ``log_truth_ratio_margin``) and its
        seeded rng.

    Returns
    -------
    CheckResult
        Decided by the kernel (:func:`audit.checks._paired.finish`): ``answer_probability``
        on the forget split (two-sided) and on each non-empty ``harm_splits`` split
        (``at_least``), ``log_truth_ratio`` on the forget split (two-sided) when every forget
        question has perturbed answers, with ``truth_ratio`` (geometric mean) as info and a
        histogram of the per-question truth ratios. Inconclusive, naming the missing
        question / answer columns, when no forget row has a question; without perturbed
        answers the truth ratio is listed as missing.
    """
    pol = ctx.policy
    refs, _ = model_roles(ctx)
    if not any(q is not None for q in ctx.cache.questions("forget")):
        return finish(ctx, "knowledge_probe", SPEC.title, [], [], _summary,
                      missing=["a question and an answer column ([data] question / answer)"])
    evidence: list[Evidence] = []
    info: list[Metric] = []
    figures: list[Figure] = []
    missing: list[str] = []
    src = "each retrained reference's probabilities for the same questions"
    plan = [("forget", "two_sided")] + [(s, "at_least") for s in pol["harm_splits"] if s != "forget"]
    for split, comparator in plan:
        if ctx.case.n.get(split, 0) == 0:
            continue
        rows = _split_rows(ctx, split)
        evidence.append(row_evidence(ctx, "answer_probability", split, rows["answer_probability"], comparator,
                                     float(pol["answer_probability_margin"]), src))
        if split == "forget" and "truth_ratio" in rows:
            logs = {r: np.log(v) for r, v in rows["truth_ratio"].items()}
            evidence.append(row_evidence(ctx, "log_truth_ratio", split, logs, comparator,
                                         float(pol["log_truth_ratio_margin"]), src))
            info.append(Metric("truth_ratio", split, float(np.exp(logs["unlearned"].mean())),
                               reference=float(np.mean([np.exp(logs[r].mean()) for r in refs])),
                               comparator="info", n=len(logs["unlearned"]),
                               note="geometric mean of the per-question truth ratios; reported, not gated"))
            figures.append(_figure(rows["truth_ratio"], refs))
        elif split == "forget":
            missing.append("perturbed (wrong) answers for every question, for the truth ratio ([data] perturbed)")
    return finish(ctx, "knowledge_probe", SPEC.title, evidence, info, _summary, figures=figures, missing=missing)


def _summary(status: str, metrics: list[Metric]) -> str:
    ap = next((m for m in metrics if m.name == "answer_probability" and m.split == "forget"), None)
    tail = ""
    if ap is not None and ap.value is not None and ap.reference is not None:
        tail = (f" Asked about a forgotten fact, U gives the true answer a probability of {ap.value:.2f} "
                f"(per token) against {ap.reference:.2f} for a retrained model.")
    if status == "pass":
        return "U knows the forgotten facts no better and no worse than a fresh retrain." + tail
    if status == "fail":
        return "U's knowledge of the facts differs from a fresh retrain's." + tail
    return "The data cannot yet show U to know the forgotten facts as a retrain does." + tail


SPEC = CheckSpec(
    id="knowledge_probe",
    title="Knowledge of the forgotten facts (question answering)",
    run=run,
    kind="forgetting",
    order=34,
    tasks=("language_model",),
    unsupported="it asks the model questions, which only a language model answers",
    options={
        **switches(required=True),
        "harm_splits": Option(list, ["retain"], "splits whose facts U must still know at least as well as a "
                              "retrain (one-sided)", items=Option(str, choices=SPLITS), tighter="superset"),
        "answer_probability_margin": Option(float, 0.05, "floor of the answer-probability band", minimum=0,
                                            maximum=1, tighter="lower"),
        "log_truth_ratio_margin": Option(float, 0.25, "floor of the band of the mean log truth ratio (0.25 = "
                                         "a geometric-mean ratio within about 22 % of the retrains')", minimum=0,
                                         tighter="lower"),
    },
)
