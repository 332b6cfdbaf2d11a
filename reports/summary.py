"""The executive summary of a report, in plain words, chosen from results.json by a fixed rule.

:func:`executive_summary` returns what the templates print at the top of report.html /
report.md (and so the PDF): what was asked, the answer, the three facts that decide it and
what to do next. It selects and words values that results.json holds; it computes no metric.

The rule for the three facts:

1. **the deciding measurement** — for a ``fail`` / ``warn``, the blocking required check's
   gated metric furthest beyond its band (relative to the band); for an ``inconclusive`` or
   ``error``, the first required check that did not decide, with what would settle it; for a
   ``pass``, the required forgetting check's metric on which the original stands out most;
2. **the positive control** (power) — could this audit have caught a model that forgot
   nothing? With the original's value on that metric where there is one;
3. **the negative control** — do genuine retrains, audited in the unlearned model's place,
   pass the required checks?
"""

from __future__ import annotations

from typing import Any

from reports.glossary import check_words, metric_words, split_words

__all__ = ["executive_summary", "human", "HEADLINES", "FAILURE_WORDS"]

HEADLINES = {
    "pass": "The unlearned model behaves like a model retrained without the data.",
    "warn": "The unlearned model behaves like a model retrained without the data, with warnings to read.",
    "fail": "The unlearned model does not behave like a model retrained without the data: {what}.",
    "inconclusive": "The audit could not decide, because {why}.",
    "error": "The audit could not decide, because a check stopped with an error.",
}
_PERCENT = ("accuracy", "fnr", "fpr", "disagreement", "counterfactual_flip_rate", "tpr@")
_KINDS = {"random": "rows picked at random", "class": "every row of one class (label)",
          "group": "the rows of one group", "feature": "one input column"}


def human(x: Any, percent: bool = False) -> str:
    """A number formatted for a reader: thousands separators, two or three significant digits.

    Parameters
    ----------
    x : any
        A number (or None, shown as a dash).
    percent : bool
        Show a share as a percentage.

    Returns
    -------
    str

    Examples
    --------
    >>> human(12345), human(0.50871), human(0.0653), human(0.9666, percent=True), human(None)
    ('12,345', '0.51', '0.065', '96.7 %', '—')
    """
    if x is None:
        return "—"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    if percent:
        return f"{100 * x:.1f} %"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if x == 0:
        return "0"
    return f"{x:.3g}" if abs(x) >= 1 else f"{x:.2g}"


def _pct(name: str) -> bool:
    return name.startswith(_PERCENT)


def _coverage(r: dict[str, Any]) -> str:
    cov = ((r.get("policy") or {}).get("general") or {}).get("retrain_coverage")
    return f"{human(cov, percent=True)} of" if cov else "nearly all"


def _band(m: dict[str, Any], cov: str) -> str:
    """Where fresh retrains are expected to land, in words."""
    ref, margin, pct = m.get("reference"), m.get("margin"), _pct(m["name"])
    if ref is None or margin is None:
        return f"retrained models show {human(ref, pct)}"
    lo, hi = human(ref - margin, pct), human(ref + margin, pct)
    cmp = m.get("comparator")
    where = {"at_least": f"at or above {lo}", "at_most": f"at or below {hi}"}.get(cmp, f"between {lo} and {hi}")
    return f"retrained models show {human(ref, pct)}, and {cov} fresh retrains would land {where}"


def _measure(m: dict[str, Any], cov: str) -> str:
    """One measurement in words: what, where, the unlearned model's value, the retrain band."""
    where = "" if m["split"] == "forget_vs_test" else f" on {split_words(m['split'])}"  # the words say it
    return (f"{metric_words(m['name'])}{where} is {human(m['value'], _pct(m['name']))} "
            f"for the unlearned model; {_band(m, cov)}")


def _excess(m: dict[str, Any], delta: Any) -> float:
    margin = m.get("margin") or 0.0
    return abs(delta or 0.0) / margin if margin > 0 else abs(delta or 0.0) * 1e9


def _gated(c: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in c.get("metrics", []) if m.get("comparator") not in (None, "info") and m.get("status")]


def _required(r: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in r["checks"] if c.get("required")]


