"""The results.json schema and its validation."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

import jsonschema

__all__ = ["SchemaError", "load_schema", "validate_results"]


class SchemaError(ValueError):
    """results.json does not follow the schema."""


@lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    """Return the JSON Schema shipped in ``reports/schema/results.schema.json``."""
    text = resources.files("reports").joinpath("schema/results.schema.json").read_text("utf-8")
    return json.loads(text)


def validate_results(results: dict[str, Any]) -> None:
    """Raise :class:`SchemaError` naming the first offending path if invalid."""
    validator = jsonschema.Draft202012Validator(load_schema())
    errors = sorted(validator.iter_errors(results), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        where = "/".join(str(p) for p in e.absolute_path) or "<root>"
        raise SchemaError(f"results.json invalid at {where}: {e.message}")
