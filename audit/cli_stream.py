"""The command line's view of a stream audit: the per-step table ``unlearn-audit run`` prints.

``run`` on a case file with ``[[requests]]`` loads it as a stream
(:func:`audit.stream.load_stream_case`) and audits it with :func:`audit.stream_runner.run_stream`;
this module prints what the terminal shows of it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["stream_rows", "print_stream_table"]

_STYLE = {"pass": "green", "warn": "yellow", "fail": "red", "inconclusive": "magenta", "error": "red"}


def stream_rows(results: dict[str, Any]) -> list[list[str]]:
    """One row of text per step: step, request, rows removed / so far, verdict, power, blocking checks.

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
    """Print the per-step table and the sequence's answer (first failing step, requests survived)."""
    from rich.console import Console
    from rich.table import Table

    st = results["stream"]
    console = Console(highlight=False)
    table = Table(show_header=True, header_style="bold", title="stream: one model audit per request")
    for col in ("step", "request", "rows removed", "forgotten so far", "verdict", "original detected",
                "required checks not passing"):
        table.add_column(col, overflow="fold")
    for row in stream_rows(results):
        style = _STYLE.get(row[4], "")
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
