"""Exceptions raised by the audit engine.

`BadInput` is the single error type for anything the user supplied that cannot be
used (exit code 2). Its message always names the offending field.
"""

from __future__ import annotations

__all__ = ["AuditError", "BadInput"]


class AuditError(Exception):
    """Base class of every error the engine raises on purpose."""


class BadInput(AuditError):
    """User input (case file, data, model, policy) that cannot be used.

    Parameters
    ----------
    field : str
        Dotted name of the offending field, e.g. ``"models.unlearned"`` or
        ``"data.split"``.
    message : str
        What is wrong, in plain words.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")
