"""The ``method_comparison`` table: the method checks of a method audit side by side.

A view of the method checks (:mod:`audit.checks.method`); it decides nothing itself. One row
per method; the columns answer "retrain vs SISA vs influence vs gradient scrubbing" with
numbers (issue 15 item 4):

* **power** — the check's positive control: does it fail the method's own original posing as
  the method (false: a pass says nothing, the original already looked like a retrain);
* **utility kept** — U's accuracy on the test rows (the kept classes' under class removal)
  over O's, mean over seeds (the original's value is the positive control's);
* **forgetting evidence against retrain** — the worst status over the gated metrics other
  than utility, and the one that decides it: the metric whose ``|delta|`` is largest relative
  to its pass band, with that delta (U - R) and band;
* **unlearn / retrain time** — the method's wall time over the exact retrain's (< 1: cheaper);
* **storage bytes** — the state a method keeps to unlearn (SISA's shard checkpoints, a
  posterior), mean over seeds;
* **requests survived** — only when a stream audit supplies it (``survived``): the number of
  successive requests a method unlearns before its verdict first fails.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from audit.core.results import CheckResult, Figure, Table, worst_status

__all__ = ["method_comparison", "comparison_columns", "deciding_metric"]

_COMMON = ["method", "seeds", "status", "power", "utility kept", "accuracy retain", "accuracy test"]
_KIND = {
    "random": ["loss gap delta", "injection ratio", "trigger hit rate", "canary detected"],
    "class": ["forget-class accuracy", "dropped-class mass", "kept-class agreement"],
}
_TAIL = ["KL(R||U) forget", "U-LiRA AUC", "challenge quality", "forgetting status", "deciding metric",
         "deciding delta", "deciding band", "unlearn s", "retrain s", "unlearn/retrain time", "speed-up",
         "storage bytes"]
_MEANS = {"accuracy retain": ("accuracy", "retain"), "accuracy test": ("accuracy", "test"),
          "injection ratio": ("injection_ratio", "forget"), "trigger hit rate": ("trigger_hit_rate", "trigger"),
          "forget-class accuracy": ("forget_accuracy", "forget"),
          "dropped-class mass": ("dropped_class_mass", "forget"),
          "kept-class agreement": ("kept_class_agreement", "forget")}
_FOREST = {"random": ("injection ratio", "Injection ratio (0 = forgotten like a retrain, 1 = kept)"),
           "class": ("dropped-class mass", "Probability of the removed class on its rows (a retrain: ~0)")}


def comparison_columns(kind: str = "random", survived: bool = False) -> list[str]:
    """The table's columns for a forget kind (``requests survived`` only with stream data).

    Parameters
    ----------
    kind : {"random", "class"}
        The forget kind: its own columns sit between the common ones and the tail
        (``KeyError`` for another kind).
    survived : bool
        Append the ``requests survived`` column (a stream audit supplied it).

    Returns
    -------
    list of str
        Column names, in table order.

    Examples
    --------
    >>> comparison_columns("class")[:5]
    ['method', 'seeds', 'status', 'power', 'utility kept']
    """
    return [*_COMMON, *_KIND[kind], *_TAIL, *(["requests survived"] if survived else [])]


def deciding_metric(metrics: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The gated non-utility metric that decides the forgetting evidence.

    Among the gated metrics other than accuracy on retain / test: the failing ones if any,
    else all; of those, the one with the largest ``|delta| / margin``.

    Parameters
    ----------
    metrics : list of dict
        A method check's metric dicts (``name``, ``status``, ``delta``, ``margin``); a metric
        counts as gated when it has a status, a delta and a non-zero margin, and is left out
        when its name before any ``[seed=...]`` tag is ``accuracy``.

    Returns
    -------
    dict or None
        The deciding metric's dict, or None when no metric qualifies.

    Examples
    --------
    >>> ms = [{"name": "accuracy[seed=0]", "status": "fail", "delta": -0.5, "margin": 0.03},
    ...       {"name": "dropped_class_mass[seed=0]", "status": "pass", "delta": 0.01, "margin": 0.05}]
    >>> deciding_metric(ms)["name"]
    'dropped_class_mass[seed=0]'
    """
    gated = [m for m in metrics if m.get("status") and m["name"].split("[")[0] != "accuracy"
             and m.get("delta") is not None and m.get("margin")]
    if not gated:
        return None
    failing = [m for m in gated if m["status"] == "fail"]
    return max(failing or gated, key=lambda m: abs(m["delta"]) / m["margin"])


def _mean(ms: list[dict[str, Any]], name: str, split: str, key: str = "value") -> float | None:
    vals = [m[key] for m in ms if m["name"].split("[")[0] == name and m["split"] == split and m[key] is not None]
    return float(np.mean(vals)) if vals else None


