"""report.html: self-contained, executive summary first, one section per check, escaped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from typing import Any

import pytest

from reports import render_html
from tests.reports.fixtures import XSS, sample_results, with_verdict


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Collect:
    p = _Collect()
    p.feed(html)
    return p


def test_self_contained_no_scripts_no_external_resources(results: dict[str, Any]) -> None:
    html = render_html(results)
    p = _parse(html)
    names = {t for t, _ in p.tags}
    assert "script" not in names and "link" not in names and "img" not in names and "iframe" not in names
    for _, attrs in p.tags:
        for k in ("src", "href"):
            v = attrs.get(k)
            assert v is None or v.startswith("#"), f"external reference {k}={v!r}"
    assert "url(" not in html and "@import" not in html and "http://" not in html.replace(
        "http://www.w3.org/2000/svg", "")
    assert "https://" not in html
    assert "default-src 'none'" in html  # a CSP forbids any fetch even if a template is changed


def test_executive_summary_comes_first_with_the_facts(results: dict[str, Any]) -> None:
    html = render_html(results)
    summary = html.index('id="summary"')
    assert summary < html.index('id="check-membership_inference"') < html.index('id="method"')
    head = html[summary:html.index('id="check-')]
    for needle in ("FAIL", "REQ-2026-0042", "40 rows", "2026-11-23T08:00:00+00:00",
                   "2026-11-23T08:01:00+00:00", "unlearn-audit 0.1.0", "District A withdrawal"):
        assert needle in head, needle
    assert html.index('id="method"') < html.index('id="limitations"') < html.index('id="environment"')


def test_one_section_per_check_with_metric_table(results: dict[str, Any]) -> None:
    html = render_html(results)
    for c in results["checks"]:
        assert html.count(f'<section class="check" id="check-{c["id"]}">') == 1
    section = html[html.index('id="check-output_divergence"'):html.index('id="check-parameter_distance"')]
    # value, CI, reference, reference CI, delta CI, margin, status, n, n_to_settle
    for needle in (">0.02<", "[0.01, 0.05]", ">0.018<", "[0.01, 0.03]", "[-0.02, 0.04]", "±0.03",
                   "inconclusive", ">40<", ">260 rows<", "CI upper end above margin"):
        assert needle in section, needle
    findings = html[html.index('id="check-subgroup_shift"'):html.index('id="check-output_divergence"')]
    for needle in ("0.0004", "0.0012", "exact_mcnemar", "home_language = fr, district = B"):
        assert needle in findings, needle


def test_hashes_seed_and_environment_listed(results: dict[str, Any]) -> None:
    html = render_html(results)
    env = html[html.index('id="environment"'):]
    for m in (results["models"]["original"], results["models"]["unlearned"], *results["models"]["retrained"]):
        assert m["sha256"] in env
    assert results["data"]["sha256"] in env and "3.11.9" in env


def test_group_value_script_renders_as_text(results: dict[str, Any]) -> None:
    html = render_html(results)
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    text = "".join(_parse(html).text)
    assert XSS in text  # the reader sees the literal value


def test_every_figure_is_inline_well_formed_svg(results: dict[str, Any]) -> None:
    html = render_html(results)
    svgs = re.findall(r"<svg .*?</svg>", html, flags=re.S)
    assert len(svgs) == sum(len(c["figures"]) for c in results["checks"]) == 3
    for s in svgs:
        ET.fromstring(s)


@pytest.mark.parametrize(("verdict", "phrase"), [
    ("pass", "behaves like a model retrained without the data."),
    ("fail", "does not behave like a model retrained without the data"),
    ("inconclusive", "The audit could not decide, because"),
    ("error", "The audit could not decide, because a check stopped with an error."),
])
def test_verdict_sentence_follows_the_verdict(verdict: str, phrase: str) -> None:
    html = render_html(with_verdict(sample_results(), verdict))
    assert phrase in html[html.index('<section id="summary"'):html.index('<section id="overview"')]


def test_rendering_is_deterministic(results: dict[str, Any]) -> None:
    assert render_html(results) == render_html(sample_results())


def test_missing_field_fails_loudly(results: dict[str, Any]) -> None:
    from jinja2 import UndefinedError

    del results["case"]["request_id"]
    with pytest.raises(UndefinedError):
        render_html(results)
