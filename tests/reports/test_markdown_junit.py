"""report.md and junit.xml: rendered from results, statuses mapped for CI systems."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest
from markdown_it import MarkdownIt

from reports import render_junit, render_markdown
from tests.reports.fixtures import XSS


def test_junit_one_testcase_per_check_with_status_mapping(results: dict[str, Any]) -> None:
    results["checks"][3]["required"] = True
    results["checks"].append(dict(results["checks"][0], id="utility", status="error",
                                  summary="The check could not run: boom"))
    root = ET.fromstring(render_junit(results).encode("utf-8"))
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert list(cases) == [c["id"] for c in results["checks"]]
    expected = {"membership_inference": None, "subgroup_shift": "failure",
                "output_divergence": "failure", "parameter_distance": "skipped", "utility": "failure"}
    for name, kind in expected.items():
        children = {child.tag for child in cases[name]} - {"system-out"}
        assert children == ({kind} if kind else set()), name
    assert cases["output_divergence"].find("failure").get("type") == "inconclusive"
    assert cases["utility"].find("failure").get("type") == "error"
    suite = root.find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("5", "3", "1")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["verdict"] == "fail" and props["request_id"] == "REQ-2026-0042"


def test_junit_failure_names_the_failing_metric(results: dict[str, Any]) -> None:
    root = ET.fromstring(render_junit(results).encode("utf-8"))
    case = next(c for c in root.iter("testcase") if c.get("name") == "subgroup_shift")
    text = case.find("failure").text
    assert "max_group_drop" in text and "[-0.2, -0.05]" in text and "0.03" in text


def test_junit_escapes_untrusted_text(results: dict[str, Any]) -> None:
    results["checks"][1]["summary"] = f'group {XSS} & "quotes"'
    root = ET.fromstring(render_junit(results).encode("utf-8"))
    case = next(c for c in root.iter("testcase") if c.get("name") == "subgroup_shift")
    assert XSS in case.find("failure").get("message")


@pytest.mark.parametrize("verdict", ["pass", "fail", "inconclusive"])
def test_markdown_states_verdict_and_tables(results: dict[str, Any], verdict: str) -> None:
    results["verdict"] = verdict
    md = render_markdown(results)
    assert md.startswith("# Unlearning audit — District A withdrawal")
    assert f"**Verdict: {verdict.upper()}**" in md
    assert r"| auc\[loss\] | forget\_vs\_test | 0.512 | [0.47, 0.55] | 0.505 | [-0.03, 0.04] | ±0.05 | pass | — | 400 | — |" in md


def test_markdown_cells_cannot_break_tables_or_inject_html(results: dict[str, Any]) -> None:
    results["checks"][1]["findings"][0]["slice"] = {"home_language": "a|b\n<script>x</script>"}
    md = render_markdown(results)
    assert md.count("<script") == md.count("\\<script") > 0  # only as an escaped, literal "<"
    assert "<script" not in MarkdownIt("commonmark").enable("table").render(md)
    row = next(line for line in md.splitlines() if "a\\|b" in line)
    assert row.count("|") - row.count("\\|") == 8  # 7 cells
