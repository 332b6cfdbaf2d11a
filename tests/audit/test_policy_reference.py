"""README's policy reference table is the one generated from the declarations."""

from __future__ import annotations

from pathlib import Path

from audit.engine.policy_table import reference_table

README = Path(__file__).resolve().parents[2] / "README.md"
START, END = "<!-- policy-reference:start -->\n", "<!-- policy-reference:end -->"


def test_readme_policy_table_matches_the_declarations() -> None:
    text = README.read_text("utf-8")
    table = text[text.index(START) + len(START):text.index(END)]
    assert table == reference_table(), (
        "README policy table is stale; regenerate it with "
        "python -c 'from audit.engine.policy_table import reference_table; print(reference_table())'")
