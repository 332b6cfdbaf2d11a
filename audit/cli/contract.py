"""The exit-code contract of the command line, enforced in one place.

Exit codes are read by deployment gates: 0 pass, 1 **only** "the model failed the audit",
2 bad input or usage, 3 inconclusive or internal error. :class:`ContractGroup` wraps every
subcommand so that nothing else can leak out as 1 or as a traceback:

* :class:`audit.shared.errors.BadInput` anywhere → ``error: <field>: <message>``, exit 2;
* ``RecursionError`` (a pathologically nested input) → exit 2;
* any other exception, ``KeyboardInterrupt`` included → ``error: internal: <type>: <message>
  (run with --debug for the traceback)``, exit 3;
* click/typer usage errors keep their own exit 2; ``typer.Exit`` keeps its code.

``--debug`` may appear anywhere on the command line; it prints the traceback before the
same exit code.
"""

from __future__ import annotations

import sys
import traceback
from typing import Any

import typer
from typer.core import TyperGroup

from audit.cli.console import err as _err
from audit.shared.errors import BadInput

__all__ = ["ContractGroup", "DEBUG_FLAG", "EXIT_BAD_INPUT", "EXIT_INTERNAL"]

DEBUG_FLAG = "--debug"
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3
_META_KEY = "unlearn_audit.debug"


def _pass_through(exc: BaseException) -> bool:
    """Exceptions that already carry their exit code (typer/click control flow)."""
    from typer import _click

    return isinstance(exc, typer.Exit | _click.exceptions.ClickException | SystemExit)


class ContractGroup(TyperGroup):
    """A typer group whose subcommands can only exit 0, 1 (by choice), 2 or 3.

    Examples
    --------
    >>> from typer.testing import CliRunner
    >>> app = typer.Typer(cls=ContractGroup)
    >>> @app.command()
    ... def boom() -> None:
    ...     raise ValueError("no")
    >>> @app.command()
    ... def other() -> None:
    ...     pass
    >>> res = CliRunner().invoke(app, ["boom"])
    >>> res.exit_code, "Traceback" in res.output
    (3, False)
    >>> "error: internal: ValueError: no (run with --debug" in res.output
    True
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Take ``--debug`` out of the arguments wherever it stands (before a ``--``).

        Parameters
        ----------
        ctx : click.Context
            The group's context.
        args : list of str
            The command line.

        Returns
        -------
        list of str
            The arguments click parses (``--debug`` recorded in ``ctx.meta``).
        """
        end = args.index("--") if "--" in args else len(args)
        if DEBUG_FLAG in args[:end]:
            ctx.meta[_META_KEY] = True
            args = [a for a in args[:end] if a != DEBUG_FLAG] + args[end:]
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        """Run the subcommand under the exit-code contract (``BadInput`` -> 2, anything unexpected -> 3).

        Parameters
        ----------
        ctx : click.Context
            The group's context.

        Returns
        -------
        any
            What the subcommand returns.
        """
        debug = bool(ctx.meta.get(_META_KEY))
        try:
            from reports.pack import (
                term_interrupts,  # lazily: keeps --version and usage errors fast
            )

            with term_interrupts():
                return super().invoke(ctx)
        except BaseException as exc:  # noqa: BLE001 - the one place every failure is mapped
            if _pass_through(exc):
                raise
            code, message = _classify(exc)
            if debug:
                traceback.print_exc(file=sys.stderr)
            _err(message)
            raise typer.Exit(code) from None


def _classify(exc: BaseException) -> tuple[int, str]:
    """The exit code and one-line message of an exception that reached the CLI."""
    if isinstance(exc, BadInput):
        return EXIT_BAD_INPUT, f"error: {exc.field}: {exc.message}"
    if isinstance(exc, RecursionError):
        return EXIT_BAD_INPUT, "error: input: too deeply nested to process"
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERNAL, "error: interrupted; no pack was written"
    text = " ".join(str(exc).split()) or "(no message)"
    if len(text) > 300:
        text = text[:297] + "..."
    return EXIT_INTERNAL, (f"error: internal: {type(exc).__name__}: {text} "
                           f"(run with {DEBUG_FLAG} for the traceback)")