def _asked(r: dict[str, Any]) -> str:
    n = r["data"]["n"]
    fk = r["data"].get("forget_kind") or {}
    kind = f" ({_KINDS.get(fk.get('kind'), fk.get('kind'))})" if fk.get("kind") else ""
    req = r["case"].get("request_id")
    k = len(r["models"]["retrained"])
    return (f"{'Request ' + req + ': forget' if req else 'Forget'} {human(n['forget'])} rows{kind}. Is the unlearned "
            f"model indistinguishable from a model retrained from scratch without them, and did unlearning harm "
            f"any group? It was compared with {human(k)} retrained model{'s' if k != 1 else ''} on "
            f"{human(n['retain'])} kept training rows and {human(n['test'])} held-out rows.")


def _blocking(r: dict[str, Any]) -> list[dict[str, Any]]:
    bad = {"pass": (), "fail": ("fail",), "warn": ("warn",), "inconclusive": ("inconclusive", "error", "skipped"),
           }.get(r["verdict"], ("error", "skipped", "inconclusive"))
    return [c for c in _required(r) if c["status"] in bad]


def _settle(c: dict[str, Any], k: int) -> str | None:
    """What would settle an undecided check: more rows, more retrained models."""
    rows = [m["n_to_settle"] - (m.get("n") or 0) for m in _gated(c)
            if m["status"] == "inconclusive" and m.get("n_to_settle")]
    refs = [m["k_to_settle"] - k for m in _gated(c) if m["status"] == "inconclusive" and m.get("k_to_settle")]
    parts = []
    if rows and max(rows) > 0:
        parts.append(f"about {human(max(rows))} more rows")
    if refs and max(refs) > 0:
        parts.append(f"{human(max(refs))} more retrained model{'s' if max(refs) != 1 else ''}")
    return " or ".join(parts) or None


