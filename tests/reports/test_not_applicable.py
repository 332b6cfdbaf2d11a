"""Checks that do not apply to the case's task: kept in results.json, one line in the reports.

A tabular case lists the five language-model checks as skipped, a language-model case the
tabular ones; each carries ``not_applicable`` (the case's task and the check's own tasks),
and the HTML / Markdown reports name them in one line instead of a row and a section each.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from audit.checks import registry
from audit.engine.runner import _unsupported
from reports import render_html, render_markdown, validate_results
from tests.reports.fixtures import sample_results

LM_CHECKS = ("lm_utility", "lm_divergence", "verbatim_memorisation", "knowledge_probe", "sequence_membership")
DATA = Path(__file__).parent / "data"


def _row(cid: str) -> str:
    """A check-table row of ``cid`` in Markdown (underscores may be escaped)."""
    return r"^\| " + cid.replace("_", r"\\?_") + r" \|"


def _tabular_with_lm_checks() -> dict:
    r = sample_results("fail")
    r["checks"] += [_unsupported(registry()[cid], "classification", False) for cid in LM_CHECKS]
    return r


def test_the_runner_marks_a_check_of_another_task() -> None:
    na = _unsupported(registry()["sequence_membership"], "classification", True)
    assert na["status"] == "skipped"
    assert na["not_applicable"] == {"task": "classification", "tasks": ["language_model"]}
    validate_results(_tabular_with_lm_checks())  # the schema takes the new field


def test_markdown_folds_them_into_one_line() -> None:
    md = render_markdown(_tabular_with_lm_checks())
    for cid in LM_CHECKS:
        assert not re.search(_row(cid), md, re.M), cid  # no row in the check table
        assert f"## {registry()[cid].title} — skipped" not in md  # no section either
    line = next(ln for ln in md.splitlines() if ln.startswith("Not applicable to this task"))
    assert line.startswith("Not applicable to this task (classification): ")
    assert all(cid.replace("_", r"\_") in line or cid in line for cid in LM_CHECKS)
    assert re.search(_row("membership_inference"), md, re.M)  # the applicable checks keep their rows


def test_html_folds_them_into_one_line() -> None:
    html = render_html(_tabular_with_lm_checks())
    for cid in LM_CHECKS:
        assert f'id="check-{cid}"' not in html and f'href="#check-{cid}"' not in html
    folded = re.search(r'<p class="muted" id="not-applicable">(.*?)</p>', html).group(1)
    assert folded.startswith("Not applicable to this task (classification): ")
    assert all(cid in folded for cid in LM_CHECKS)
    assert 'id="check-membership_inference"' in html


def test_a_language_model_case_folds_the_tabular_checks() -> None:
    r = json.loads((DATA / "tiny-lm-fail.results.json").read_text("utf-8"))
    tabular = [c["id"] for c in r["checks"] if c.get("not_applicable")]
    assert "utility" in tabular and "membership_inference" in tabular
    md, html = render_markdown(r), render_html(r)
    for cid in tabular:
        assert not re.search(_row(cid), md, re.M), cid
        assert f'id="check-{cid}"' not in html
    assert "Not applicable to this task (language model): " in md
    assert re.search(_row("sequence_membership"), md, re.M)


def test_without_the_field_every_check_is_a_row() -> None:
    r = _tabular_with_lm_checks()
    for c in r["checks"]:
        c.pop("not_applicable", None)  # a results.json written before the field existed
    md = render_markdown(r)
    assert "Not applicable to this task" not in md
    assert re.search(_row("lm_utility"), md, re.M)
    assert f"## {registry()['lm_utility'].title} — skipped" in md
