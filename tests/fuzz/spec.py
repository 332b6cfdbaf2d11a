"""What one hostile input is: how to prepare it, how to run it, what must come out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.fuzz.base import Base, copy_tree

__all__ = ["Ctx", "Input", "BAD", "run_case", "SENTINEL"]

BAD = frozenset({2})
SENTINEL = "PAYLOAD-RAN"


@dataclass(frozen=True)
class Ctx:
    """The private working directory of one input (the subprocess's cwd).

    ``case`` is a fresh copy of the base case; ``sentinel`` is the file a smuggled
    payload would create (the harness fails the input if it exists afterwards).
    """

    work: Path
    base: Base

    @property
    def case(self) -> Path:
        return self.work / "case"

    @property
    def key(self) -> Path:
        """This input's copy of the base signing key."""
        return self.work / "signing.pem"

    @property
    def sentinel(self) -> Path:
        return self.work / SENTINEL

    def pack(self, kind: str) -> Path:
        """A private copy of the base pack ``kind`` at ``work/pack``."""
        return copy_tree(self.base.packs[kind], self.work / "pack")


@dataclass(frozen=True)
class Input:
    """One hostile input.

    Parameters
    ----------
    id : str
        Unique name, ``family/what``.
    prepare : callable
        ``prepare(ctx) -> argv`` writes whatever the input needs under ``ctx.work`` and
        returns the arguments after ``python -m audit.cli``.
    expect : frozenset of int
        Acceptable exit codes (default: 2, bad input).
    allowed_new : tuple of str
        Paths (relative to the work directory) that may appear, e.g. ``"pack"`` for
        inputs that legitimately run to the end.
    interrupt : str, optional
        ``"TERM"`` or ``"KILL"``: send that signal as soon as the pack's temporary
        directory appears; after ``KILL`` the same command is run again to completion.
    timeout : float
        Seconds before the input counts as hung.
    post : callable, optional
        ``post(ctx) -> problems``: extra checks on what a completed run wrote.
    """

    id: str
    prepare: Callable[[Ctx], list[str]]
    expect: frozenset[int] = BAD
    allowed_new: tuple[str, ...] = ()
    interrupt: str | None = None
    timeout: float = 180.0
    post: Callable[[Ctx], list[str]] | None = field(default=None, compare=False)
    note: str = field(default="", compare=False)

    @property
    def family(self) -> str:
        return self.id.split("/", 1)[0]


def run_case(ctx: Ctx, *extra: str) -> list[str]:
    """``run case/case.toml --out pack`` plus ``extra`` arguments."""
    return ["run", str(ctx.case / "case.toml"), "--out", str(ctx.work / "pack"), *extra]
