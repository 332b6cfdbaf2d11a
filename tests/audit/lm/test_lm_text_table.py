"""The text table's rules, each refusal naming its [data] field."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit.core.limits import limits_of
from audit.lm.text_data import TextColumns, validate_text_table
from audit.shared.errors import BadInput

QA = TextColumns("text", "q", "a", "wrong")


def _df(**cols):
    base = {"text": ["a b", "c d", "e f"], "split": ["forget", "retain", "test"], "q": ["q1", None, "q3"],
            "a": ["a1", None, "a3"], "wrong": [["x"], None, np.array(["y", "z"])]}
    return pd.DataFrame({**base, **cols})


def test_rows_without_a_question_are_allowed_and_wrong_answers_become_lists():
    out = validate_text_table(_df(), QA, "split", [], None, limits_of())
    assert out["wrong"].tolist() == [["x"], [], ["y", "z"]]


@pytest.mark.parametrize(("cols", "columns", "message"), [
    ({"q": ["q1", "q2", "q3"]}, QA, "data.answer: row 1 has a question but no answer"),
    ({"wrong": [["x"], None, []]}, QA, "data.perturbed: row 2 has an answer but no wrong answers"),
    ({"wrong": [["x"], ["y"], ["z"]]}, QA, "data.perturbed: row 1 has wrong answers but no answer"),
    ({"wrong": [["x"], None, "oops"]}, QA, "data.perturbed: row 2: not a JSON array"),
    ({"wrong": [["x"], None, 7]}, QA, "data.perturbed: row 2: expected a list of wrong answers"),
    ({}, TextColumns("text", "q", None), "data.answer: data.question is declared without data.answer"),
    ({}, TextColumns("text", None, None, "wrong"), "data.perturbed: wrong answers need"),
    ({}, TextColumns("body"), "data.text: column 'body' not in the data"),
    ({"text": ["a b", " ", "e f"]}, QA, "data.text: row 1: 'text' is empty"),
    ({"split": ["forget", "retain", "retain"]}, QA, "data.split: the test split is empty"),
    ({}, TextColumns("split"), "data.text: ['split'] cannot be both a text column"),
])
def test_bad_tables_name_the_field(cols, columns, message):
    with pytest.raises(BadInput, match=message.replace("[", r"\[").replace("]", r"\]")):
        validate_text_table(_df(**cols), columns, "split", [], None, limits_of())
