"""What kind of forget set is this — random rows, a class, a group — and what to match on.

Membership attacks compare forget rows (members) with test rows (non-members). When the
forget set is a whole class, most of a class or a group (a district), the test rows have
another label / group mix and an unmatched attack measures the class, not membership.
:func:`detect_forget_kind` names the kind and the columns the attack should stratify on
(:func:`attacks.strata.matched_auc`); :meth:`ForgetKind.strata` turns a split's rows into
stratum labels.

Rules (constants, not policy), on the training rows (forget + retain) of each value:

* a label value with **all** its training rows in the forget set -> ``class``;
* else a group value (a declared group column) with all its training rows forgotten
  -> ``group``;
* else a label value with at least ``MOSTLY`` (50 %) of its training rows forgotten
  -> ``class`` (half a class);
* else ``random``. ``feature`` (a removed column) cannot be seen in rows; declare it.

A value only counts when that many forgotten rows would be implausible under random
deletion at the overall forget rate: the binomial tail ``P(X >= n_forget)`` must be at most
``NOT_BY_CHANCE`` (1e-6), so a 2-row group that happens to be forgotten is not a "group
removal". The strata are always the label plus every group column with a value that is at
least ``MOSTLY`` forgotten (by the same test). A ``[case] forget_kind`` declaration wins
over detection; the strata are computed anyway and the evidence says when they disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from audit.shared.errors import BadInput

if TYPE_CHECKING:  # pragma: no cover
    from audit.core.case import AuditCase

__all__ = ["FORGET_KINDS", "MOSTLY", "NOT_BY_CHANCE", "ForgetKind", "detect_forget_kind",
           "validate_forget_kind"]

FORGET_KINDS = ("random", "class", "group", "feature")
MOSTLY = 0.5
NOT_BY_CHANCE = 1e-6


def validate_forget_kind(value: object, field: str = "case.forget_kind") -> str | None:
    """``None`` or one of :data:`FORGET_KINDS`; anything else is :class:`BadInput`.

    Parameters
    ----------
    value : object
        The declared value.
    field : str
        The field named in errors.

    Returns
    -------
    str or None

    Examples
    --------
    >>> validate_forget_kind("class")
    'class'
    """
    if value is None or value in FORGET_KINDS:
        return value  # type: ignore[return-value]
    raise BadInput(field, f"must be one of {list(FORGET_KINDS)}, got {value!r}")


@dataclass(frozen=True)
class ForgetKind:
    """Result of :func:`detect_forget_kind`.

    Attributes
    ----------
    kind : str
        ``random``, ``class``, ``group`` or ``feature``.
    strata_columns : tuple of str
        Columns a membership attack should match members and non-members on.
    evidence : str
        One plain sentence saying why.
    declared : str or None
        The case file's ``[case] forget_kind``, if any.
    detected : str
        What the rows alone say (equal to ``kind`` unless declared otherwise).
    """

    kind: str
    strata_columns: tuple[str, ...]
    evidence: str
    declared: str | None = None
    detected: str = "random"

    def strata(self, frame: pd.DataFrame) -> np.ndarray:
        """Stratum label of every row of ``frame``, e.g. ``"label=3, district=A"``.

        Parameters
        ----------
        frame : DataFrame
            Rows with the strata columns.

        Returns
        -------
        ndarray of str
        """
        if not self.strata_columns:
            return np.full(len(frame), "all", dtype=object)
        parts = [f"{c}=" + frame[c].astype(str) for c in self.strata_columns]
        key = parts[0]
        for p in parts[1:]:
            key = key + ", " + p
        return key.to_numpy(dtype=object)


@dataclass(frozen=True)
class _Value:
    column: str
    value: object
    n_forget: int
    n_train: int
    tail: float

    @property
    def share(self) -> float:
        return self.n_forget / self.n_train

    @property
    def plausible(self) -> bool:  # removal of this value, not chance
        return self.tail <= NOT_BY_CHANCE


def _values(forget: pd.DataFrame, retain: pd.DataFrame, column: str, rate: float) -> list[_Value]:
    nf = forget[column].value_counts(dropna=False)
    nt = pd.concat([forget[column], retain[column]]).value_counts(dropna=False)
    out = []
    for v, k in nf.items():
        n = int(nt[v])
        out.append(_Value(column, v, int(k), n, float(stats.binom.sf(int(k) - 1, n, rate))))
    return sorted(out, key=lambda x: (-x.share, -x.n_forget, str(x.value)))


def _name(v: _Value, label: str) -> str:
    return f"class {v.value}" if v.column == label else f"{v.column} = {v.value}"


def _sentence(v: _Value, label: str) -> str:
    if v.n_forget == v.n_train and v.column == label:
        return f"{_name(v, label)}: all {v.n_train} training rows are in the forget set"
    if v.n_forget == v.n_train:
        return f"{_name(v, label)}: all {v.n_train} rows of this value are forgotten"
    return (f"{_name(v, label)}: {100 * v.share:.0f} % of its {v.n_train} training rows "
            f"are in the forget set")


def _classify(labels: list[_Value], groups: list[_Value], label: str, rate: float) -> tuple[str, str]:
    full_label = [v for v in labels if v.plausible and v.n_forget == v.n_train]
    full_group = [v for v in groups if v.plausible and v.n_forget == v.n_train]
    most_label = [v for v in labels if v.plausible and v.share >= MOSTLY]
    for kind, hits in (("class", full_label), ("group", full_group), ("class", most_label)):
        if hits:
            return kind, "; ".join(_sentence(v, label) for v in hits[:3]) + (
                f" (and {len(hits) - 3} more)" if len(hits) > 3 else "")
    top = max(labels + groups, key=lambda v: v.share, default=None)
    largest = f"; largest share: {_sentence(top, label)}" if top is not None else ""
    return "random", (f"no label or group value is concentrated in the forget set "
                      f"(forget rate {100 * rate:.1f} % of the training rows{largest})")


def detect_forget_kind(
    case: AuditCase | None = None,
    *,
    forget: pd.DataFrame | None = None,
    retain: pd.DataFrame | None = None,
    label: str = "label",
    groups: Sequence[str] = (),
    declared: str | None = None,
    task: str = "classification",
) -> ForgetKind:
    """Detect the forget kind from a case, or from its forget and retain rows.

    Parameters
    ----------
    case : AuditCase, optional
        Uses ``case.frame("forget")``, ``case.frame("retain")``, ``case.label``,
        ``case.groups`` and ``case.forget_kind``; the keywords below are then ignored.
    forget, retain : DataFrame
        The forget and retain rows (training rows = both), when no case is given.
    label : str
        The label column.
    groups : sequence of str
        Group columns (e.g. district) whose values may have been removed whole.
    declared : str, optional
        A declared kind (``[case] forget_kind``); it wins over detection.
    task : str
        ``"regression"``: the label is a continuous target, neither a class to detect nor a
        stratum (only group columns are).

    Returns
    -------
    ForgetKind

    Examples
    --------
    >>> f = pd.DataFrame({"label": [3] * 10, "district": ["A", "B"] * 5})
    >>> r = pd.DataFrame({"label": [0, 1] * 45, "district": ["A", "B"] * 45})
    >>> fk = detect_forget_kind(forget=f, retain=r, groups=["district"])
    >>> fk.kind, fk.strata_columns, fk.evidence
    ('class', ('label',), 'class 3: all 10 training rows are in the forget set')
    """
    if case is not None:
        forget, retain = case.frame("forget"), case.frame("retain")
        label, groups, declared = case.label, case.groups, getattr(case, "forget_kind", None)
        task = getattr(case, "task", "classification")
    if forget is None or retain is None:
        raise BadInput("case", "detect_forget_kind needs a case, or forget and retain rows")
    declared = validate_forget_kind(declared)
    if len(forget) == 0:
        raise BadInput("data.split", "no forget rows: nothing to classify")
    rate = len(forget) / (len(forget) + len(retain))
    labels = _values(forget, retain, label, rate) if task == "classification" else []
    by_group = {g: _values(forget, retain, g, rate) for g in groups}
    kind, evidence = _classify(labels, [v for vs in by_group.values() for v in vs], label, rate)
    strata = ((label,) if task == "classification" else ()) + tuple(
        g for g, vs in by_group.items() if any(v.plausible and v.share >= MOSTLY for v in vs))
    if declared is not None and declared != kind:
        evidence = f"declared in the case file as {declared}; the rows alone suggest {kind}: {evidence}"
    elif declared is not None:
        evidence = f"declared in the case file as {declared}, and the rows agree: {evidence}"
    return ForgetKind(declared or kind, tuple(strata), evidence, declared, kind)
