"""The results of a stream of deletion requests: the sequence from its steps' model audits.

Each step of a :class:`~audit.engine.stream.StreamCase` is a model audit of its own, run by
:func:`audit.engine.runner.run_stream` (:func:`audit.engine.runner.run_audit`: the same checks, the same decision kernel and controls),
run with the policy split over the stream's looks (:func:`audit.engine.policy.split_over_looks`).
The sequence as a whole:

* **per-step verdict** — each step's gate verdict (the no-power rule applies per step);
* **sequence verdict** — the worst step verdict (pass < warn < inconclusive < error < fail);
  the exit code follows it, so a stream fails (exit 1) from its first failing step on;
* **first failing step** and **requests survived** — the requests served before a retrain
  was due (``first_failing_step - 1``, or all of them);
* **drift** — for every required check, its key gated metric (the one that came closest to,
  or went furthest beyond, its fail band over the steps) step by step: the delta against
  the retrain distribution, the pass band and the fail band of that step, and the
  *drift ratio* ``harm / fail band`` (1 = at the fail band).

results.json is the model audit of the deciding step (the first failing step; else the
first step with the worst verdict; else the last) with the sequence verdict on top and a
``stream`` section holding every step (decision record 0016).
"""

from __future__ import annotations

import copy
from typing import Any

from audit.core.results import worst_status
from audit.engine.result_api import AuditResult
from audit.engine.results_builder import _model_entry, _now, case_inputs
from audit.engine.stream import StreamCase
from audit.engine.verdict import exit_code_of

__all__ = ["stream_result", "sequence_verdict", "drift_series", "stream_section"]


def sequence_verdict(verdicts: list[str]) -> tuple[str, int | None]:
    """The stream's verdict (worst step verdict) and its first failing step (1-based, or None).

    Parameters
    ----------
    verdicts : list of str
        The steps' verdicts, in order.

    Returns
    -------
    tuple of (str, int or None)
        :func:`audit.core.results.worst_status` of the verdicts, and the 1-based index of the first
        ``"fail"`` (None when no step fails).

    Examples
    --------
    >>> sequence_verdict(["pass", "pass", "fail", "inconclusive"])
    ('fail', 3)
    >>> sequence_verdict(["pass", "warn"])
    ('warn', None)
    """
    first = next((i for i, v in enumerate(verdicts, start=1) if v == "fail"), None)
    return worst_status(list(verdicts)), first


def _harm(delta: float, comparator: str) -> float:
    """How far ``delta`` goes in the direction the comparator blocks (two-sided: either way)."""
    if comparator == "at_most":
        return delta
    if comparator == "at_least":
        return -delta
    return abs(delta)


def _ratio(m: dict[str, Any]) -> float | None:
    """``harm / fail band`` of one metric: 1 is at the fail band, above it beyond."""
    fail, delta = m.get("fail_margin"), m.get("delta")
    if fail is None or delta is None or fail <= 0:
        return None
    return _harm(float(delta), str(m.get("comparator"))) / float(fail)


def _gated(check: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in check.get("metrics", []) if m.get("comparator") not in (None, "info")
            and m.get("status") and m.get("fail_margin") is not None]


