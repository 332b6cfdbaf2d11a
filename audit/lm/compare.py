"""The bios method comparison: each unlearning candidate audited as a model audit, side by side.

A built ``bios`` case directory (:mod:`audit.scenarios.bios`) ships, besides its case, the
candidates of :data:`audit.scenarios.bios.CANDIDATES`: a fresh retrain, the original (no-op),
gradient ascent driven to collapse, gradient difference, NPO and NPO with a retain term.
:func:`compare_candidates` runs :func:`audit.engine.runner.run_audit` once per candidate (``unlearned``
= that model; the same original, references and data) and returns one row per candidate: the
verdict, every check's status, and — computed from the **same** token cache the audit read —
the field's point scores (:mod:`audit.lm.point_scores`): TOFU's forget quality and MUSE's
privleak against the first reference. Why this and not the tabular method lab: decision
record ``docs/decisions/0015-lm-method-comparison.md``.

``python -m audit.lm.compare CASE_DIR [--seed N]`` prints the table (Markdown).
"""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from audit.checks.knowledge_probe import probe_rows
from audit.lm.point_scores import forget_quality, min_k_logprob, muse_auc, privleak

__all__ = ["CHECKS", "candidate_case", "point_scores", "compare_candidates", "markdown_table", "main"]

CHECKS = ("identity", "sequence_membership", "verbatim_memorisation", "knowledge_probe", "lm_utility",
          "lm_divergence")


def candidate_case(case_dir: str | Path, unlearned: str) -> Any:
    """The case of ``case_dir/case.toml`` with ``unlearned`` (a model directory, relative) as U.

    The original, the retrained references and the ``[data]`` columns are those of
    ``case.toml``; only the unlearned model is replaced, and the case is named
    ``"<case name>: <unlearned>"`` (case name ``bios`` when ``[case] name`` is absent).

    Parameters
    ----------
    case_dir : str or Path
        A directory written by ``unlearn-audit scenario bios`` (holding ``case.toml``).
    unlearned : str
        The candidate's model directory, relative to ``case_dir`` (e.g. ``"extra/npo"``).

    Returns
    -------
    LanguageModelCase
        The :class:`audit.lm.case.LanguageModelCase` with that candidate as ``unlearned``.

    Raises
    ------
    FileNotFoundError
        When ``case_dir`` has no ``case.toml``.
    tomllib.TOMLDecodeError
        When ``case.toml`` is not valid TOML.
    KeyError
        When ``case.toml`` lacks its ``[models]`` or ``[data]`` table, or ``original``,
        ``retrained`` or ``path`` in them.
    audit.shared.errors.BadInput
        When :class:`audit.lm.case.LanguageModelCase` rejects the models or the data.
    """
    from audit.lm.case import LanguageModelCase

    d = Path(case_dir)
    doc = tomllib.loads((d / "case.toml").read_text("utf-8"))
    models, data = doc["models"], doc["data"]
    return LanguageModelCase(models["original"], unlearned, list(models["retrained"]), data["path"],
                             text=data.get("text", "text"), question=data.get("question"),
                             answer=data.get("answer"), perturbed=data.get("perturbed"),
                             split=data.get("split", "split"), id=data.get("id"),
                             name=f"{doc.get('case', {}).get('name', 'bios')}: {unlearned}",
                             task="language_model", base_dir=d)


def point_scores(cache: Any, reference: str | None = None) -> dict[str, float]:
    """TOFU forget quality and MUSE privleak of the cache's ``unlearned`` model against ``reference``.

    Parameters
    ----------
    cache : TokenCache
        The audit's cache (its conditional log-probabilities and token log-probabilities are
        reused, not recomputed).
    reference : str, optional
        The retrained role the scores compare with (default: the first reference).

    Returns
    -------
    dict
        ``forget_quality`` (KS p-value), ``privleak`` (percent), and the two Min-K% AUCs.
    """
    ref = reference or cache.reference_roles[0]
    tr = {r: probe_rows(cache, r, "forget").get("truth_ratio") for r in ("unlearned", ref)}
    auc = {r: muse_auc(min_k_logprob(cache.token_logprobs(r, "forget")),
                       min_k_logprob(cache.token_logprobs(r, "test"))) for r in ("unlearned", ref)}
    fq = forget_quality(tr["unlearned"], tr[ref]) if tr["unlearned"] is not None else float("nan")
    return {"forget_quality": fq, "privleak": privleak(auc["unlearned"], auc[ref]),
            "auc_unlearned": auc["unlearned"], "auc_reference": auc[ref]}


