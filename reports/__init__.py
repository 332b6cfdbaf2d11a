"""Rendering of evidence packs from results.json (never computes a metric)."""

from reports.pack import dump_results, sha256_file, verify_pack, write_pack
from reports.render import render_html
from reports.schema import SchemaError, load_schema, validate_results

__all__ = [
    "SchemaError",
    "dump_results",
    "load_schema",
    "render_html",
    "sha256_file",
    "validate_results",
    "verify_pack",
    "write_pack",
]
