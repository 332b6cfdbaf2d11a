"""Hostile names in every view: junit.xml stays XML 1.0, report.md and report.html keep their shape."""

from __future__ import annotations

import copy
import xml.dom.minidom
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from reports import SchemaError, render_html, render_junit, render_markdown, write_pack
from tests.reports.fixtures import sample_results

HOSTILE = "# *b* _i_ [l](http://x) ![i](y) `c` <b>x</b> | \\ ~~s~~ &amp; \x00\x1b\ufffe\ud800\n- item\n1. one"
_BASE = sample_results()
_any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
_hostile_text = st.text(st.sampled_from(list("*_[]()#|<>`\\!~-+=.1 \n\r\tab&;")), min_size=1, max_size=30)


def _named(name: str) -> dict[str, Any]:
    """The sample results with ``name`` as case name, request id, group column and value, metric,
    summary, finding message and missing item."""
    r = copy.deepcopy(_BASE)
    r["case"]["name"] = r["case"]["request_id"] = name
    for c in r["checks"]:
        c["summary"] = name
        c["missing"] = [name]
        for m in c["metrics"]:
            m["name"] = name
        for f in c["findings"]:
            f["slice"] = {name: name}
            f["message"] = name
    return r


def _md_structure(md: str) -> list[str]:
    """Token types of a Markdown document, ignoring plain text and escapes."""
    parser = MarkdownIt("commonmark").enable("table")
    out = []
    for tok in parser.parse(md):
        out.append(tok.type)
        out += [c.type for c in tok.children or [] if c.type not in ("text", "text_special", "softbreak")]
    return out


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)


def _html_tags(html: str) -> list[str]:
    p = _Tags()
    p.feed(html)
    return p.tags


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=_any_text)
def test_junit_is_well_formed_xml_whatever_the_names(name: str) -> None:
    r = _named(name)
    text = render_junit(r)
    root = ET.fromstring(text.encode("utf-8"))
    xml.dom.minidom.parseString(text.encode("utf-8"))
    assert len(list(root.iter("testcase"))) == len(r["checks"])


def test_junit_replaces_characters_xml_forbids() -> None:
    text = render_junit(_named("a\x00b\x1bc\ufffed\ud800e\tf"))
    suite = ET.fromstring(text.encode("utf-8")).find("testsuite")
    assert suite is not None and suite.get("name") == "a\ufffdb\ufffdc\ufffdd\ufffde f"  # tab: attribute normalisation


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=_hostile_text)
def test_markdown_names_cannot_add_structure(name: str) -> None:
    assert _md_structure(render_markdown(_named(name))) == _md_structure(render_markdown(_named("x")))


def test_markdown_escapes_a_hostile_name() -> None:
    md = render_markdown(_named(HOSTILE))
    assert md.startswith("# Unlearning audit — \\# \\*b\\* \\_i\\_ \\[l\\](http://x)")
    assert "<b>" not in md and "\x00" not in md
    assert _md_structure(md) == _md_structure(render_markdown(_named("x")))


def test_html_is_autoescaped_with_hostile_names() -> None:
    html = render_html(_named(HOSTILE))
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html and "\x00" not in html
    assert _html_tags(html) == _html_tags(render_html(_named("x")))


def test_results_that_cannot_be_utf8_json_write_nothing(tmp_path: Path) -> None:
    for bad in ("\ud800", float("nan")):
        r = copy.deepcopy(_BASE)
        r["checks"][0]["metrics"][0]["value" if isinstance(bad, float) else "name"] = bad
        with pytest.raises(SchemaError, match="results.json invalid"):
            write_pack(r, tmp_path / "pack", pdf=False)
    assert list(tmp_path.iterdir()) == []


NAMES = "R&D <b>x</b> *a* _b_ | #1 [c] `d` &amp; \\ z"


def _heading_text(md: str) -> str:
    """The text a Markdown viewer shows for the report's first heading."""
    tokens = MarkdownIt("commonmark").enable("table").parse(md)
    inline = next(t for i, t in enumerate(tokens) if i and tokens[i - 1].type == "heading_open")
    return "".join(c.content for c in inline.children or [] if c.type in ("text", "text_special", "code_inline"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=_hostile_text)
def test_markdown_text_reads_back_as_written(name: str) -> None:
    """Escaping is exact: a viewer shows the name as written, never an entity or a lost character."""
    want = " ".join(name.replace("\r\n", "\n").replace("\r", "\n").split("\n")).strip(" \t") or "—"
    got = _heading_text(render_markdown(_named(name)))
    assert got.removeprefix("Unlearning audit — ").strip(" \t") == want.strip(" \t")


def test_ampersand_and_friends_in_group_and_column_names_every_format() -> None:
    """Group and column names with & < > * _ | # [ ] ` read back as written in md, html and junit."""
    r = copy.deepcopy(_BASE)
    r["case"]["name"] = NAMES
    for c in r["checks"]:
        for f in c["findings"]:
            f["slice"] = {NAMES: NAMES}
        for t in c["tables"]:
            t["columns"] = [NAMES] + t["columns"][1:]
    md = render_markdown(r)
    assert "&amp;amp;" not in md and "R&D" in md and "R&amp;D" not in md  # not escaped twice, not as HTML
    html_text = MarkdownIt("commonmark").enable("table").render(md)
    assert f"{NAMES} = {NAMES}".replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in html_text
    assert _heading_text(md) == f"Unlearning audit — {NAMES}"
    page = render_html(r)
    assert NAMES.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in page
    assert "&amp;amp;amp;" not in page and "<b>x</b>" not in page
    root = ET.fromstring(render_junit(r).encode("utf-8"))
    assert root.find("testsuite").get("name") == NAMES
