"""Exceptions raised by the audit engine.

`BadInput` is the single error type for anything the user supplied that cannot be
used (exit code 2). Its message always names the offending field.
"""

from __future__ import annotations

import re

__all__ = ["AuditError", "BadInput", "one_line"]

_RAISED = re.compile(r"^(?:[\w.]+\.)?\w*(?:Error|Exception)\b:?\s*(.*)$")


def one_line(exc: BaseException, limit: int = 240) -> str:
    r"""The cause of ``exc`` in one line, for a message that must not become a traceback.

    Libraries such as TorchScript put an interpreter traceback in the message, with the
    real cause on its last ``SomeError: ...`` line; that line is taken when there is one,
    else the first line. Long text is cut at ``limit`` characters.

    Parameters
    ----------
    exc : BaseException
        The exception.
    limit : int
        Most characters kept.

    Returns
    -------
    str

    Examples
    --------
    >>> one_line(RuntimeError("Traceback:\n  ...\nValueError: bad shape"))
    'ValueError: bad shape'

    Examples
    --------
    >>> one_line(RuntimeError("The following operation failed\n  File x\nRuntimeError: shapes differ"))
    'RuntimeError: shapes differ'
    >>> one_line(ValueError("bad value\nmore detail"))
    'ValueError: bad value'
    """
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    raised = [ln for ln in lines[1:] if _RAISED.match(ln)]
    text = raised[-1] if raised else f"{type(exc).__name__}: {lines[0] if lines else '(no message)'}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
