"""Run every benchmark module and write the figures to BENCHMARKS.md.

Usage: ``python -m benchmarks.run [--write BENCHMARKS.md] [--only NAME ...]``.
Each module ``benchmarks/bench_*.py`` exposes ``run() -> list[dict]`` with keys
``name``, ``value``, ``unit`` and optionally ``note``. Ratios are measured side by side
in the same process.

``--only`` with ``--write`` onto an existing file rewrites just those ``## name`` sections: the
other sections, and the notes under the title, are kept; the measured-on line keeps the full
run's date and lists each section re-run alone with its date (:func:`merge`). The file has one
``# Benchmarks`` title (a second title block, left by stitching two runs by hand, is dropped).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import platform
import re
import sys
from datetime import UTC, datetime
from pathlib import Path


def _modules(only: list[str] | None) -> list[str]:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    return [n for n in names if not only or n in only or n.removeprefix("bench_") in only]


def _fmt(v: float) -> str:
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"


TITLE = "# Benchmarks"
MEASURED = "Measured by `make bench`"
_RERUNS = re.compile(r" \(re-run alone with `--only`: (?P<items>[^)]*)\)")


def measured_line(date: str, reruns: dict[str, str] | None = None) -> str:
    """The measured-on line: the full run's date, the machine, and the sections re-run alone.

    Parameters
    ----------
    date : str
        Date of the full ``make bench`` run (ISO).
    reruns : dict of str to str, optional
        ``{section: date}`` of sections rewritten alone with ``--only``.

    Returns
    -------
    str
    """
    again = ""
    if reruns:
        again = " (re-run alone with `--only`: " + ", ".join(f"{k} on {v}" for k, v in sorted(reruns.items())) + ")"
    return (f"{MEASURED} (`python -m benchmarks.run --write BENCHMARKS.md`) on {date}{again}: "
            f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}. Ratios are measured side by side in one run. Figures, never "
            "test assertions.")


def split_file(text: str) -> tuple[list[str], dict[str, str]]:
    """A BENCHMARKS.md as (lines under its first title, before any section; ``{section: text}``).

    A ``## name`` line opens a section, which runs to the next ``## `` or ``# `` line; a later
    ``# `` title and the lines after it up to the next section are dropped.

    Parameters
    ----------
    text : str
        The file's text.

    Returns
    -------
    tuple of (list of str, dict of str to str)
        The preamble's lines (title, measured-on line, notes) and each section's text, trailing
        blank lines removed.
    """
    preamble: list[str] = []
    sections: dict[str, list[str]] = {}
    current: list[str] | None = preamble
    for line in text.splitlines():
        if line.startswith("## "):
            current = sections.setdefault(line[3:].strip(), [])
            current.append(line)
        elif line.startswith("# "):
            current = preamble if not preamble else None
            if current is not None:
                current.append(line)
        elif current is not None:
            current.append(line)
    body = {k: "\n".join(v).rstrip() for k, v in sections.items()}
    while preamble and not preamble[-1].strip():
        preamble.pop()
    return preamble, body


def merge(existing: str | None, sections: dict[str, str], today: str) -> str:
    """The file after a run that measured ``sections``: rewritten in place when ``existing`` is given.

    Parameters
    ----------
    existing : str or None
        The current file (None: write a fresh one, as a full run does).
    sections : dict of str to str
        ``{name: "## name ..."}`` of the sections just measured.
    today : str
        Today's date (ISO).

    Returns
    -------
    str
        One title, the measured-on line (the full run's date, plus each section re-run alone),
        the notes kept, then every section in name order.
    """
    if existing is None:
        return "\n\n".join([TITLE, measured_line(today), *[sections[k] for k in sorted(sections)]]) + "\n"
    preamble, kept = split_file(existing)
    date, reruns = today, {}
    notes = [line for line in preamble[1:] if not line.startswith(MEASURED)]
    old = next((line for line in preamble if line.startswith(MEASURED)), None)
    if old is not None:
        m = re.search(r"\) on (\d{4}-\d{2}-\d{2})", old)
        date = m.group(1) if m else today
        r = _RERUNS.search(old)
        if r:
            reruns = dict(item.split(" on ", 1) for item in r.group("items").split(", "))
    reruns.update({k: today for k in sections})
    everything = {**kept, **sections}
    kept_notes = "\n".join(notes).strip()
    head = [TITLE, measured_line(date, reruns), *([kept_notes] if kept_notes else [])]
    return "\n\n".join([*head, *[everything[k] for k in sorted(everything)]]) + "\n"


def _section(name: str, rows: list[dict]) -> str:
    lines = [f"## {name}", "", "| measurement | value | unit | note |", "|---|---:|---|---|"]
    lines += [f"| {r['name']} | {_fmt(r['value'])} | {r['unit']} | {r.get('note', '')} |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--write", type=Path)
    ap.add_argument("--only", nargs="*")
    args = ap.parse_args(argv)
    sections = {}
    for name in _modules(args.only):
        print(f"running {name} …", file=sys.stderr)
        short = name.removeprefix("bench_")
        sections[short] = _section(short, importlib.import_module(f"benchmarks.{name}").run())
        print(sections[short], file=sys.stderr)
    today = str(datetime.now(UTC).date())
    partial = bool(args.only) and args.write is not None and args.write.exists()
    text = merge(args.write.read_text("utf-8") if partial else None, sections, today)
    if args.write:
        args.write.write_text(text, encoding="utf-8")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
