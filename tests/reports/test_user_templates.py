"""User templates (--template DIR) run sandboxed, override by name, fall back otherwise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jinja2.exceptions import SecurityError, UndefinedError

from audit.shared.errors import BadInput
from reports import environment, render_html, render_markdown, verify_pack, write_pack
from tests.reports.fixtures import XSS, sample_results


def test_user_template_overrides_by_name_and_falls_back(tmp_path: Path) -> None:
    d = tmp_path / "t"
    d.mkdir()
    (d / "report.md.j2").write_text("Custom: {{ r.case.name }} → {{ r.verdict | upper }} ({{ r.checks | length }})\n")
    env = environment(d)
    assert render_markdown(sample_results(), env) == "Custom: District A withdrawal → FAIL (4)\n"
    assert render_html(sample_results(), env) == render_html(sample_results())  # built-in fallback


def test_user_html_template_is_autoescaped(tmp_path: Path) -> None:
    d = tmp_path / "t"
    d.mkdir()
    (d / "report.html.j2").write_text("<p>{{ r.checks[1].findings[0].slice.home_language }}</p>")
    out = render_html(sample_results(), environment(d))
    assert out == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>" and XSS not in out


@pytest.mark.parametrize("payload", [
    "{{ r.__class__.__mro__[1].__subclasses__() }}",
    "{{ ''.__class__.__base__.__subclasses__() }}",
    "{{ r.case.name.__class__.__init__.__globals__ }}",
])
def test_user_templates_are_sandboxed(tmp_path: Path, payload: str) -> None:
    d = tmp_path / "t"
    d.mkdir()
    (d / "report.md.j2").write_text(payload)
    with pytest.raises((SecurityError, UndefinedError)):
        render_markdown(sample_results(), environment(d))


def test_pack_with_user_templates_records_them_and_verifies(tmp_path: Path) -> None:
    d = tmp_path / "t"
    d.mkdir()
    (d / "report.md.j2").write_text("verdict {{ r.verdict }}\n")
    pack = write_pack(sample_results(), tmp_path / "pack", template_dir=d, pdf=False)
    assert (pack / "report.md").read_text() == "verdict fail\n"
    templates = json.loads((pack / "manifest.json").read_text())["templates"]
    assert templates["source"] == "user" and templates["dir"] == "templates"
    assert (pack / "templates" / "report.md.j2").read_text() == "verdict {{ r.verdict }}\n"
    assert verify_pack(pack) == []


def test_missing_template_dir_is_bad_input_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="--template"):
        write_pack(sample_results(), tmp_path / "pack", template_dir=tmp_path / "nope")
    assert list(tmp_path.iterdir()) == []


def test_broken_user_template_writes_nothing(tmp_path: Path) -> None:
    d = tmp_path / "t"
    d.mkdir()
    (d / "junit.xml.j2").write_text("{{ r.no_such_field }}")
    with pytest.raises(UndefinedError):
        write_pack(sample_results(), tmp_path / "pack", template_dir=d, pdf=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t"]
