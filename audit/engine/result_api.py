"""The result of :func:`audit.run_audit`: results.json as a dict, with a pandas-style API.

:class:`AuditResult` *is* the results dict (a ``dict`` subclass, so ``result["verdict"]``,
``json.dumps(result)`` and :func:`reports.write_pack` keep working) and adds what a
notebook user reaches for: ``.verdict``, ``.exit_code``, ``.checks``, tidy DataFrames of
metrics and findings, ``.to_json()``, ``.write_pack(dir)`` and an HTML summary.
"""

from __future__ import annotations

import os
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["AuditResult", "METRIC_COLUMNS", "FINDING_COLUMNS"]

METRIC_COLUMNS = ("check", "metric", "split", "value", "ci_low", "ci_high", "reference", "margin",
                  "status", "n")
FINDING_COLUMNS = ("check", "message", "slice", "metric", "n", "delta", "ci_low", "ci_high",
                   "p_value", "p_adjusted", "test", "status", "effect")


def _ci(entry: dict[str, Any]) -> tuple[Any, Any]:
    ci = entry.get("ci")
    return (ci[0], ci[1]) if ci else (None, None)


_NUMBERS = ("value", "ci_low", "ci_high", "reference", "margin", "delta", "p_value", "p_adjusted")


def _frame(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> pd.DataFrame:
    """A frame with ``columns``: numbers as float (None → NaN), ``n`` as nullable Int64."""
    df = pd.DataFrame(rows, columns=list(columns))
    for col in df.columns:
        if col in _NUMBERS:
            df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
        elif col == "n":
            df[col] = pd.to_numeric(df[col], errors="coerce").astype("Int64")
    return df


class AuditResult(dict[str, Any]):
    """results.json of one audit, with accessors; serialises exactly like a plain dict.

    Parameters
    ----------
    results : dict
        The results dict (the ``results.json`` contract of DESIGN.md).
    inputs : dict of role to path, optional
        The input files of the case (models, data), recorded by :meth:`write_pack` in the
        manifest. :func:`audit.run_audit` fills it in.

    Examples
    --------
    >>> r = AuditResult({"verdict": "fail", "exit_code": 1, "case": {"name": "demo"},
    ...     "checks": [{"id": "utility", "status": "fail", "required": True, "summary": "worse",
    ...                 "metrics": [{"name": "accuracy", "split": "test", "value": 0.81,
    ...                              "ci": [0.78, 0.84], "reference": 0.9, "margin": 0.02,
    ...                              "status": "fail", "n": 400}],
    ...                 "findings": []}]})
    >>> r.verdict, r.exit_code, r["verdict"]
    ('fail', 1, 'fail')
    >>> r.metrics_frame()[["check", "metric", "value", "ci_low", "status"]]
         check    metric  value  ci_low status
    0  utility  accuracy   0.81    0.78   fail
    >>> import json; json.loads(json.dumps(r)) == dict(r)
    True
    """

    def __init__(self, results: dict[str, Any] | None = None, *,
                 inputs: dict[str, str | os.PathLike[str]] | None = None) -> None:
        super().__init__(results or {})
        self.inputs = dict(inputs or {})

    @property
    def verdict(self) -> str:
        """The gate's verdict: ``pass``, ``warn``, ``fail``, ``inconclusive`` or ``error``."""
        return str(self["verdict"])

    @property
    def exit_code(self) -> int:
        """The exit code ``unlearn-audit run`` gives this verdict (0, 1 or 3)."""
        return int(self["exit_code"])

    @property
    def checks(self) -> list[dict[str, Any]]:
        """One dict per check run (``id``, ``status``, ``required``, ``metrics``, ...)."""
        return list(self["checks"])

    def metrics_frame(self) -> pd.DataFrame:
        """One row per metric of every check.

        Returns
        -------
        DataFrame
            Columns ``check, metric, split, value, ci_low, ci_high, reference, margin,
            status, n``; a missing number is NaN.

        Examples
        --------
        >>> AuditResult({"checks": []}).metrics_frame().columns.tolist()[:4]
        ['check', 'metric', 'split', 'value']
        """
        rows = []
        for c in self.get("checks", []):
            for m in c.get("metrics", []):
                lo, hi = _ci(m)
                rows.append({"check": c["id"], "metric": m["name"], "split": m.get("split"),
                             "value": m.get("value"), "ci_low": lo, "ci_high": hi,
                             "reference": m.get("reference"), "margin": m.get("margin"),
                             "status": m.get("status"), "n": m.get("n")})
        return _frame(rows, METRIC_COLUMNS)

    def findings_frame(self) -> pd.DataFrame:
        """One row per finding (e.g. a harmed subgroup) of every check.

        Returns
        -------
        DataFrame
            Columns ``check, message, slice, metric, n, delta, ci_low, ci_high, p_value,
            p_adjusted, test, status, effect``; ``slice`` reads ``column=value, ...``;
            ``effect`` is ``harm`` / ``improvement`` where a harm check decided a shift.

        Examples
        --------
        >>> r = AuditResult({"checks": [{"id": "subgroup_shift", "findings": [
        ...     {"message": "south is harmed", "slice": {"school": "south"}, "delta": -0.08,
        ...      "ci": [-0.12, -0.04], "status": "fail"}]}]})
        >>> r.findings_frame()[["check", "slice", "delta", "ci_high", "status"]]
                    check         slice  delta  ci_high status
        0  subgroup_shift  school=south  -0.08    -0.04   fail
        """
        rows = []
        for c in self.get("checks", []):
            for f in c.get("findings", []):
                lo, hi = _ci(f)
                rows.append({"check": c["id"], "message": f.get("message"),
                             "slice": ", ".join(f"{k}={v}" for k, v in (f.get("slice") or {}).items()),
                             "metric": f.get("metric"), "n": f.get("n"), "delta": f.get("delta"),
                             "ci_low": lo, "ci_high": hi, "p_value": f.get("p_value"),
                             "p_adjusted": f.get("p_adjusted"), "test": f.get("test"),
                             "status": f.get("status"), "effect": f.get("effect")})
        return _frame(rows, FINDING_COLUMNS)

    def to_json(self) -> str:
        """The canonical text of ``results.json`` (sorted keys, 2-space indent).

        Returns
        -------
        str

        Examples
        --------
        >>> print(AuditResult({"verdict": "pass", "exit_code": 0}).to_json(), end="")
        {
          "exit_code": 0,
          "verdict": "pass"
        }
        """
        from reports import dump_results

        return dump_results(dict(self))

    def write_pack(self, out_dir: str | os.PathLike[str], **kwargs: Any) -> Path:
        """Write the signed-or-not evidence pack to ``out_dir`` (see :func:`reports.write_pack`).

        Parameters
        ----------
        out_dir : path
            New directory (or a previous pack, replaced atomically).
        **kwargs
            ``sign_key``, ``template_dir``, ``pdf``, ``formats`` of :func:`reports.write_pack`.

        Returns
        -------
        Path
            ``out_dir``; check it with :func:`reports.verify_pack`.

        Examples
        --------
        >>> from audit.scenarios import build_scenario          # doctest: +SKIP
        >>> result = run_audit(build_scenario("accent", "/tmp/a"))  # doctest: +SKIP
        >>> result.write_pack("/tmp/a-pack", formats={"json", "html"})  # doctest: +SKIP
        PosixPath('/tmp/a-pack')
        """
        from reports import write_pack

        return write_pack(dict(self), out_dir, inputs=self.inputs, **kwargs)

    def _repr_html_(self) -> str:
        """A verdict line and a table of checks, for Jupyter."""
        rows = "".join(
            f"<tr><td>{escape(str(c.get('id')))}</td><td>{escape(str(c.get('status')))}</td>"
            f"<td>{'yes' if c.get('required') else 'no'}</td>"
            f"<td>{escape(str(c.get('summary', '')))}</td></tr>" for c in self.get("checks", []))
        name = escape(str((self.get("case") or {}).get("name", "")))
        return (f"<div><p><b>{name}</b> — verdict: <b>{escape(str(self.get('verdict', '?')).upper())}</b>"
                f" (exit {escape(str(self.get('exit_code', '?')))})</p>"
                "<table><thead><tr><th>check</th><th>status</th><th>required</th><th>summary</th>"
                f"</tr></thead><tbody>{rows}</tbody></table></div>")

    def __repr__(self) -> str:
        n = len(self.get("checks", []))
        return f"AuditResult(verdict={self.get('verdict')!r}, exit_code={self.get('exit_code')!r}, checks={n})"
