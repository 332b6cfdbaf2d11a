"""Result objects of checks: metrics, findings, tables, figures and statuses.

Everything here serialises to plain JSON types via ``to_dict`` and follows the
``results.json`` contract of DESIGN.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "STATUSES",
    "Status",
    "Metric",
    "Finding",
    "Table",
    "Figure",
    "CheckResult",
    "worst_status",
    "clean_number",
]

Status = Literal["pass", "warn", "fail", "inconclusive", "error", "skipped"]
STATUSES: tuple[str, ...] = ("pass", "warn", "fail", "inconclusive", "error", "skipped")

# Severity used for a verdict: the worst required status wins. A required check that
# was skipped counts as inconclusive (evidence is missing, fail-closed).
_SEVERITY = {"pass": 0, "warn": 1, "skipped": 2, "inconclusive": 3, "error": 4, "fail": 5}

Comparator = Literal["two_sided", "at_most", "at_least", "info"]


def worst_status(statuses: list[str]) -> str:
    """Return the most severe status; ``inconclusive`` for an empty list (fail-closed).

    Order: pass < warn < skipped < inconclusive < error < fail.

    Parameters
    ----------
    statuses : list of str
        Statuses.

    Returns
    -------
    str

    Examples
    --------
    >>> worst_status(["pass", "warn", "inconclusive"])
    'inconclusive'
    >>> worst_status([])
    'inconclusive'
    """
    if not statuses:
        return "inconclusive"
    return max(statuses, key=lambda s: _SEVERITY[s])


def clean_number(x: Any) -> Any:
    """Turn numpy scalars into Python numbers and non-finite floats into ``None``.

    Parameters
    ----------
    x : any
        A value.

    Returns
    -------
    any

    Examples
    --------
    >>> import numpy as np
    >>> clean_number(np.float32(0.5)), clean_number(float("nan"))
    (0.5, None)
    """
    if x is None:
        return None
    if isinstance(x, bool):
        return x
    if hasattr(x, "item") and not isinstance(x, (list, tuple, dict)):
        x = x.item()
    if isinstance(x, float):
        if not math.isfinite(x):
            return None
        return float(x)
    return x


def _pair(ci: Any) -> list[float | None] | None:
    if ci is None:
        return None
    lo, hi = ci
    return [clean_number(lo), clean_number(hi)]


@dataclass
class Metric:
    """One measured quantity held against a reference.

    ``delta_ci`` is the confidence interval of (value - reference) that decides the
    metric's status against ``margin`` using ``comparator``:

    * ``two_sided``: pass iff ``delta_ci`` lies inside (-margin, +margin);
    * ``at_most``: pass iff the upper end is below +margin (lower is always fine);
    * ``at_least``: pass iff the lower end is above -margin;
    * ``info``: reported only, never decides.

    Parameters
    ----------
    name, split : str
        What was measured, on which rows.
    value : float or None
        The candidate's value.
    ci, reference, reference_ci, delta, delta_ci, margin, comparator, status
        Its interval, the references' value and interval, the difference and its interval,
        the band, the comparator and the kernel's status.
    **fields
        The other dataclass fields (controls, notes, cost, effect ...), see the attributes.
    """

    name: str
    split: str
    value: float | None
    ci: tuple[float, float] | None = None
    reference: float | None = None
    reference_ci: tuple[float, float] | None = None
    delta: float | None = None
    delta_ci: tuple[float, float] | None = None
    margin: float | None = None
    comparator: Comparator = "info"
    n: int | None = None
    status: str | None = None
    n_to_settle: int | None = None
    note: str | None = None
    fail_margin: float | None = None
    k_to_settle: int | None = None
    reference_values: list[float] | None = None
    reference_source: str | None = None
    seed_sd: float | None = None
    row_se: float | None = None
    null_sd: float | None = None
    null_df: float | None = None
    controls: dict[str, Any] | None = None
    effect: str | None = None  # harm comparators: "harm" (fails) / "improvement" (reported)

    def to_dict(self) -> dict[str, Any]:
        """The metric's JSON form.

        Returns
        -------
        dict
            The JSON form written to results.json (numbers cleaned: non-finite floats as null).
        """
        out = {
            "name": self.name,
            "split": self.split,
            "value": clean_number(self.value),
            "ci": _pair(self.ci),
            "reference": clean_number(self.reference),
            "reference_ci": _pair(self.reference_ci),
            "delta": clean_number(self.delta),
            "delta_ci": _pair(self.delta_ci),
            "margin": clean_number(self.margin),
            "comparator": self.comparator,
            "n": clean_number(self.n),
            "status": self.status,
            "n_to_settle": clean_number(self.n_to_settle),
            "note": self.note,
        }
        if self.reference_source is not None:
            out.update({
                "fail_margin": clean_number(self.fail_margin),
                "k_to_settle": clean_number(self.k_to_settle),
                "reference_values": [clean_number(v) for v in self.reference_values or []],
                "reference_source": self.reference_source,
                "seed_sd": clean_number(self.seed_sd),
                "row_se": clean_number(self.row_se),
                "null_sd": clean_number(self.null_sd),
                "null_df": clean_number(self.null_df),
                "controls": _clean_tree(self.controls or {}),
            })
        if self.effect is not None:
            out["effect"] = self.effect
        return out


@dataclass
class Finding:
    """A specific observation, e.g. a harmed subgroup.

    ``slice`` names the rows concerned as ``{"column": "value", ...}``.

    Parameters
    ----------
    message : str
        The finding in words.
    slice : dict
        The rows concerned.
    metric, n, delta, ci, p_value, p_adjusted, test, status, extra, effect
        The measured shift and its test.
    """

    message: str
    slice: dict[str, Any] = field(default_factory=dict)
    metric: str | None = None
    n: int | None = None
    delta: float | None = None
    ci: tuple[float, float] | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    test: str | None = None
    status: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    effect: str | None = None  # "harm" (may block) or "improvement" (reported; blocks only if the policy says so)

    def to_dict(self) -> dict[str, Any]:
        """The finding's JSON form.

        Returns
        -------
        dict
            The JSON form written to results.json (numbers cleaned: non-finite floats as null).
        """
        out = {
            "message": self.message,
            "slice": {str(k): clean_number(v) for k, v in self.slice.items()},
            "metric": self.metric,
            "n": clean_number(self.n),
            "delta": clean_number(self.delta),
            "ci": _pair(self.ci),
            "p_value": clean_number(self.p_value),
            "p_adjusted": clean_number(self.p_adjusted),
            "test": self.test,
            "status": self.status,
        }
        if self.extra:
            out["extra"] = {k: clean_number(v) for k, v in self.extra.items()}
        if self.effect is not None:
            out["effect"] = self.effect
        return out


@dataclass
class Table:
    """A small table for the report (rows are lists aligned with ``columns``).

    Parameters
    ----------
    name : str
        Caption.
    columns : list of str
        Column names.
    rows : list of list
        Rows aligned with ``columns``.
    """

    name: str
    columns: list[str]
    rows: list[list[Any]]

    def to_dict(self) -> dict[str, Any]:
        """The table's JSON form.

        Returns
        -------
        dict
            The JSON form written to results.json (numbers cleaned: non-finite floats as null).
        """
        return {
            "name": self.name,
            "columns": list(self.columns),
            "rows": [[clean_number(v) for v in row] for row in self.rows],
        }


@dataclass
class Figure:
    """Data for a figure; the report draws it (reports never compute metrics).

    kinds and their ``data``:

    * ``roc``: ``{"curves": [{"label", "fpr": [...], "tpr": [...]}]}``
    * ``forest``: ``{"rows": [{"label", "value", "ci": [lo, hi]}], "margin": float|None}``
    * ``histogram``: ``{"series": [{"label", "bin_edges": [...], "counts": [...]}], "xlabel"}``

    Parameters
    ----------
    kind : {"roc", "forest", "histogram"}
        The figure type.
    title : str
        Its title.
    data : dict
        As above.
    """

    kind: Literal["roc", "forest", "histogram"]
    title: str
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The figure's JSON form (arrays as lists).

        Returns
        -------
        dict
            The JSON form written to results.json (numbers cleaned: non-finite floats as null).
        """
        return {"kind": self.kind, "title": self.title, "data": _clean_tree(self.data)}


