"""One home per idea, for the ideas the code used to repeat (issue 14): the source is searched."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {p.relative_to(ROOT).as_posix(): p.read_text("utf-8")
           for pkg in ("audit", "attacks", "reports") for p in (ROOT / pkg).rglob("*.py")}

#: (what, a pattern that only its home may use, the home)
HOMES = [
    ("ROC AUC", r"roc_auc_score\(", "attacks/metrics.py"),
    ("the file digest", r"def (file_sha256|sha256_file)\(", "audit/shared/digest.py"),
    ("the torch training loop over minibatches", r"def train_steps\(", "audit/training/loop.py"),
    ("per-row divergences", r"def row_divergences\(", "audit/core/divergence.py"),
]


@pytest.mark.parametrize("what, pattern, home", HOMES, ids=[h[0] for h in HOMES])
def test_only_its_home_uses_it(what: str, pattern: str, home: str | set[str]) -> None:
    homes = {home} if isinstance(home, str) else home
    found = {path for path, src in SOURCES.items() if re.search(pattern, src)}
    assert found <= homes, f"{what} outside its home {sorted(homes)}: {sorted(found - homes)}"
    assert found, f"{what}: the pattern matches nothing (the test would pass vacuously)"
