"""The ``run`` progress bar: one rich task advancing per check, on stderr, only on a terminal."""

from __future__ import annotations

import os
import sys
from types import TracebackType
from typing import Any

__all__ = ["CheckProgress", "show_progress"]


def show_progress(quiet: bool, stream: Any = None) -> bool:
    """True when a progress bar belongs on ``stream`` (default stderr): a TTY, not CI, not quiet.

    Parameters
    ----------
    quiet : bool
        ``--quiet``.
    stream : file, optional
        Where the bar would go.

    Returns
    -------
    bool

    Examples
    --------
    >>> import io
    >>> show_progress(False, io.StringIO())
    False

    >>> import io
    >>> show_progress(False, io.StringIO()), show_progress(True, io.StringIO())
    (False, False)
    """
    stream = sys.stderr if stream is None else stream
    return not quiet and bool(getattr(stream, "isatty", lambda: False)()) and not os.environ.get("CI")


class CheckProgress:
    """A ``progress`` callback of :func:`audit.run_audit` drawing one bar over the checks.

    Each call (a check id, before that check runs) completes the previous check and shows
    the new one; leaving the ``with`` block completes the bar.

    Parameters
    ----------
    total : int
        Number of checks that will run (:func:`audit.engine.runner.planned_checks`).
    console : rich.console.Console, optional
        Where to draw; default a stderr console.

    Examples
    --------
    >>> import io
    >>> from rich.console import Console
    >>> with CheckProgress(2, Console(file=io.StringIO())) as bar:
    ...     bar("identity"); bar("utility")
    ...     bar.completed
    1.0
    >>> bar.completed, bar.current
    (2.0, 'utility')
    """

    def __init__(self, total: int, console: Any = None) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.total = int(total)
        self.current: str | None = None
        self._progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                  MofNCompleteColumn(), TimeElapsedColumn(),
                                  console=console or Console(stderr=True), transient=False)
        self._task = self._progress.add_task("checks", total=self.total)

    @property
    def completed(self) -> float:
        """Checks finished so far."""
        return float(self._progress.tasks[0].completed)

    def __call__(self, cid: str) -> None:
        advance = 1 if self.current is not None else 0
        self.current = cid
        self._progress.update(self._task, advance=advance, description=cid)

    def __enter__(self) -> CheckProgress:
        self._progress.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self._progress.update(self._task, completed=self.total, description="done")
        self._progress.stop()
