"""``benchmarks.run --write FILE --only SECTION``: that section rewritten in place, one title kept."""

from __future__ import annotations

import sys
import types
from datetime import UTC, datetime
from pathlib import Path

import pytest

import benchmarks.run as bench_run
from benchmarks.run import MEASURED, TITLE, measured_line, merge, split_file

STITCHED = f"""{TITLE}

{MEASURED} (`python -m benchmarks.run --write BENCHMARKS.md`) on 2026-01-05: x86_64, 2 cores, Python 3.11.7.

A note written by hand about the run.

## alpha

| measurement | value | unit | note |
|---|---:|---|---|
| a | 1 | s | kept |

## fake

| measurement | value | unit | note |
|---|---:|---|---|
| old | 9 | s | to be replaced |
{TITLE}

{MEASURED} (`python -m benchmarks.run --write BENCHMARKS.md`) on 2026-01-05: x86_64, 2 cores, Python 3.11.7.

## zeta

| measurement | value | unit | note |
|---|---:|---|---|
| z | 3 | ms | kept |
"""


@pytest.fixture()
def fake_bench(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``benchmarks.bench_fake`` module measuring one row, the only module ``main`` runs."""
    mod = types.ModuleType("benchmarks.bench_fake")
    mod.run = lambda: [{"name": "new", "value": 2.0, "unit": "s", "note": "fresh"}]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "benchmarks.bench_fake", mod)
    monkeypatch.setattr(bench_run, "_modules", lambda only: ["bench_fake"])


def test_only_rewrites_its_section_under_one_title(fake_bench: None, tmp_path: Path) -> None:
    path = tmp_path / "BENCHMARKS.md"
    path.write_text(STITCHED, encoding="utf-8")
    assert bench_run.main(["--write", str(path), "--only", "fake"]) == 0
    text = path.read_text("utf-8")
    today = str(datetime.now(UTC).date())
    assert text.splitlines().count(TITLE) == 1 and text.startswith(TITLE + "\n\n" + MEASURED)
    measured = [line for line in text.splitlines() if line.startswith(MEASURED)]
    assert measured == [measured_line("2026-01-05", {"fake": today})]
    assert "A note written by hand about the run." in text
    preamble, sections = split_file(text)
    assert list(sections) == ["alpha", "fake", "zeta"]
    old = split_file(STITCHED)[1]
    assert sections["alpha"] == old["alpha"] and sections["zeta"] == old["zeta"]
    assert "| new | 2 | s | fresh |" in sections["fake"] and "to be replaced" not in text


def test_reruns_accumulate_and_a_full_run_starts_afresh() -> None:
    once = merge(STITCHED, {"fake": "## fake\n\nv1"}, "2026-02-01")
    twice = merge(once, {"zeta": "## zeta\n\nv2"}, "2026-02-03")
    again = merge(twice, {"fake": "## fake\n\nv3"}, "2026-02-09")
    line = next(x for x in again.splitlines() if x.startswith(MEASURED))
    assert line == measured_line("2026-01-05", {"fake": "2026-02-09", "zeta": "2026-02-03"})
    assert "fake on 2026-02-09, zeta on 2026-02-03" in line
    assert split_file(again)[1] == {"alpha": split_file(STITCHED)[1]["alpha"], "fake": "## fake\n\nv3",
                                    "zeta": "## zeta\n\nv2"}
    fresh = merge(None, {"zeta": "## zeta\n\nz", "fake": "## fake\n\nf"}, "2026-03-01")
    assert fresh == f"{TITLE}\n\n{measured_line('2026-03-01')}\n\n## fake\n\nf\n\n## zeta\n\nz\n"


def test_without_only_the_file_is_written_whole(fake_bench: None, tmp_path: Path) -> None:
    path = tmp_path / "BENCHMARKS.md"
    path.write_text(STITCHED, encoding="utf-8")
    bench_run.main(["--write", str(path)])
    _, sections = split_file(path.read_text("utf-8"))
    assert list(sections) == ["fake"] and "A note written by hand" not in path.read_text("utf-8")