def drift_series(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per required check, its key gated metric over the steps (the largest drift ratio at any step).

    Parameters
    ----------
    steps : list of dict
        The steps' results.json dicts, in order.

    Returns
    -------
    list of dict
        ``{"check", "metric", "split", "comparator", "points": [{"step", "value", "reference",
        "delta", "margin", "fail_margin", "ratio", "status"}]}``; a step where the check did
        not measure the metric (skipped after identity) has no point.

    Examples
    --------
    >>> m = lambda d: {"name": "auc", "split": "f", "comparator": "two_sided", "status": "pass",
    ...                "value": 0.5 + d, "reference": 0.5, "delta": d, "margin": 0.1, "fail_margin": 0.2}
    >>> step = lambda d: {"checks": [{"id": "mia", "required": True, "metrics": [m(d)]}]}
    >>> [round(p["ratio"], 6) for p in drift_series([step(0.1), step(0.3)])[0]["points"]]
    [0.5, 1.5]
    """
    order: list[str] = []
    best: dict[str, dict[tuple[str, str], float]] = {}
    for r in steps:
        for c in r["checks"]:
            if not c.get("required"):
                continue
            if c["id"] not in best:
                order.append(c["id"])
                best[c["id"]] = {}
            for m in _gated(c):
                key = (m["name"], m["split"])
                ratio = _ratio(m)
                best[c["id"]][key] = max(best[c["id"]].get(key, float("-inf")),
                                         float("-inf") if ratio is None else ratio)
    series = []
    for cid in order:
        if not best[cid]:
            continue
        name, split = max(best[cid], key=lambda k: best[cid][k])
        points, comparator = [], None
        for i, r in enumerate(steps, start=1):
            c = next((c for c in r["checks"] if c["id"] == cid), None)
            m = next((m for m in _gated(c or {}) if (m["name"], m["split"]) == (name, split)), None)
            if m is None:
                continue
            comparator = m["comparator"]
            points.append({"step": i, "value": m["value"], "reference": m["reference"], "delta": m["delta"],
                           "margin": m["margin"], "fail_margin": m["fail_margin"], "ratio": _ratio(m),
                           "status": m["status"]})
        series.append({"check": cid, "metric": name, "split": split, "comparator": comparator, "points": points})
    return series


def _step_entry(stream: StreamCase, i: int, r: dict[str, Any], seconds: float) -> dict[str, Any]:
    step = stream.step(i)
    return {
        "step": i, "request_id": stream.request_ids[i - 1], "forget_rows": stream.own_rows(i),
        "cumulative_forget_rows": step.n["forget"], "retain_rows": step.n["retain"],
        "verdict": r["verdict"], "verdict_reason": r["verdict_reason"], "exit_code": r["exit_code"],
        "power": bool(r["controls"]["power"]),
        "unlearned": r["models"]["unlearned"], "retrained": r["models"]["retrained"],
        "forget_set_sha256": r["data"]["forget_set_sha256"],
        "checks": [{"id": c["id"], "status": c["status"], "required": c["required"]} for c in r["checks"]],
        "seconds": round(seconds, 4),
    }


def stream_section(stream: StreamCase, steps: list[dict[str, Any]], seconds: list[float],
                   base_policy: dict[str, Any]) -> dict[str, Any]:
    """results.json ``stream``: the steps, the sequence verdict, the drift and the correction.

    Parameters
    ----------
    stream : StreamCase
        The stream the steps were audited from (request ids, rows per request).
    steps : list of dict
        The steps' results.json dicts, in order (at least one).
    seconds : list of float
        Wall time of each step's audit, same order.
    base_policy : dict
        The ``general`` section of the resolved policy before it was split over the looks.

    Returns
    -------
    dict
        ``requests``, ``forget_set`` (``"cumulative"``), ``verdict``, ``first_failing_step``,
        ``first_failing_request``, ``requests_survived``, ``looks`` (the Bonferroni
        correction: overall and per-step levels, the latter read from the first step's
        policy), ``steps`` (one entry per step) and ``drift`` (:func:`drift_series`).
    """
    verdict, first = sequence_verdict([r["verdict"] for r in steps])
    n = len(steps)
    g = steps[0]["policy"]["general"]
    return {
        "requests": n,
        "forget_set": "cumulative",
        "verdict": verdict,
        "first_failing_step": first,
        "first_failing_request": stream.request_ids[first - 1] if first else None,
        "requests_survived": (first - 1) if first else n,
        "looks": {"n": n, "correction": "bonferroni",
                  "fail_level": base_policy["fail_level"], "retrain_coverage": base_policy["retrain_coverage"],
                  "fail_level_per_step": g["fail_level"], "retrain_coverage_per_step": g["retrain_coverage"]},
        "steps": [_step_entry(stream, i, r, s) for i, (r, s) in enumerate(zip(steps, seconds, strict=True), 1)],
        "drift": drift_series(steps),
    }


def _deciding(verdicts: list[str]) -> int:
    """0-based index of the step results.json shows in full."""
    worst = worst_status(list(verdicts))
    if worst == "pass":
        return len(verdicts) - 1
    return verdicts.index(worst)


def _reason(section: dict[str, Any], steps: list[dict[str, Any]]) -> str:
    verdict, first, n = section["verdict"], section["first_failing_step"], section["requests"]
    if first:
        return (f"step {first} of {n} ({section['first_failing_request']}) is the first to fail — "
                f"{steps[first - 1]['verdict_reason']}; {first - 1} request(s) were served before a retrain was due")
    if verdict == "pass":
        return f"every one of the {n} steps passed ({steps[-1]['verdict_reason']})"
    k = [r["verdict"] for r in steps].index(verdict) + 1
    return f"step {k} of {n} is {verdict}: {steps[k - 1]['verdict_reason']}"


def stream_result(stream: StreamCase, steps: list[dict[str, Any]], seconds: list[float],
                  general: dict[str, Any], started: str) -> AuditResult:
    """results.json of a stream from its steps' model audits (what :func:`audit.engine.runner.run_stream` returns).

    Parameters
    ----------
    stream : StreamCase
        The stream whose steps were audited.
    steps : list of dict
        Each step's results.json, in order.
    seconds : list of float
        Each step's wall time.
    general : dict
        The resolved policy's ``general`` table (before the split over the looks).
    started : str
        When the stream's audit started (ISO 8601).

    Returns
    -------
    AuditResult
        The deciding step's model audit with the sequence verdict, exit code and ``stream``.

    Examples
    --------
    >>> from audit.engine.runner import run_stream                # doctest: +SKIP
    >>> r = run_stream(load_stream_case("stream/case.toml"))       # doctest: +SKIP
    >>> r["stream"]["first_failing_step"]                          # doctest: +SKIP
    6
    """
    section = stream_section(stream, steps, seconds, general)
    top = copy.deepcopy(dict(steps[_deciding([r["verdict"] for r in steps])]))
    verdict = section["verdict"]
    top["case"] = {"name": stream.name, "request_id": stream.request_id, "mode": "stream",
                   "description": top["case"].get("description")}
    top["verdict"], top["verdict_reason"] = verdict, _reason(section, steps)
    top["exit_code"] = exit_code_of(verdict, bool(top["policy"]["general"]["fail_on_warn"]))
    top["models"]["original"] = _model_entry(stream.models["original"])
    top["stream"] = section
    top["started_at"], top["finished_at"] = started, _now()
    return AuditResult(top, inputs=case_inputs(stream))  # type: ignore[arg-type]
