"""``verbatim_memorisation``: does U still complete the forgotten texts word for word?

Per forget text (language-model cases), the model is given the first ``prefix_fraction``
of the text's tokens and continues greedily (:mod:`audit.lm.generate`, once per model and
split through the case's ``TokenCache``). Per row:

* **exact match** — 1 when the continuation equals the true suffix token for token;
* **ROUGE-L** — recall of the longest common subsequence of words between the
  continuation and the true suffix (``LCS / len(suffix)``; TOFU and MUSE report this recall);
* **extraction strength** — ``1 - k / n`` with ``k`` the shortest true prefix from which
  greedy decoding reproduces the rest of the ``n`` predicted tokens exactly (0 = not even
  the last token; 1 = the text from its first token; the definition of OpenUnlearning's
  ``extraction_strength``, after Carlini et al. 2021's k-extractability), from the
  teacher-forced argmax hits: greedy decoding from a true prefix reproduces the rest iff
  every later argmax is the true token.

ROUGE-L and extraction strength are gated by default, exact match reported (``gate_on``).
Each gated mean goes through the decision kernel (:func:`audit.checks._paired.row_evidence`)
against every retrained reference on the same rows: two-sided on the forget split (a U
that reproduces *less* than a retrain — a collapsed model — fails as over-unlearning), and
one-sided (``at_least``, harm) on ``harm_splits`` (the retained texts must still be
reproduced as well as a retrain does). Negative control = each reference, positive control
= the original.
"""

from __future__ import annotations

import numpy as np

from audit.checks._paired import finish, model_roles, row_evidence
from audit.checks.base import CheckContext, CheckSpec
from audit.core.decision import Evidence
from audit.core.options import SPLITS, Option, switches
from audit.core.results import CheckResult, Figure, Metric
from audit.lm.generate import cached_continuations, cached_hits

__all__ = ["SPEC", "run", "exact_match", "rouge_l_recall", "extraction_strength"]

_METRICS = ("exact_match", "rouge_l", "extraction_strength")


def exact_match(generated: list[int], suffix: list[int]) -> float:
    """1.0 when the continuation reproduces the suffix exactly, else 0.0.

    Parameters
    ----------
    generated : list of int
        The model's continuation (token ids); only its first ``len(suffix)`` tokens are compared.
    suffix : list of int
        The true suffix (token ids).

    Returns
    -------
    float
        1.0 on a token-for-token match, else 0.0.

    Examples
    --------
    >>> exact_match([4, 5], [4, 5]), exact_match([4, 6], [4, 5])
    (1.0, 0.0)
    """
    return float(list(generated[: len(suffix)]) == list(suffix))


def rouge_l_recall(candidate: list[str], reference: list[str]) -> float:
    """ROUGE-L recall: longest common subsequence length over the reference length.

    Parameters
    ----------
    candidate : list of str
        The words of the model's continuation.
    reference : list of str
        The words of the true suffix.

    Returns
    -------
    float
        ``LCS(candidate, reference) / len(reference)`` in ``[0, 1]``; 1.0 for an empty reference.

    Examples
    --------
    >>> rouge_l_recall("born in the year 1967".split(), "born in 1967 .".split())
    0.75
    >>> rouge_l_recall([], ["a"]), rouge_l_recall(["a"], [])
    (0.0, 1.0)
    """
    if not reference:
        return 1.0
    prev = [0] * (len(reference) + 1)
    for c in candidate:
        cur = [0]
        for j, r in enumerate(reference):
            cur.append(prev[j] + 1 if c == r else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1] / len(reference)


def extraction_strength(hits: np.ndarray) -> float:
    """``1 - k / n``: ``k`` the fewest true tokens after which every argmax is a hit.

    Parameters
    ----------
    hits : array of bool, shape (n,)
        Per predicted token, whether the teacher-forced argmax is the true token
        (:func:`audit.lm.generate.argmax_hits`).

    Returns
    -------
    float
        ``1 - k / n`` with ``k`` one past the last miss (0 when there is none): 1.0 when every
        argmax is a hit, 0.0 when the last one misses or ``hits`` is empty.

    Examples
    --------
    >>> extraction_strength(np.array([False, True, True, True]))
    0.75
    >>> extraction_strength(np.array([True, True, False])), extraction_strength(np.array([True, True]))
    (0.0, 1.0)
    """
    n = len(hits)
    if n == 0:
        return 0.0
    misses = np.flatnonzero(~np.asarray(hits, dtype=bool))
    k = 0 if misses.size == 0 else int(misses[-1]) + 1
    return 1.0 - k / n


def _rows(ctx: CheckContext, role: str, split: str) -> dict[str, np.ndarray]:
    pol = ctx.policy
    cont = cached_continuations(ctx.cache, role, split, prefix_fraction=float(pol["prefix_fraction"]),
                                max_new_tokens=int(pol["max_new_tokens"]))
    tok = ctx.cache.lm(role).tokenizer
    words = lambda ids: tok.decode(ids, skip_special_tokens=True).split()  # noqa: E731
    return {
        "exact_match": np.array([exact_match(g, s) for g, s in zip(cont.generated, cont.suffixes, strict=True)]),
        "rouge_l": np.array([rouge_l_recall(words(g), words(s)) for g, s in zip(cont.generated, cont.suffixes, strict=True)]),
        "extraction_strength": np.array([extraction_strength(h) for h in cached_hits(ctx.cache, role, split)]),
    }


