"""Views rendered from results.json with Jinja2: HTML, Markdown and JUnit XML.

The package's own templates run in an ordinary :class:`jinja2.Environment`
(``PackageLoader``, ``StrictUndefined``, autoescape for HTML and XML). Templates a
user supplies with ``template_dir`` run in a :class:`~jinja2.sandbox.SandboxedEnvironment`
with the same filters; a template missing from ``template_dir`` falls back to the
built-in one. Rendering is deterministic: same results dict, same bytes.

Every ``{{ expression }}`` of every view passes through :func:`xml_safe` (characters XML 1.0
forbids — C0 controls but tab / newline / carriage return, lone surrogates, U+FFFE / U+FFFF —
become U+FFFD) before autoescaping, so junit.xml stays well-formed whatever a group or case
is called; the ``md`` filter backslash-escapes Markdown syntax.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    select_autoescape,
)
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from audit.shared.errors import BadInput
from reports.glossary import QUESTIONS, terms_used, visible_text
from reports.summary import executive_summary, human
from reports.svg import render_figure

__all__ = ["VIEWS", "environment", "shipped_environment", "xml_safe", "render_html", "render_markdown", "render_junit", "render_view",
           "applicable_checks", "not_applicable_checks"]

#: output file name -> template name
VIEWS: dict[str, str] = {
    "report.html": "report.html.j2",
    "report.md": "report.md.j2",
    "junit.xml": "junit.xml.j2",
}
# Statuses a CI system must treat as a failed test case.
_FAILING = ("fail", "inconclusive", "error")


def _num(x: Any, digits: int = 4) -> str:
    if x is None:
        return "—"
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        return f"{x:.{digits}g}"
    return str(x)


def _interval(ci: Any) -> str:
    if not ci or all(v is None for v in ci):
        return "—"
    return f"[{_num(ci[0])}, {_num(ci[1])}]"


def _pvalue(p: Any) -> str:
    if p is None:
        return "—"
    return "< 0.0001" if p < 1e-4 else f"{p:.4f}"


def _slice(s: Any) -> str:
    if not s:
        return "(all rows)"
    return ", ".join(f"{k} = {v}" for k, v in s.items())


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Inline syntax: code, emphasis, links and images (their brackets), tables, strikethrough, raw
# HTML and autolinks, headings, and an "&" that would start an entity. Parentheses need no
# escape once brackets have one.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|~<>]|&(?=#?[0-9A-Za-z]+;))")
# Block starts: "- x", "+ x", "= x" (setext), "1. x" / "1) x" (ordered lists).
_MD_BLOCK_START = re.compile(r"^(?:(\d{1,9})([.)])(?=\s|$)|()([-+=]))")


def xml_safe(x: Any) -> Any:
    r"""Replace the characters XML 1.0 forbids by U+FFFD; non-strings pass through.

    Parameters
    ----------
    x : any
        A value a template prints.

    Returns
    -------
    any
        ``x``, strings cleaned.

    Examples
    --------
    >>> xml_safe("a\x00b\x1bc\tok")
    'a\ufffdb\ufffdc\tok'
    """
    if isinstance(x, Markup):
        return Markup(_XML_INVALID.sub("\ufffd", str(x)))
    if isinstance(x, str):
        return _XML_INVALID.sub("\ufffd", x)
    return x


def _md(x: Any) -> str:
    r"""Escape text for Markdown (inline syntax, table pipes, HTML, line breaks, block starts).

    Backslash escapes only, never HTML entities: the file reads as written ("R&D" stays
    "R&D"; an ``&`` is escaped only where it would start an entity such as ``&amp;``).

    >>> print(_md("*a*_b_ [x](y) `c` #1 | <b>\nnext"))
    \*a\*\_b\_ \[x\](y) \`c\` \#1 \| \<b\> next
    >>> print(_md("  - item"), _md("1. first"), _md("R&D &amp; co"), _md("2026-12-02 (v0.1.0)"))
    \- item 1\. first R&D \&amp; co 2026-12-02 (v0.1.0)
    """
    text = _MD_SPECIAL.sub(r"\\\1", str(x))
    for a, b in (("\r\n", " "), ("\r", " "), ("\n", " ")):
        text = text.replace(a, b)
    text = text.lstrip(" \t")  # four leading spaces would start a code block
    if not text.strip():
        return "—"  # an empty paragraph or cell would vanish, taking the layout with it
    return _MD_BLOCK_START.sub(lambda m: f"{m[1] or ''}\\{m[2] or m[4]}", text)  # would start a block


def _json(x: Any) -> str:
    """A policy value as a reader types it in TOML-like form: ``0.05``, ``true``, ``["kl", "js"]``.

    >>> _json(["kl", "js"]), _json(True), _json(None)
    ('["kl", "js"]', 'true', 'null')
    """
    return json.dumps(x, ensure_ascii=False)


def _question(check_id: str) -> str:
    """What a check asks, in words (empty when unknown)."""
    return QUESTIONS.get(check_id, "")


_BLOCKING = ("fail", "warn", "inconclusive", "error")


def finding_groups(findings: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Findings under three headings, empty ones left out: blocking, improvements, the rest.

    A subgroup that became *more* accurate is an improvement: reported under its own
    heading, and blocking only where the policy makes any shift block (its status says so).

    >>> [h for h, _ in finding_groups([{"status": "info", "effect": "improvement"}, {"status": "fail"}])]
    ['Findings that block the gate', 'Improvements: served better than under a retrain (reported, not blocking)']
    """
    blocking = [f for f in findings if f.get("status") in _BLOCKING]
    improved = [f for f in findings if f not in blocking and f.get("effect") == "improvement"]
    others = [f for f in findings if f not in blocking and f not in improved]
    groups = [("Findings that block the gate", blocking),
              ("Improvements: served better than under a retrain (reported, not blocking)", improved),
              ("Other observations (reported, not blocking)", others)]
    return [(h, rows) for h, rows in groups if rows]


def _failing_checks(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in results["checks"] if c["status"] in _FAILING]


def applicable_checks(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The checks listed as rows and sections: all but those marked ``not_applicable``.

    A check whose declared tasks exclude the case's task (the five language-model checks on
    a tabular case, the tabular-only checks on a language-model case) is kept in
    results.json with ``not_applicable``; the reports fold it into one line
    (:func:`not_applicable_checks`).

    Parameters
    ----------
    results : dict
        A results.json document.

    Returns
    -------
    list of dict
        Its checks without a ``not_applicable`` field, in order.

    Examples
    --------
    >>> r = {"checks": [{"id": "utility"}, {"id": "lm_utility", "not_applicable": {"task": "classification"}}]}
    >>> [c["id"] for c in applicable_checks(r)], [c["id"] for c in not_applicable_checks(r)]
    (['utility'], ['lm_utility'])
    """
    return [c for c in results["checks"] if not c.get("not_applicable")]


def not_applicable_checks(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The checks marked ``not_applicable`` (see :func:`applicable_checks`), in order.

    Parameters
    ----------
    results : dict
        A results.json document.

    Returns
    -------
    list of dict
        Its checks with a ``not_applicable`` field.
    """
    return [c for c in results["checks"] if c.get("not_applicable")]


_OPTIONS: dict[str, Any] = dict(
    autoescape=select_autoescape(["html", "xml", "html.j2", "xml.j2"], default_for_string=True),
    undefined=StrictUndefined, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
    finalize=xml_safe,
)


def _configure(env: Environment) -> Environment:
    env.filters.update(num=_num, interval=_interval, pvalue=_pvalue, slice=_slice, md=_md,
                       figure=render_figure, human=human, json=_json, question=_question)
    env.globals.update(FAILING=_FAILING, failing_checks=_failing_checks, finding_groups=finding_groups,
                       applicable_checks=applicable_checks, not_applicable_checks=not_applicable_checks)
    return env


def environment(template_dir: str | os.PathLike[str] | None = None) -> Environment:
    """The Jinja environment for the views.

    Parameters
    ----------
    template_dir : path, optional
        Directory of user templates (same names as :data:`VIEWS`). When given, the
        environment is sandboxed and falls back to the built-in templates.

    Returns
    -------
    jinja2.Environment
        The built-in one, or a sandboxed one over ``template_dir`` (built-ins as fallback).
    """
    if template_dir is None:
        return _builtin_environment()
    d = Path(template_dir)
    if not d.is_dir():
        raise BadInput("--template", f"template directory not found: {d}")
    loader: BaseLoader = ChoiceLoader([FileSystemLoader(str(d)), PackageLoader("reports", "templates")])
    return _configure(SandboxedEnvironment(loader=loader, **_OPTIONS))


def shipped_environment(template_dir: str | os.PathLike[str]) -> Environment:
    """Sandboxed environment over ``template_dir`` alone (no fallback): a pack's own templates.

    Parameters
    ----------
    template_dir : path-like
        The pack's ``templates/`` directory.

    Returns
    -------
    jinja2.sandbox.SandboxedEnvironment
    """
    loader = FileSystemLoader(str(template_dir))
    return _configure(SandboxedEnvironment(loader=loader, **_OPTIONS))


@lru_cache(maxsize=1)
def _builtin_environment() -> Environment:
    """The built-in templates' environment, built once (templates compile once per process)."""
    return _configure(Environment(loader=PackageLoader("reports", "templates"), **_OPTIONS))


_GLOSSED = {"report.html": "html", "report.md": "md"}


def render_view(name: str, results: dict[str, Any], env: Environment | None = None) -> str:
    """Render the view ``name`` (a key of :data:`VIEWS`) from ``results``.

    Every template gets ``r`` (the results), ``summary`` (:func:`reports.summary.executive_summary`)
    and ``glossary``. report.html and report.md render twice: first with an empty glossary,
    then with the entries of :data:`reports.glossary.TERMS` that the first rendering's
    visible text uses (:func:`reports.glossary.terms_used`), so each report defines exactly
    the terms it contains.

    Parameters
    ----------
    name : str
        A view of :data:`VIEWS` (``report.html``, ``report.md``, ``junit.xml`` ...).
    results : dict
        The results dict.
    env : Environment, optional
        The templates to use (default: the built-in ones).

    Returns
    -------
    str
    """
    env = env or environment()
    template = env.get_template(VIEWS[name])
    context = {"r": results, "summary": executive_summary(results), "glossary": []}
    text = template.render(**context)
    if name not in _GLOSSED:
        return text
    used = terms_used(visible_text(text, _GLOSSED[name]))
    return template.render(**{**context, "glossary": [{"term": t.term, "definition": t.definition} for t in used]})


def render_html(results: dict[str, Any], env: Environment | None = None) -> str:
    """Render ``report.html``: self-contained, inline CSS and SVG, no scripts.

    Parameters
    ----------
    results : dict
        The results dict.
    env : Environment, optional
        The templates to use (default: built-in).

    Returns
    -------
    str

    Examples
    --------
    >>> from tests.reports.fixtures import sample_results  # doctest: +SKIP
    >>> "<svg" in render_html(sample_results())             # doctest: +SKIP
    True
    """
    return render_view("report.html", results, env)


def render_markdown(results: dict[str, Any], env: Environment | None = None) -> str:
    """Render ``report.md`` (for a pull-request comment or a wiki).

    Parameters
    ----------
    results : dict
        The results dict.
    env : Environment, optional
        The templates to use (default: built-in).

    Returns
    -------
    str

    Examples
    --------
    >>> from tests.reports.fixtures import sample_results
    >>> render_markdown(sample_results("pass")).startswith("#")
    True
    """
    return render_view("report.md", results, env)


def render_junit(results: dict[str, Any], env: Environment | None = None) -> str:
    """Render ``junit.xml``: one test case per check; fail / inconclusive / error fail.

    Parameters
    ----------
    results : dict
        The results dict.
    env : Environment, optional
        The templates to use (default: built-in).

    Returns
    -------
    str
    """
    return render_view("junit.xml", results, env)
