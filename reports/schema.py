"""The results.json and manifest.json schemas and their validation."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

import jsonschema

__all__ = ["SchemaError", "load_schema", "validate_results", "manifest_problem"]


class SchemaError(ValueError):
    """results.json does not follow the schema."""


@lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    """Return the JSON Schema shipped in ``reports/schema/results.schema.json``."""
    text = resources.files("reports").joinpath("schema/results.schema.json").read_text("utf-8")
    return json.loads(text)


@lru_cache(maxsize=1)
def _manifest_validator() -> jsonschema.Draft202012Validator:
    text = resources.files("reports").joinpath("schema/manifest.schema.json").read_text("utf-8")
    return jsonschema.Draft202012Validator(json.loads(text))


def _first_error(validator: jsonschema.Draft202012Validator, doc: Any) -> str | None:
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if not errors:
        return None
    e = errors[0]
    return f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"


def validate_results(results: dict[str, Any]) -> None:
    """Raise :class:`SchemaError` naming the first offending path if invalid.

    Parameters
    ----------
    results : dict
        A results dict.

    Returns
    -------
    None

    Examples
    --------
    >>> validate_results({"verdict": "pass"})
    Traceback (most recent call last):
    ...
    reports.schema.SchemaError: results.json invalid at <root>: 'schema_version' is a required property
    """
    problem = _first_error(jsonschema.Draft202012Validator(load_schema()), results)
    if problem:
        raise SchemaError(f"results.json invalid at {problem}")


def manifest_problem(manifest: Any) -> str | None:
    """The first way ``manifest`` breaks ``schema/manifest.schema.json`` (strict), or ``None``.

    Parameters
    ----------
    manifest : any
        A parsed manifest.json.

    Returns
    -------
    str or None

    Examples
    --------
    >>> manifest_problem({"manifest_version": "2"}).startswith("manifest.json invalid at")
    True
    """
    problem = _first_error(_manifest_validator(), manifest)
    return f"manifest.json invalid at {problem}" if problem else None