def _deciding(r: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """Fact 1 and the metric it rests on."""
    blocking, cov = _blocking(r), _coverage(r)
    if blocking:
        c = blocking[0]
        name = check_words(c["id"]).capitalize()
        bad = [m for m in _gated(c) if m["status"] == c["status"]]
        if c["status"] in ("fail", "warn") and bad:
            m = max(bad, key=lambda m: _excess(m, m.get("delta")))
            return f"{name}: {_measure(m, cov)}.", m
        if c["status"] in ("error", "skipped") or not _gated(c):
            return f"{name} is {c['status']}: {c['summary'].rstrip('.')}.", None
        undecided = [m for m in _gated(c) if m["status"] == "inconclusive"] or _gated(c)
        m = max(undecided, key=lambda m: _excess(m, m.get("delta")))
        return (f"{name} could not decide. The closest call: {_measure(m, cov)}; that is neither clearly "
                f"inside nor clearly outside what retrains show.", m)
    forgetting = [m for c in _required(r) if (c.get("controls") or {}).get("positive", {}).get("power")
                  for m in _gated(c) if m["status"] == "pass"
                  and (m.get("controls") or {}).get("original", {}).get("status") == "fail"]
    passed = forgetting or [m for c in _required(r) for m in _gated(c) if m["status"] == "pass"]
    if not passed:
        return "No required check measured anything.", None
    m = max(passed, key=lambda m: _excess(m, (m.get("controls") or {}).get("original", {}).get("delta")))
    owner = next(c for c in r["checks"] if m in c.get("metrics", []))
    return f"{check_words(owner['id']).capitalize()}: {_measure(m, cov)}.", m


def _power(r: dict[str, Any], m: dict[str, Any] | None) -> str:
    ctl = r.get("controls") or {}
    if not ctl.get("power"):
        return ("The audit could not have caught a model that forgot nothing: audited in the unlearned model's "
                "place, the original model (which still holds the data) is not told apart from retrained models "
                "by any required forgetting check. A pass here would prove nothing.")
    by = _and([check_words(c) for c in ctl.get("power_from", [])] or ["a required check"])
    orig = (m or {}).get("controls", {}).get("original", {})
    extra = ""
    if m is not None and orig.get("value") is not None and orig.get("status") == "fail":
        extra = f" On the measurement above, the original scores {human(orig['value'], _pct(m['name']))}."
    return (f"The audit could have caught a model that forgot nothing: audited in the unlearned model's place, "
            f"the original model (which still holds the data) is flagged by {by}.{extra}")


def _negative(r: dict[str, Any]) -> str:
    rows = [(c, c["controls"]["negative"]) for c in _required(r)
            if c.get("controls") and c["controls"]["negative"].get("total")]
    k = len(r["models"]["retrained"])
    if not rows:
        return "No required check could audit the retrained models against each other (too few of them)."
    short = [(c, n) for c, n in rows if n["passed"] < n["total"]]
    if not short:
        return (f"Each of the {human(k)} retrained models, audited as if it were the unlearned one, passes every "
                f"required check ({len(rows)} of them): the checks do not flag genuine retrains.")
    names = "; ".join(f"{check_words(c['id'])}: {n['passed']} of {n['total']} pass" for c, n in short)
    return (f"Not every retrained model, audited as if it were the unlearned one, passes ({names}). Where a "
            f"genuine retrain fails, that check cannot fail the unlearned model either.")


#: What a failed check means, in words (the headline of a fail).
FAILURE_WORDS = {
    "identity": "it is the original model itself, unchanged",
    "membership_inference": "an attacker can still tell the forgotten rows apart from rows it never saw",
    "unlearning_inference": "comparing it with the original still reveals which rows were removed",
    "output_divergence": "its predictions differ from a retrained model's more than retrained models differ "
                         "among themselves",
    "parameter_distance": "its weights are further from a retrained model's than retrained models are from "
                          "each other",
    "feature_removal": "it still uses the input column that had to be removed",
    "utility": "unlearning made it less accurate than a retrained model",
    "subgroup_shift": "unlearning serves some groups worse than a retrained model would",
    "sequence_membership": "an attacker can still tell the forgotten texts apart from texts it never saw",
    "lm_utility": "unlearning made it predict kept or new texts worse (higher perplexity) than a retrained model",
    "lm_divergence": "its next-token predictions differ from a retrained model's more than retrained models "
                     "differ among themselves",
}


def _failure_words(blocking: list[dict[str, Any]]) -> str:
    """What a fail means, check by check: remembers, differs, harms, is the original."""
    return "; ".join(FAILURE_WORDS.get(c["id"], f"{check_words(c['id'])} failed") for c in blocking)


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _headline(r: dict[str, Any]) -> str:
    v, blocking = r["verdict"], _blocking(r)
    if v == "fail":
        return HEADLINES["fail"].format(what=_failure_words(blocking) or "a required check failed")
    if v == "inconclusive":
        why = (f"{_and([check_words(c['id']) for c in blocking])} could not reach a decision" if blocking
               else "it could not have caught a model that forgot nothing (it has no power here)")
        k = len(r["models"]["retrained"])
        settle = next((s for s in (_settle(c, k) for c in blocking) if s), None)
        return HEADLINES["inconclusive"].format(why=why) + (f" To settle it: {settle}." if settle else "")
    return HEADLINES.get(v, HEADLINES["error"])


def _next(r: dict[str, Any]) -> list[str]:
    v, req = r["verdict"], r["case"].get("request_id") or "this request"
    harmed = [f for c in r["checks"] if c["id"] == "subgroup_shift" for f in c.get("findings", [])
              if f.get("status") == "fail"]
    if v == "pass":
        return [f"Keep this evidence pack as the record for {req}; the command unlearn-audit verify shows it is "
                "unchanged.",
                "No further action is needed for this request."]
    if v == "warn":
        return ["Read the warnings in the checks below and decide whether they need action.",
                f"Keep this evidence pack as the record for {req}."]
    if v == "fail":
        steps = ["Do not treat the deletion request as fulfilled with this model.",
                 "Unlearn again with a stronger method, or retrain from scratch without the data, then audit the "
                 "new model."]
        if harmed:
            steps.append("Review the harmed groups listed under subgroup shift before the model is used.")
        return steps
    if v == "inconclusive":
        k = len(r["models"]["retrained"])
        settle = next((s for s in (_settle(c, k) for c in _blocking(r)) if s), None)
        steps = ["Do not treat this as a pass yet: the evidence does not settle the question."]
        if settle:
            steps.append(f"Add {settle} (the case file's [references] train = k trains more retrained "
                         f"models), then run the audit again.")
        if not (r.get("controls") or {}).get("power"):
            steps.append("This audit cannot catch a model that forgot nothing, so no pass would mean anything: "
                         "audit with a larger forget set or a stronger attack. A policy may accept this as a "
                         "warning instead (general.on_no_power = \"warn\").")
        if len(steps) == 1:
            steps.append("Read the undecided checks below; more rows or more retrained models usually settle them.")
        return steps
    return ["Fix the problem the failing check names (see the checks below), then run the audit again."]


def executive_summary(r: dict[str, Any]) -> dict[str, Any]:
    """The plain-language summary of a results dict.

    Returns ``{"asked", "answer", "facts": [three sentences], "also": [improvements reported],
    "next": [steps]}``.

    Parameters
    ----------
    r : dict
        The results dict.

    Returns
    -------
    dict

    Examples
    --------
    >>> from tests.reports.fixtures import sample_results
    >>> s = executive_summary(sample_results("fail"))
    >>> s["answer"].startswith("The unlearned model does not behave like a model retrained")
    True
    >>> len(s["facts"])
    3
    """
    if r["case"].get("mode") == "method":
        return _method_summary(r)
    fact, metric = _deciding(r)
    return {"asked": _asked(r), "answer": _headline(r),
            "facts": [fact, _power(r, metric), _negative(r)], "also": _also(r), "next": _next(r)}


def _also(r: dict[str, Any]) -> list[str]:
    """Reported but not deciding: groups served better than under a retrain."""
    better = sorted({", ".join(f"{k} = {v}" for k, v in f["slice"].items()) for c in r["checks"]
                     for f in c.get("findings", []) if f.get("effect") == "improvement" and f.get("status") == "info"})
    if not better:
        return []
    n = len(better)
    return [f"{n} group{'s' if n != 1 else ''} did better under the unlearned model than under a retrain "
            f"(an improvement: reported, it does not block): " + "; ".join(better[:4]) + (" …" if n > 4 else "") + "."]


_METHOD_ANSWERS = {
    "pass": "Every unlearning method that counts forgot the planted signal the way retraining from scratch does.",
    "warn": "The unlearning methods forgot the planted signal like retraining does, with warnings to read.",
    "fail": "At least one unlearning method did not forget the planted signal the way retraining from scratch does.",
    "inconclusive": "The audit could not decide whether the methods forget like retraining does.",
    "error": "The audit could not decide, because a check stopped with an error.",
}


def _method_summary(r: dict[str, Any]) -> dict[str, Any]:
    """A method audit: methods run under control on a planted signal, not one model (rule: the
    required method checks, worst first)."""
    order = {"fail": 0, "error": 1, "inconclusive": 2, "warn": 3, "skipped": 4, "pass": 5}
    methods = sorted((c for c in r["checks"] if c["id"] != "method_comparison"),
                     key=lambda c: (not c.get("required"), order.get(c["status"], 6)))
    facts = [f"{c.get('title', c['id'])}: {c['status']}. {c['summary']}" for c in methods[:3]]
    facts += ["No further method was audited."] * (3 - len(facts))
    lab = r.get("method_audit") or {}
    what = (f"remove class {lab.get('forget_class')} the way retraining from scratch without it does"
            if lab.get("forget_kind") == "class" else
            "remove a signal planted in the forget set as thoroughly as retraining from scratch")
    asked = (f"Do the unlearning methods ({r['case'].get('description') or 'as configured'}) {what}, over "
             f"several seeds? A retrain must pass and doing nothing must fail, or the set-up lacks power.")
    answer = _METHOD_ANSWERS.get(r["verdict"], _METHOD_ANSWERS["error"])
    if lab.get("forget_kind") == "class":
        answer = answer.replace("the planted signal", f"class {lab.get('forget_class')}")
    nxt = {"pass": ["Keep this evidence pack as the record of the method audit."],
           "fail": ["Do not use the failing methods for deletion requests; prefer retraining or a method that "
                    "passed."]}.get(r["verdict"], ["Read the checks below, settle what they lack, and run the "
                                                   "method audit again."])
    return {"asked": asked, "answer": answer, "facts": facts, "also": [], "next": nxt}