def _metric(result: dict[str, Any], check: str, name: str, split: str) -> float:
    for c in result["checks"]:
        if c["id"] == check:
            for m in c["metrics"]:
                if m["name"] == name and m["split"] == split and m.get("value") is not None:
                    return float(m["value"])
    return float("nan")


def compare_candidates(case_dir: str | Path, candidates: dict[str, str] | None = None, seed: int = 0,
                       policy: dict[str, Any] | None = None, share: bool = True) -> pd.DataFrame:
    """One row per candidate: verdict, check statuses, headline values and the point scores.

    Parameters
    ----------
    case_dir : path
        A directory written by ``unlearn-audit scenario bios``.
    candidates : dict, optional
        ``{name: model directory relative to case_dir}``; default
        :data:`audit.scenarios.bios.CANDIDATES`.
    seed : int
        The audit seed (bootstraps).
    policy : dict, optional
        A gate policy for every audit.
    share : bool
        Compute each model's generations and conditional log-probabilities once for all
        candidates (:meth:`audit.lm.cache.TokenCache.share`: keyed by the weights' digest, so
        the original and the references run once; the results are the same either way).

    Returns
    -------
    pandas.DataFrame
        Indexed by candidate.
    """
    from audit.engine.runner import run_audit
    from audit.scenarios.bios import CANDIDATES

    rows, store = [], {}
    for name, rel in (candidates or CANDIDATES).items():
        case = candidate_case(case_dir, rel)
        cache = case.output_cache(0)
        if share:
            cache.share(store)
        try:
            result = run_audit(case, policy=policy, seed=seed, cache=cache)
            scores = point_scores(cache)
        finally:
            cache.close()
        status = {c["id"]: c["status"] for c in result["checks"]}
        rows.append({"candidate": name, "verdict": result["verdict"],
                     **{c: status.get(c, "-") for c in CHECKS},
                     "forget answer probability": _metric(result, "knowledge_probe", "answer_probability", "forget"),
                     "forget ROUGE-L": _metric(result, "verbatim_memorisation", "rouge_l", "forget"),
                     "retain answer probability": _metric(result, "knowledge_probe", "answer_probability", "retain"),
                     "TOFU forget quality (p)": scores["forget_quality"], "MUSE privleak (%)": scores["privleak"]})
    return pd.DataFrame(rows).set_index("candidate")


def markdown_table(df: pd.DataFrame) -> str:
    """The comparison as a Markdown table: the index first, floats to three significant digits.

    Parameters
    ----------
    df : pandas.DataFrame
        A :func:`compare_candidates` table (indexed by candidate).

    Returns
    -------
    str
        Header, separator and one line per row.

    Examples
    --------
    >>> print(markdown_table(pd.DataFrame({"verdict": ["pass"], "p": [0.12345]},
    ...                                   index=pd.Index(["retrain"], name="candidate"))))
    | candidate | verdict | p |
    |---|---|---|
    | retrain | pass | 0.123 |
    """
    cols = ["candidate", *df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for name, row in df.iterrows():
        cells = [name] + [f"{v:.3g}" if isinstance(v, (float, np.floating)) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m audit.lm.compare CASE_DIR [--seed N]``: print the comparison as a Markdown table.

    Parameters
    ----------
    argv : list of str, optional
        The command-line arguments (``sys.argv[1:]`` when None): the case directory and an
        optional ``--seed`` (default 0) passed to :func:`compare_candidates`.

    Returns
    -------
    int
        0 once the table of every :data:`audit.scenarios.bios.CANDIDATES` entry is printed.

    Raises
    ------
    SystemExit
        From ``argparse`` on missing or malformed arguments (status 2) or ``--help`` (status 0).
    """
    ap = argparse.ArgumentParser(prog="python -m audit.lm.compare", description=__doc__.splitlines()[0])
    ap.add_argument("case_dir")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    print(markdown_table(compare_candidates(args.case_dir, seed=args.seed)))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
