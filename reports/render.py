"""Rendering of views from results.json with Jinja2 (StrictUndefined, autoescape)."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

__all__ = ["environment", "render_html"]


def _num(x: Any, digits: int = 4) -> str:
    if x is None:
        return "—"
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int):
        return str(x)
    return f"{x:.{digits}g}"


def _interval(ci: Any) -> str:
    if not ci:
        return "—"
    return f"[{_num(ci[0])}, {_num(ci[1])}]"


def environment() -> Environment:
    """The package's Jinja environment: autoescaped HTML/XML, undefined names fail."""
    env = Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=select_autoescape(["html", "xml", "html.j2", "xml.j2"]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["num"] = _num
    env.filters["interval"] = _interval
    return env


def render_html(results: dict[str, Any]) -> str:
    """Render ``report.html`` from a results dict."""
    return environment().get_template("report.html.j2").render(r=results)
