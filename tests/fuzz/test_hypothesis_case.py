"""Hypothesis: ``load_case`` on any TOML document either loads or raises ``BadInput``."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit.core.case_file import CASE_KEYS, load_case
from audit.shared.errors import BadInput
from tests.fuzz.base import CASE_TOML

_FILES = ["original.skops", "unlearned.skops", "retrained-0.skops", "data.csv", "case.toml",
          "../data.csv", "/etc/passwd", "/dev/zero", ".", ""]
_COLUMNS = ["label", "split", "school", "row_id", "f0", "px00", "nope"]
_SCALARS = st.one_of(
    st.sampled_from([*_FILES, *_COLUMNS, "sklearn", "torch-mlp", "os:system", "random", "class"]),
    st.booleans(), st.integers(-3, 70), st.integers(), st.floats(allow_nan=True), st.text(max_size=12),
)
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(
        ["path", "format", "architecture", "kwargs", "x"]), inner, max_size=3)), max_leaves=6)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"


@st.composite
def _documents(draw: st.DrawFn) -> str:
    """A structured case: the declared sections and keys (and some strays), any values."""
    lines = []
    for section in draw(st.lists(st.sampled_from([*CASE_KEYS, "extra"]), max_size=6, unique=True)):
        lines.append(f"[{section}]")
        keys = sorted(CASE_KEYS.get(section) or {"x"}) + ["stray"]
        for key in draw(st.lists(st.sampled_from(keys), max_size=5, unique=True)):
            lines.append(f"{json.dumps(key)} = {_toml_value(draw(_VALUES))}")
    return "\n".join(lines) + "\n"


@st.composite
def _mutated_base(draw: st.DrawFn) -> str:
    """The valid case text with a few characters inserted, deleted or replaced."""
    text = CASE_TOML
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.text(alphabet=st.sampled_from('[]{}"=,.\n#\\ x0-'), min_size=1, max_size=3))
        text = (text[:i] + piece + text[i:] if op == "insert" else
                text[:i] + text[i + 1:] if op == "delete" else text[:i] + piece + text[i + 1:])
    return text


@pytest.fixture(scope="module")
def case_dir(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(shutil.copytree(tiny_dir, tmp_path_factory.mktemp("hyp") / "case"))


def _load(case_dir: Path, text: str) -> None:
    (case_dir / "case.toml").write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        load_case(case_dir / "case.toml")
    except BadInput as exc:
        assert exc.field and exc.message


@given(_documents())
def test_hypothesis_structured_case(case_dir: Path, doc: str) -> None:
    _load(case_dir, doc)


@given(_mutated_base())
def test_hypothesis_mutated_case_text(case_dir: Path, text: str) -> None:
    _load(case_dir, text)


@given(st.text(max_size=200))
def test_hypothesis_arbitrary_case_text(case_dir: Path, text: str) -> None:
    _load(case_dir, text)
