"""The text table of a language-model case: one row per text, with its split.

Read from Parquet, JSONL or CSV (:func:`audit.core.data.read_table`, within the case's limits).
Columns, named in ``[data]``:

* ``text`` (required) — the sequence the membership and divergence checks score;
* ``question`` / ``answer`` (optional, declared together) — a question about the row's fact and
  its correct answer; a row may have neither (a text without a question), never one alone;
* ``perturbed`` (optional, needs ``answer``) — wrong answers: a list column in Parquet, a JSON
  array in JSONL or in a CSV cell; every row with an answer has at least one;
* ``split`` (forget | retain | test), ``groups`` and ``id`` as in every case.

Every bad value is :class:`audit.shared.errors.BadInput` naming the ``[data]`` field and the first
offending row.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from audit.core.data import _require_column, check_rows
from audit.shared.errors import BadInput

__all__ = ["TextColumns", "validate_text_table"]


@dataclass(frozen=True)
class TextColumns:
    """The ``[data]`` column names of a language-model case.

    Attributes
    ----------
    text : str
        The column of the texts (required).
    question, answer : str, optional
        The question and correct-answer columns (declared together).
    perturbed : str, optional
        The wrong-answers column (needs ``answer``).

    Examples
    --------
    >>> TextColumns().text
    'text'
    >>> TextColumns(question="q", answer="a").names()
    ['text', 'q', 'a']
    """

    text: str = "text"
    question: str | None = None
    answer: str | None = None
    perturbed: str | None = None

    def names(self) -> list[str]:
        """The declared column names, in the order text, question, answer, perturbed.

        Returns
        -------
        list of str
            The names that are set (``None`` columns left out).
        """
        return [c for c in (self.text, self.question, self.answer, self.perturbed) if c]


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _strings(df: pd.DataFrame, column: str, field: str, optional: bool) -> np.ndarray:
    """Row mask of present values, after refusing values that are not non-empty strings."""
    present = np.array([not _missing(v) for v in df[column]], dtype=bool)
    if not optional and not present.all():
        raise BadInput(field, f"{int((~present).sum())} row(s) have no {column!r} value "
                       f"(first at row {int(np.flatnonzero(~present)[0])})")
    for i, v in enumerate(df[column]):
        if present[i] and not isinstance(v, str):
            raise BadInput(field, f"row {i}: {column!r} must be a string, got {type(v).__name__} {v!r:.40}")
        if present[i] and not v.strip():
            raise BadInput(field, f"row {i}: {column!r} is empty")
    return present


def _as_list(value: Any, row: int, field: str) -> list[str] | None:
    """A perturbed-answers cell as a list of strings (a JSON array in a string is parsed)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise BadInput(field, f"row {row}: not a JSON array of strings: {exc.msg}") from exc
    if _missing(value):
        return None
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        raise BadInput(field, f"row {row}: expected a list of wrong answers, got {type(value).__name__}")
    bad = [v for v in value if not isinstance(v, str) or not v.strip()]
    if bad:
        raise BadInput(field, f"row {row}: every wrong answer must be a non-empty string, got {bad[0]!r:.40}")
    return list(value)


def _perturbed(df: pd.DataFrame, column: str, has_answer: np.ndarray) -> list[list[str]]:
    field = "data.perturbed"
    out: list[list[str]] = []
    for i, value in enumerate(df[column]):
        items = _as_list(value, i, field)
        if has_answer[i] and not items:
            raise BadInput(field, f"row {i} has an answer but no wrong answers (an empty list)")
        if not has_answer[i] and items:
            raise BadInput(field, f"row {i} has wrong answers but no answer")
        out.append(items or [])
    return out


def validate_text_table(df: pd.DataFrame, columns: TextColumns, split: str, groups: list[str],
                        id_col: str | None, limits: Mapping[str, int]) -> pd.DataFrame:
    """Validate a language-model case's table; return it with ``perturbed`` as lists.

    Parameters
    ----------
    df : DataFrame
        The table as read.
    columns : TextColumns
        The declared text / question / answer / perturbed columns.
    split, groups, id_col : str, list of str, str or None
        As in every case (:func:`audit.core.data.check_rows`).
    limits : mapping
        The data limits in force (:func:`audit.core.limits.limits_of`).

    Returns
    -------
    DataFrame
        The validated table, index reset; the perturbed column (if any) holds Python lists.

    Examples
    --------
    >>> from audit.core.limits import limits_of
    >>> df = pd.DataFrame({"text": ["a b", "c d"], "split": ["forget", "test"]})
    >>> len(validate_text_table(df, TextColumns(), "split", [], None, limits_of()))
    2
    >>> validate_text_table(df.assign(text=["a", 3]), TextColumns(), "split", [], None, limits_of())
    Traceback (most recent call last):
    ...
    audit.shared.errors.BadInput: data.text: row 1: 'text' must be a string, got int 3
    """
    check_rows(df, split, groups, id_col, limits)
    df = df.reset_index(drop=True)
    _require_column(df, columns.text, "data.text")
    _strings(df, columns.text, "data.text", optional=False)
    if (columns.question is None) != (columns.answer is None):
        have, lack = ("question", "answer") if columns.question else ("answer", "question")
        raise BadInput(f"data.{lack}", f"data.{have} is declared without data.{lack}: they come as a pair")
    if columns.perturbed is not None and columns.answer is None:
        raise BadInput("data.perturbed", "wrong answers need data.question and data.answer")
    if columns.question is not None and columns.answer is not None:
        _require_column(df, columns.question, "data.question")
        _require_column(df, columns.answer, "data.answer")
        q = _strings(df, columns.question, "data.question", optional=True)
        a = _strings(df, columns.answer, "data.answer", optional=True)
        if (q != a).any():
            i = int(np.flatnonzero(q != a)[0])
            lack = "answer" if q[i] else "question"
            raise BadInput(f"data.{lack}", f"row {i} has a {'question' if q[i] else 'answer'} but no {lack}")
        if not q.any():
            raise BadInput("data.question", "no row has a question")
        if columns.perturbed is not None:
            _require_column(df, columns.perturbed, "data.perturbed")
            df = df.assign(**{columns.perturbed: pd.Series(_perturbed(df, columns.perturbed, a), dtype=object)})
    clash = sorted(set(columns.names()) & ({split} | ({id_col} if id_col else set()) | set(groups)))
    if clash:
        raise BadInput("data.text", f"{clash} cannot be both a text column and the split, id or a group")
    return df