def _utility_kept(ms: list[dict[str, Any]]) -> float | None:
    ratios = []
    for m in ms:
        if m["name"].split("[")[0] == "accuracy" and m["split"] == "test" and m.get("status"):
            o = ((m.get("controls") or {}).get("original") or {}).get("value")
            if o and m["value"] is not None:
                ratios.append(m["value"] / o)
    return float(np.mean(ratios)) if ratios else None


def _row(name: str, check: dict[str, Any], n_seeds: int, columns: list[str], survived: int | None) -> list[Any]:
    ms = check.get("metrics", [])

    def info(metric: str, key: str = "value") -> float | None:
        return next((m[key] for m in ms if m["name"] == metric), None)

    secs, rsecs = info("seconds_unlearn"), info("seconds_unlearn", "reference")
    forgetting = [m["status"] for m in ms if m.get("status") and m["name"].split("[")[0] != "accuracy"]
    decider = deciding_metric(ms) or {}
    row: dict[str, Any] = {c: _mean(ms, *_MEANS[c]) for c in _MEANS}
    row.update({
        "method": name, "seeds": n_seeds if ms else 0, "status": check["status"],
        "power": ((check.get("controls") or {}).get("positive") or {}).get("power"),
        "utility kept": _utility_kept(ms),
        "loss gap delta": _mean(ms, "loss_gap", "forget_vs_test", "delta"),
        "KL(R||U) forget": next((m["value"] for m in ms if m["name"] == "kl_r_u" and m["split"] == "forget"), None),
        "canary detected": info("canary_detected"), "U-LiRA AUC": info("ulira_auc"),
        "challenge quality": info("challenge_quality"),
        "forgetting status": worst_status(forgetting) if forgetting else None,
        "deciding metric": decider.get("name"), "deciding delta": decider.get("delta"),
        "deciding band": decider.get("margin"), "unlearn s": secs, "retrain s": rsecs,
        "unlearn/retrain time": secs / rsecs if secs is not None and rsecs else None,
        "speed-up": rsecs / secs if secs and rsecs is not None else None,
        "storage bytes": info("storage_bytes"), "requests survived": survived})
    return [row[c] for c in columns]


def method_comparison(names: list[str], checks: list[dict[str, Any]], case_name: str, seeds: list[int],
                      target: int, kind: str = "random", survived: dict[str, int | None] | None = None,
                      ) -> dict[str, Any]:
    """The side-by-side table of the method checks, as a check dict (status: worst required).

    Parameters
    ----------
    names : list of str
        Method names, in the order of ``checks``.
    checks : list of dict
        Their ``method_<key>`` check dicts.
    case_name : str
        For the summary.
    seeds : list of int
        The audit's seeds.
    target : int
        The planted target class (random) or the removed class (class).
    kind : {"random", "class"}
        The forget kind of the audit.
    survived : dict, optional
        Requests survived per method name, from a stream audit; adds that column.

    Returns
    -------
    dict
        A ``CheckResult`` dict with id ``method_comparison`` and one table, ``methods``.

    Examples
    --------
    >>> c = {"status": "pass", "required": True, "metrics": []}
    >>> t = method_comparison(["retrain"], [c], "toy", [0], 3, "class")
    >>> t["id"], t["tables"][0]["rows"][0][:4]
    ('method_comparison', ['retrain', 0, 'pass', None])
    """
    columns = comparison_columns(kind, survived is not None)
    rows = [_row(n, c, len(seeds), columns, (survived or {}).get(n)) for n, c in zip(names, checks, strict=True)]
    decided = [c["status"] for c in checks if c["required"]]
    col, title = _FOREST[kind]
    at = columns.index(col)
    forest = [{"label": r[0], "value": r[at], "ci": None} for r in rows if r[at] is not None]
    what = (f"class {target} removed whole" if kind == "class"
            else f"a planted feature / canary (target class {target})")
    return CheckResult(
        id="method_comparison", title="Methods side by side", status=worst_status(decided) if decided else "skipped",
        summary=f"{len(checks)} methods x {len(seeds)} seeds on '{case_name}' with {what}.", required=False,
        tables=[Table("methods", columns, rows)], figures=[Figure("forest", title, {"rows": forest, "margin": None})],
        notes=["Controls: 'retrain' must pass and 'noop' must fail; if not, the setup lacks power. "
               "Every method's negative control (each retrain scored against the others) and positive "
               "control (its original, a no-op) are in its check's controls.",
               "utility kept = U's test accuracy / O's; deciding metric = the gated non-utility metric with "
               "the largest |delta| / band (a failing one first); unlearn/retrain time < 1 = cheaper than "
               "retraining."]).to_dict()
