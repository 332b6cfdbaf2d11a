"""Run every benchmark module and write the figures to BENCHMARKS.md.

Usage: ``python -m benchmarks.run [--write BENCHMARKS.md] [--only NAME ...]``.
Each module ``benchmarks/bench_*.py`` exposes ``run() -> list[dict]`` with keys
``name``, ``value``, ``unit`` and optionally ``note``. Ratios are measured side by side
in the same process.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path


def _modules(only: list[str] | None) -> list[str]:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    return [n for n in names if not only or n in only or n.removeprefix("bench_") in only]


def _fmt(v: float) -> str:
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--write", type=Path)
    ap.add_argument("--only", nargs="*")
    args = ap.parse_args(argv)
    sections = []
    for name in _modules(args.only):
        print(f"running {name} …", file=sys.stderr)
        rows = importlib.import_module(f"benchmarks.{name}").run()
        lines = [f"## {name.removeprefix('bench_')}", "", "| measurement | value | unit | note |",
                 "|---|---:|---|---|"]
        lines += [f"| {r['name']} | {_fmt(r['value'])} | {r['unit']} | {r.get('note', '')} |" for r in rows]
        sections.append("\n".join(lines))
        print("\n".join(lines), file=sys.stderr)
    header = (
        "# Benchmarks\n\nMeasured by `make bench` (`python -m benchmarks.run --write BENCHMARKS.md`) "
        f"on {datetime.now(UTC).date()}: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}. Ratios are measured side by "
        "side in one run. Figures, never test assertions.\n"
    )
    text = header + "\n" + "\n\n".join(sections) + "\n"
    if args.write:
        args.write.write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
