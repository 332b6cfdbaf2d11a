"""Stream cases: every bad request is bad input naming ``requests[i].<field>``, exit 2, nothing written."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from audit.cli.app import app
from audit.engine.stream import Request, StreamCase, load_stream_case
from audit.shared.errors import BadInput


def _f(X: np.ndarray) -> np.ndarray:
    return np.c_[np.zeros(len(X)), X[:, 0]]


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    split = ["req-1"] * 10 + ["req-2"] * 10 + ["retain"] * 40 + ["test"] * 30
    return pd.DataFrame({"x": rng.normal(size=90), "label": rng.integers(0, 2, 90), "split": split,
                         "uid": [f"u{i}" for i in range(90)]})


@pytest.mark.parametrize("requests, field, words", [
    ([], "requests", "at least one"),
    ([Request("req-3", _f, [_f])], "requests[1].forget", "marks no rows"),
    ([Request("req-1", _f, [_f]), Request("req-1", _f, [_f])], "requests[2].forget", "already removed"),
    ([Request("test", _f, [_f])], "requests[1].forget", "cannot be a request"),
    ([Request(["u70"], _f, [_f])], "requests[1].forget", "test rows"),
    ([Request(["nobody"], _f, [_f])], "requests[1].forget", "not in the data"),
    ([Request(3, _f, [_f])], "requests[1].forget", "split value"),
    ([Request("req-1", _f, []), Request("req-2", _f, [_f])], "requests[1].retrained", "cumulative retain"),
    ([Request("req-1", _f, [_f]), Request("req-2", lambda X: np.zeros((len(X), 3)), [_f])],
     "requests[2]", "requests[2].unlearned=3"),
    ([Request("req-1", _f, [_f], id="A"), Request("req-2", _f, [_f], id="A")], "requests[2].id", "twice"),
])
def test_bad_request_names_its_field(requests: list, field: str, words: str) -> None:
    with pytest.raises(BadInput) as err:
        StreamCase(_f, requests, _frame(), id="uid")
    assert err.value.field == field
    assert words in err.value.message


def test_split_value_no_request_claims_is_bad_input() -> None:
    with pytest.raises(BadInput) as err:
        StreamCase(_f, [Request("req-1", _f, [_f])], _frame())
    assert err.value.field == "data.split" and "req-2" in err.value.message


def _write(stream_dir: Path, tmp_path: Path, edit) -> Path:  # noqa: ANN001
    text = edit((stream_dir / "case.toml").read_text("utf-8"))
    case = stream_dir / f"bad-{abs(hash(text)) % 10**8}.toml"  # beside the models (relative paths)
    case.write_text(text, encoding="utf-8")
    return case


@pytest.mark.parametrize("edit, field", [
    (lambda t: t.replace('unlearned = "unlearned-02.pt"', 'unlearned = "missing.pt"'), "requests[2].unlearned"),
    (lambda t: t.replace('"retrained-01-1.pt"', '"missing.pt"', 1), "requests[1].retrained[1]"),
    (lambda t: t.replace('forget = "req-02"\n', 'forget = "req-02"\ncolour = "red"\n'), "requests[2].colour"),
    (lambda t: re.sub(r'forget = "req-01"\n', "", t), "requests[1].forget"),
    (lambda t: t.replace('[models]\noriginal = "original.pt"', '[models]\noriginal = "original.pt"\n'
                         'unlearned = "unlearned-01.pt"'), "models.unlearned"),
    (lambda t: t.replace('id = "REQ-01"', "id = 7"), "requests[1].id"),
])
def test_bad_request_in_a_case_file_exits_2_and_writes_nothing(stream_dir: Path, tmp_path: Path, edit,  # noqa: ANN001
                                                              field: str) -> None:
    case = _write(stream_dir, tmp_path, edit)
    with pytest.raises(BadInput) as err:
        load_stream_case(case)
    assert err.value.field == field
    out = tmp_path / "pack"
    res = CliRunner().invoke(app, ["run", str(case), "--out", str(out), "--no-pdf", "-q"])
    assert res.exit_code == 2, res.output
    assert field in res.output
    assert not out.exists()