def _clean_tree(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _clean_tree(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean_tree(v) for v in obj]
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):
        return _clean_tree(obj.tolist())
    return clean_number(obj)


@dataclass
class CheckResult:
    """The outcome of one check, serialised into ``results.json`` ``checks[]``.

    Parameters
    ----------
    id, status, summary, title : str
        The check, its status and one-paragraph summary.
    required : bool
        Counts towards the verdict.
    metrics, findings, tables, figures : list
        What it measured and shows.
    **fields
        ``controls``, ``notes``, ``missing`` and the rest of the attributes.
    """

    id: str
    status: str
    summary: str
    title: str = ""
    required: bool = True
    metrics: list[Metric] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    controls: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The check's entry of results.json ``checks[]``.

        Returns
        -------
        dict
            The JSON form written to results.json (numbers cleaned: non-finite floats as null).
        """
        out = {
            "id": self.id,
            "title": self.title or self.id.replace("_", " ").capitalize(),
            "status": self.status,
            "required": self.required,
            "summary": self.summary,
            "metrics": [m.to_dict() for m in self.metrics],
            "findings": [f.to_dict() for f in self.findings],
            "tables": [t.to_dict() for t in self.tables],
            "figures": [f.to_dict() for f in self.figures],
            "notes": list(self.notes),
            "missing": list(self.missing),
        }
        if self.controls is not None:
            out["controls"] = _clean_tree(self.controls)
        return out