def _histogram(rows: dict[str, np.ndarray], refs: list[str], split: str) -> Figure:
    edges = np.linspace(0.0, 1.0, 11)
    series = [{"label": "ROUGE-L, unlearned", "bin_edges": edges,
               "counts": np.histogram(rows["unlearned"], edges)[0]},
              {"label": "ROUGE-L, retrained (pooled)", "bin_edges": edges,
               "counts": np.histogram(np.concatenate([rows[r] for r in refs]), edges)[0] / max(1, len(refs))},
              {"label": "ROUGE-L, original", "bin_edges": edges,
               "counts": np.histogram(rows["original"], edges)[0]}]
    return Figure("histogram", f"Per-text ROUGE-L of the greedy continuation on the {split} split",
                  {"series": series, "xlabel": "ROUGE-L recall per text (0 = nothing reproduced, 1 = all)"})


def run(ctx: CheckContext) -> CheckResult:
    """Exact match, ROUGE-L and extraction strength of U's continuations against the retrains'.

    Parameters
    ----------
    ctx : CheckContext
        The language-model case, its :class:`audit.lm.cache.TokenCache`, this check's policy
        (``prefix_fraction``, ``max_new_tokens``, ``gate_on``, ``harm_splits``, the
        ``*_margin`` bands) and its seeded rng.

    Returns
    -------
    CheckResult
        The ``gate_on`` metrics decided by the kernel (:func:`audit.checks._paired.finish`)
        on the forget split (two-sided) and on each non-empty ``harm_splits`` split
        (``at_least``); the other metrics and ``prefix_fraction`` as info; a histogram of
        the per-text ROUGE-L on the forget split.
    """
    pol = ctx.policy
    refs, roles = model_roles(ctx)
    evidence: list[Evidence] = []
    figures: list[Figure] = []
    info = [Metric("prefix_fraction", "forget", float(pol["prefix_fraction"]), comparator="info",
                   note="share of each text's tokens given as the prompt; reported, not gated")]
    src = "each retrained reference's continuations of the same prefixes"
    plan = [("forget", "two_sided")] + [(s, "at_least") for s in pol["harm_splits"] if s != "forget"]
    for split, comparator in plan:
        if ctx.case.n.get(split, 0) == 0:
            continue
        per_role = {r: _rows(ctx, r, split) for r in roles}
        for name in _METRICS:
            rows = {r: per_role[r][name] for r in roles}
            if name in pol["gate_on"]:
                evidence.append(row_evidence(ctx, name, split, rows, comparator, float(pol[f"{name}_margin"]), src))
            else:
                info.append(Metric(name, split, float(rows["unlearned"].mean()),
                                   reference=float(np.mean([rows[r].mean() for r in refs])), comparator="info",
                                   n=len(rows["unlearned"]), note="reported, not gated (policy gate_on)"))
        if split == "forget":
            figures.append(_histogram({r: per_role[r]["rouge_l"] for r in roles}, refs, split))
    return finish(ctx, "verbatim_memorisation", SPEC.title, evidence, info, _summary, figures=figures)


def _summary(status: str, metrics: list[Metric]) -> str:
    rl = next((m for m in metrics if m.name == "rouge_l" and m.split == "forget"), None)
    tail = ""
    if rl is not None and rl.value is not None and rl.reference is not None:
        tail = (f" Given the start of a forgotten text, U reproduces {rl.value:.0%} of the rest (ROUGE-L) "
                f"against {rl.reference:.0%} for a retrained model.")
    if status == "pass":
        return "U completes the forgotten texts no more and no less than a fresh retrain does." + tail
    if status == "fail":
        return "U completes the texts differently from a fresh retrain." + tail
    return "The data cannot yet show U to complete the forgotten texts as a retrain does." + tail


SPEC = CheckSpec(
    id="verbatim_memorisation",
    title="Verbatim memorisation of the forgotten texts",
    run=run,
    kind="forgetting",
    order=32,
    tasks=("language_model",),
    unsupported="it continues text prefixes, which only a language model does",
    options={
        **switches(required=True),
        "prefix_fraction": Option(float, 0.5, "share of each text's tokens given as the prompt",
                                  minimum=0, maximum=1, exclusive_minimum=True),
        "max_new_tokens": Option(int, 32, "longest continuation compared with the true suffix", minimum=1),
        "gate_on": Option(list, ["rouge_l", "extraction_strength"], "metrics that decide the status (the others "
                          "are reported); exact match is off by default: a retrain's rate is a rare event near "
                          "0, so one reference with two hits in 25 texts failed the negative control on bios",
                          items=Option(str, choices=_METRICS), min_items=1, tighter="superset"),
        "harm_splits": Option(list, ["retain"], "splits where U must reproduce at least as much as a retrain "
                              "(one-sided: catches a collapsed model)", items=Option(str, choices=SPLITS),
                              tighter="superset"),
        "exact_match_margin": Option(float, 0.05, "floor of the exact-match-rate band", minimum=0, maximum=1,
                                     tighter="lower"),
        "rouge_l_margin": Option(float, 0.05, "floor of the mean ROUGE-L band", minimum=0, maximum=1,
                                 tighter="lower"),
        "extraction_strength_margin": Option(float, 0.05, "floor of the mean extraction-strength band",
                                             minimum=0, maximum=1, tighter="lower"),
    },
)
