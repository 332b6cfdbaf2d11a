"""Rendering of evidence packs from results.json (never computes a metric)."""

from reports.manifest import build_statement, canonical_json, load_signing_key
from reports.pack import PACK_FILES, dump_results, write_pack
from reports.pdf import html_to_pdf
from reports.render import environment, render_html, render_junit, render_markdown, render_view
from reports.schema import SchemaError, load_schema, validate_results
from reports.svg import render_figure
from reports.verify import verify_pack

__all__ = [
    "PACK_FILES",
    "SchemaError",
    "build_statement",
    "canonical_json",
    "dump_results",
    "environment",
    "html_to_pdf",
    "load_schema",
    "load_signing_key",
    "render_figure",
    "render_html",
    "render_junit",
    "render_markdown",
    "render_view",
    "validate_results",
    "verify_pack",
    "write_pack",
]
