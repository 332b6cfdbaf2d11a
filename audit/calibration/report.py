"""Counting and rendering the calibration grid: confusion matrices, rates, wrong cases.

Everything here reads a list of :class:`audit.calibration.grid.CaseResult`; nothing
computes a verdict.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from audit.calibration.grid import CaseResult
from audit.calibration.variants import EXPECTED, VARIANTS

__all__ = ["VERDICTS", "confusion", "rates", "wrong_cases", "render_markdown", "render_text"]

VERDICTS: tuple[str, ...] = ("pass", "warn", "fail", "inconclusive", "error")
_NOOPS = ("noop", "reexported_noop", "finetune")


def confusion(results: Iterable[CaseResult], by: Sequence[str] = ()) -> dict[tuple, Counter]:
    """Counts of (variant, verdict) for each value of the ``by`` attributes.

    Parameters
    ----------
    results : iterable of CaseResult
        Audited cases.
    by : sequence of str
        Attributes to group by (e.g. ``("family",)``).

    Returns
    -------
    dict of tuple to Counter

    Examples
    --------
    >>> r = [CaseResult("d", "mlp", "class", "noop", 0, "not pass", "fail", True),
    ...      CaseResult("d", "mlp", "class", "noop", 1, "not pass", "pass", False)]
    >>> confusion(r, by=("family",))[("mlp",)][("noop", "pass")]
    1
    """
    out: dict[tuple, Counter] = {}
    for r in results:
        key = tuple(getattr(r, b) for b in by)
        out.setdefault(key, Counter())[(r.variant, r.verdict)] += 1
    return out


def _pct(num: int, den: int) -> float | None:
    return None if den == 0 else round(100.0 * num / den, 1)


def rates(results: Sequence[CaseResult]) -> dict[str, Any]:
    """The headline numbers of the issue's "done when".

    Returns ``n``, ``correct`` and ``pct_correct``; ``retrain_pass_pct`` per family;
    ``noop_passes`` (passes of a no-op, re-exported no-op or fine-tune; must be 0) and how
    many of those the audit flagged as having no power; ``no_power`` per variant; ``errors``.

    Parameters
    ----------
    results : sequence of CaseResult
        Audited cases.

    Returns
    -------
    dict

    Examples
    --------
    >>> r = [CaseResult("d", "mlp", "random1", "retrain", 0, "pass", "pass", True),
    ...      CaseResult("d", "mlp", "random1", "retrain", 1, "pass", "fail", False),
    ...      CaseResult("d", "mlp", "random1", "finetune", 0, "not pass", "warn", False)]
    >>> x = rates(r)
    >>> x["pct_correct"], x["retrain_pass_pct"], x["noop_passes"]
    (33.3, {'mlp': 50.0}, 1)
    """
    correct = sum(r.correct for r in results)
    retrain_pass = {}
    for fam in sorted({r.family for r in results}):
        rs = [r for r in results if r.family == fam and r.variant == "retrain"]
        retrain_pass[fam] = _pct(sum(r.verdict in ("pass", "warn") for r in rs), len(rs))
    bad = [r for r in results if r.variant in _NOOPS and r.verdict in ("pass", "warn")]
    no_power = Counter(r.variant for r in results if r.no_power)
    return {"n": len(results), "correct": correct, "pct_correct": _pct(correct, len(results)),
            "retrain_pass_pct": retrain_pass, "noop_passes": len(bad),
            "noop_passes_no_power": sum(r.no_power for r in bad),
            "no_power": {v: no_power[v] for v in VARIANTS if no_power[v]},
            "errors": sum(r.verdict == "error" for r in results)}


def wrong_cases(results: Iterable[CaseResult]) -> list[CaseResult]:
    """Every case whose verdict is not the right one, in grid order.

    Parameters
    ----------
    results : iterable of CaseResult
        Audited cases.

    Returns
    -------
    list of CaseResult
    """
    return [r for r in results if not r.correct]


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in rows]
    return lines


def _matrix(results: Sequence[CaseResult], by: Sequence[str]) -> list[str]:
    counts = confusion(results, by)
    header = [*by, "variant", "expected", *VERDICTS, "correct", "no power"]
    rows = []
    for key in sorted(counts):
        sub = [r for r in results if tuple(getattr(r, b) for b in by) == key]
        for v in VARIANTS:
            vs = [r for r in sub if r.variant == v]
            if not vs:
                continue
            cells = [counts[key][(v, verdict)] or "" for verdict in VERDICTS]
            rows.append([*key, v, EXPECTED[v], *cells, f"{sum(r.correct for r in vs)}/{len(vs)}",
                         sum(r.no_power for r in vs) or ""])
    return _table(header, rows)


def _rates_lines(x: dict[str, Any]) -> list[str]:
    fam = ", ".join(f"{f} {p} %" for f, p in x["retrain_pass_pct"].items())
    return [f"- correct verdicts: **{x['correct']}/{x['n']} ({x['pct_correct']} %)**",
            f"- genuine retrains passing, per family: {fam or 'none run'}",
            f"- passes of a no-op / re-exported no-op / fine-tune (must be 0): **{x['noop_passes']}**"
            f" (of which flagged no power: {x['noop_passes_no_power']})",
            f"- inconclusive with no power, per variant: {x['no_power'] or 'none'}",
            f"- errors: {x['errors']}"]


def render_text(results: Sequence[CaseResult]) -> str:
    """Terminal summary: the overall confusion matrix and the rates.

    Parameters
    ----------
    results : sequence of CaseResult
        Audited cases.

    Returns
    -------
    str
    """
    return "\n".join([*_matrix(results, ()), "", *_rates_lines(rates(results))]) + "\n"


def render_markdown(results: Sequence[CaseResult], *, command: str, seconds: float,
                    meta: dict[str, Any] | None = None,
                    skipped: Sequence[tuple[str, str]] = ()) -> str:
    """CALIBRATION.md: command, time, rates, confusion matrices, per-cell counts, wrong cases.

    Parameters
    ----------
    results : sequence of CaseResult
        Audited cases.
    command : str
        The command that reproduces the run.
    seconds : float
        Its wall time.
    meta : dict, optional
        Machine and version facts.
    skipped : sequence of (str, str)
        What the grid left out and why.

    Returns
    -------
    str

    Examples
    --------
    >>> r = [CaseResult("digits", "mlp", "class", "noop", 0, "not pass", "fail", True)]
    >>> "unlearn-audit calibrate --quick" in render_markdown(r, command="unlearn-audit calibrate --quick",
    ...                                                      seconds=1.0)
    True
    """
    meta = dict(meta or {})
    audit_s = [r.seconds for r in results if r.verdict != "error"]
    lines = ["# Calibration grid", "",
             "Ground-truth unlearning cases built on the fly and audited with the built-in policy "
             "(`audit.calibration`). Expected: a genuine retrain passes (warn allowed); a no-op, "
             "re-exported no-op, fine-tune, gradient ascent or group-flip retrain does not "
             "(fail, or inconclusive).", "",
             f"Command: `{command}`", "",
             f"Wall time: {seconds:.0f} s for {len(results)} cases"
             + (f" (audit alone: mean {sum(audit_s) / len(audit_s):.1f} s per case)" if audit_s else "")]
    lines += [f"{k}: {v}" for k, v in meta.items()]
    lines += ["", "## Rates", "", *_rates_lines(rates(results)),
              "", "## Confusion matrix: all cases", "", *_matrix(results, ()),
              "", "## Per model family and forget kind", "", *_matrix(results, ("family", "kind")),
              "", "## Per cell (dataset, family, kind), counts over seeds", "",
              *_matrix(results, ("dataset", "family", "kind")), "", "## Wrong cases", ""]
    wrong = wrong_cases(results)
    lines += _table(["dataset", "family", "kind", "variant", "seed", "verdict",
                     "checks not pass (* required)", "note"],
                    [[r.dataset, r.family, r.kind, r.variant, r.seed, r.verdict,
                      ", ".join(r.not_passing) or r.error, r.note] for r in wrong]) if wrong else ["none"]
    if skipped:
        lines += ["", "## Left out", "", *[f"- {what}: {why}" for what, why in skipped]]
    return "\n".join(lines) + "\n"
