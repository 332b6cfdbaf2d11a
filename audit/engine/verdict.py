"""The verdict of a run: worst required status, the run's controls and the no-power rule, exit codes.

One home for turning check results into the gate's answer (DESIGN: status semantics with
controls, exit codes); the runner and the method lab both build results through
:func:`audit.engine.results_builder.build_results`, which calls these.
"""

from __future__ import annotations

from typing import Any

from audit.core.results import worst_status

__all__ = ["verdict_of", "audit_controls", "gate_verdict", "exit_code_of", "EXIT_CODES"]

EXIT_CODES = {"pass": 0, "warn": 0, "fail": 1, "inconclusive": 3, "error": 3}


def verdict_of(checks: list[dict[str, Any]]) -> str:
    """Worst status among required checks; a required ``skipped`` counts as inconclusive.

    No required check at all is ``inconclusive`` (fail-closed).

    Parameters
    ----------
    checks : list of dict
        The check entries of results.json.

    Returns
    -------
    str

    Examples
    --------
    >>> verdict_of([{"required": True, "status": "pass"}, {"required": False, "status": "fail"}])
    'pass'
    >>> verdict_of([{"required": False, "status": "pass"}])
    'inconclusive'
    """
    statuses = [c["status"] for c in checks if c["required"]]
    worst = worst_status(statuses)
    return "inconclusive" if worst == "skipped" else worst


def audit_controls(checks: list[dict[str, Any]], kinds: dict[str, str]) -> dict[str, Any]:
    """The run's controls: per check, the negative-control pass count and the power.

    ``power`` is true when some *required forgetting* check fails the original O scored
    as the candidate (the audit could have detected a no-op). ``kinds`` maps a check id
    to its kind; a check whose original is a degenerate candidate is given as
    ``"forgetting-no-power"`` (its control is reported, it gives no power).

    Parameters
    ----------
    checks : list of dict
        The check entries.
    kinds : dict of str to str
        Each check's kind.

    Returns
    -------
    dict

    Examples
    --------
    >>> c = [{"id": "m", "required": True, "status": "pass",
    ...       "controls": {"negative": {"passed": 2, "total": 2}, "positive": {"power": True}}}]
    >>> audit_controls(c, {"m": "forgetting"})["power"]
    True
    """
    per_check = {}
    detected = []
    for c in checks:
        ctl = c.get("controls")
        if not ctl:
            continue
        per_check[c["id"]] = {"kind": kinds.get(c["id"], "context"), "required": c["required"],
                              "negative_passed": ctl["negative"]["passed"],
                              "negative_total": ctl["negative"]["total"],
                              "power": bool(ctl["positive"]["power"])}
        if c["required"] and kinds.get(c["id"]) == "forgetting" and ctl["positive"]["power"]:
            detected.append(c["id"])
    return {"power": bool(detected), "power_from": detected, "checks": per_check}


def gate_verdict(checks: list[dict[str, Any]], controls: dict[str, Any], on_no_power: str) -> tuple[str, str]:
    """Verdict and the reason in one sentence, with the no-power rule applied.

    A pass (or warn) stands only when some required forgetting check could tell the
    original from the retrains; otherwise it becomes ``inconclusive`` (or ``warn`` when
    the policy's ``on_no_power`` says so).

    Parameters
    ----------
    checks : list of dict
        The check entries.
    controls : dict
        :func:`audit_controls`.
    on_no_power : str
        ``inconclusive`` or ``warn``.

    Returns
    -------
    verdict, reason : str

    Examples
    --------
    >>> gate_verdict([{"required": True, "status": "pass"}], {"power": False}, "inconclusive")[0]
    'inconclusive'
    """
    verdict = verdict_of(checks)
    if verdict in ("pass", "warn") and not controls["power"]:
        reason = ("the original itself is indistinguishable from a retrain here: this audit could not "
                  "have detected a no-op")
        return ("warn" if on_no_power == "warn" else "inconclusive"), reason
    bad = [c["id"] for c in checks if c["required"] and c["status"] == verdict]
    if verdict == "pass":
        return verdict, "every required check passed and the original was detectable (positive control)"
    return verdict, f"{verdict}: " + ", ".join(bad) if bad else f"{verdict}: no required check ran"


def exit_code_of(verdict: str, fail_on_warn: bool = False) -> int:
    """Exit code of ``run``/``gate``: 0 pass/warn, 1 fail, 3 inconclusive/error.

    Parameters
    ----------
    verdict : str
        The verdict.
    fail_on_warn : bool
        A ``warn`` exits 1.

    Returns
    -------
    int

    Examples
    --------
    >>> exit_code_of("pass"), exit_code_of("fail"), exit_code_of("warn", fail_on_warn=True)
    (0, 1, 1)
    """
    if verdict == "warn" and fail_on_warn:
        return 1
    return EXIT_CODES[verdict]
