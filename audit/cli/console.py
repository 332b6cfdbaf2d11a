"""What every command prints and the checks they share: errors, ``--out``, the verdict table.

The one home of the command line's console helpers; :mod:`audit.cli.app` and the sub-command
modules (:mod:`audit.cli.methods`, :mod:`audit.cli.stream`, :mod:`audit.cli.calibrate`) import
them from here, so no command module imports another.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from audit.shared.errors import BadInput

__all__ = ["STATUS_STYLE", "err", "bad_input", "interactive", "check_out", "summary", "stream_rows",
           "print_stream_table"]

STATUS_STYLE = {"pass": "green", "warn": "yellow", "fail": "red", "inconclusive": "magenta",
                 "error": "red", "skipped": "dim"}


def err(msg: str) -> None:
    """Print ``msg`` on stderr.

    Parameters
    ----------
    msg : str
        The line.

    Examples
    --------
    >>> err("note")  # doctest: +SKIP
    """
    typer.echo(msg, err=True)


def bad_input(exc: BadInput) -> typer.Exit:
    """Print ``error: <field>: <message>`` and return the exit-2 :class:`typer.Exit` to raise.

    Parameters
    ----------
    exc : BadInput
        The bad input.

    Returns
    -------
    typer.Exit
        Exit code 2.

    Examples
    --------
    >>> bad_input(BadInput("seed", "must be an integer")).exit_code  # doctest: +SKIP
    2
    """
    err(f"error: {exc.field}: {exc.message}")
    return typer.Exit(2)


def interactive() -> bool:
    """Whether a progress bar is shown (stderr is a terminal).

    Returns
    -------
    bool
        True on a TTY.

    Examples
    --------
    >>> isinstance(interactive(), bool)
    True
    """
    from audit.cli.progress import show_progress

    return show_progress(quiet=False)

def check_out(out: Path) -> None:
    """``--out`` must be absent, empty or an unchanged pack of this tool (nothing touched).

    Parameters
    ----------
    out : Path
        The pack directory asked for.

    Raises
    ------
    BadInput
        Naming ``--out``.

    Examples
    --------
    >>> import tempfile; check_out(Path(tempfile.mkdtemp()) / "pack")
    """
    from reports.destination import check_destination

    check_destination(out, "--out")


def summary(results: dict[str, Any], out: Path) -> None:
    """Print the verdict and the per-check table (a stream's per-step table first).

    Parameters
    ----------
    results : dict
        results.json of a run.
    out : Path
        Where its pack was written.

    Examples
    --------
    >>> summary(results, Path("pack"))  # doctest: +SKIP
    """
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=False, highlight=False)
    if "stream" in results:
        print_stream_table(results)
    v = results["verdict"]
    console.print(f"[bold]{results['case']['name']}[/bold] — verdict: "
                  f"[bold {STATUS_STYLE[v]}]{v.upper()}[/bold {STATUS_STYLE[v]}]")
    table = Table(show_header=True, header_style="bold")
    for col in ("check", "status", "required", "summary"):
        table.add_column(col, overflow="fold")
    for c in results["checks"]:
        style = STATUS_STYLE[c["status"]]
        table.add_row(c["id"], f"[{style}]{c['status']}[/{style}]", "yes" if c["required"] else "no",
                      c["summary"])
    console.print(table)
    blocking = [c["id"] for c in results["checks"] if c["required"] and c["status"] not in ("pass", "warn")]
    if blocking:
        console.print(f"[bold]blocking the gate:[/bold] {', '.join(blocking)}")
    console.print(f"evidence pack: {out}  (check it with: unlearn-audit verify {out})")


def stream_rows(results: dict[str, Any]) -> list[list[str]]:
    """One row of text per step: step, request, rows removed / so far, verdict, power, blocking checks.

    Parameters
    ----------
    results : dict
        A stream audit's results (:func:`audit.engine.runner.run_stream`); reads
        ``results["stream"]["steps"]``.

    Returns
    -------
    list of list of str
        Per step: step number, request id, forget rows of the request, cumulative forget rows,
        verdict, ``"yes"``/``"no"`` for power (the original detected), and the required checks
        whose status is neither pass nor warn (``"—"`` when none).

    Examples
    --------
    >>> r = {"stream": {"steps": [{"step": 1, "request_id": "R1", "forget_rows": 5,
    ...      "cumulative_forget_rows": 5, "verdict": "fail", "power": True,
    ...      "checks": [{"id": "utility", "status": "fail", "required": True}]}]}}
    >>> stream_rows(r)
    [['1', 'R1', '5', '5', 'fail', 'yes', 'utility (fail)']]
    """
    rows = []
    for s in results["stream"]["steps"]:
        bad = [f"{c['id']} ({c['status']})" for c in s["checks"]
               if c["required"] and c["status"] not in ("pass", "warn")]
        rows.append([str(s["step"]), s["request_id"], str(s["forget_rows"]), str(s["cumulative_forget_rows"]),
                     s["verdict"], "yes" if s["power"] else "no", ", ".join(bad) or "—"])
    return rows


def print_stream_table(results: dict[str, Any]) -> None:
    """Print the per-step table and the sequence's answer (first failing step, requests survived).

    Also prints the drift ratio per step of each tracked metric and which step's checks the
    rest of the output shows.

    Parameters
    ----------
    results : dict
        A stream audit's results (:func:`audit.engine.runner.run_stream`): ``results["stream"]``
        (steps, drift, first failing step, requests survived) and ``results["data"]["n"]``.
    """
    from rich.console import Console
    from rich.table import Table

    st = results["stream"]
    console = Console(highlight=False)
    table = Table(show_header=True, header_style="bold", title="stream: one model audit per request")
    for col in ("step", "request", "rows removed", "forgotten so far", "verdict", "original detected",
                "required checks not passing"):
        table.add_column(col, overflow="fold")
    for row in stream_rows(results):
        style = STATUS_STYLE.get(row[4], "")
        table.add_row(*row[:4], f"[{style}]{row[4]}[/{style}]" if style else row[4], *row[5:])
    console.print(table)
    ratios = []
    for d in st["drift"]:
        ratios.append(f"{d['check']} {d['metric']}[{d['split']}]: " + " ".join(
            "—" if p["ratio"] is None else f"{p['ratio']:.2f}" for p in d["points"]))
    if ratios:
        console.print("drift ratio per step (delta / fail band; 1 = at the fail band):")
        for line in ratios:
            console.print(f"  {line}")
    if st["first_failing_step"]:
        console.print(f"[bold]first failing step:[/bold] {st['first_failing_step']} ({st['first_failing_request']}); "
                      f"requests survived before a retrain was due: {st['requests_survived']} of {st['requests']}")
    else:
        console.print(f"no step failed; requests survived: {st['requests_survived']} of {st['requests']}")
    console.print(f"the checks below are those of the deciding step ({results['data']['n']['forget']} rows "
                  "forgotten so far)")


