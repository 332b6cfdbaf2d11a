"""``python -m tests.fuzz``: run the hostile-input corpus, the pack flips and hypothesis.

Prints a Markdown table (input → exit code → first line of the message) and exits 1 if
any input broke a rule, any flip went undetected or the hypothesis tests failed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.fuzz.base import build_base
from tests.fuzz.corpus import all_inputs
from tests.fuzz.flips import FlipReport, flip_pack
from tests.fuzz.harness import REPO, Outcome, run_input

__all__ = ["main", "render_table"]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'") or "—"


def render_table(outcomes: list[Outcome], flips: list[FlipReport]) -> str:
    """The Markdown report: one row per input, then the flip counts.

    >>> print(render_table([Outcome("a/b", 2, frozenset({2}), "error: x", 1.0)], []).splitlines()[-1])
    | a/b | 2 | 2 | ok | error: x |
    """
    bad = [o for o in outcomes if not o.ok]
    lines = [f"{len(outcomes)} hostile inputs, {len(outcomes) - len(bad)} handled, {len(bad)} failed.", ""]
    for f in flips:
        lines.append(f"Pack flips ({f.pack}): {f.total - len(f.missed)} of {f.total} single-byte flips "
                     f"detected over {len(f.tried)} files"
                     + (f"; MISSED {f.missed[:5]}" if f.missed else "") + ".")
    lines += ["", "| input | exit | expected | result | first line of the message |",
              "| --- | --- | --- | --- | --- |"]
    for o in sorted(outcomes, key=lambda o: o.id):
        code = "hung" if o.code is None else str(o.code)
        result = "ok" if o.ok else "FAIL: " + "; ".join(o.problems)
        lines.append(f"| {o.id} | {code} | {'/'.join(map(str, sorted(o.expect)))} | {_cell(result)} "
                     f"| {_cell(o.message)} |")
    return "\n".join(lines) + "\n"


def _hypothesis() -> int:
    env = dict(os.environ, HYPOTHESIS_PROFILE="fuzz")
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
           str(REPO / "tests" / "fuzz"), "-k", "hypothesis"]
    return subprocess.run(cmd, cwd=REPO, env=env).returncode


def _run_corpus(inputs: list, base, root: Path, jobs: int) -> list[Outcome]:
    def one(item: tuple[int, object]) -> Outcome:
        i, inp = item
        outcome = run_input(inp, base, root / "work" / f"{i:03d}")
        mark = "ok  " if outcome.ok else "FAIL"
        print(f"{mark} {outcome.id} ({outcome.seconds:.1f}s) {'; '.join(outcome.problems)}",
              file=sys.stderr, flush=True)
        shutil.rmtree(root / "work" / f"{i:03d}", ignore_errors=True)
        return outcome
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(one, enumerate(inputs)))


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code (0 all good, 1 any failure)."""
    ap = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    ap.add_argument("--table", type=Path, help="also write the Markdown table to this file")
    ap.add_argument("--jobs", type=int, default=2, help="inputs run in parallel (default 2)")
    ap.add_argument("--only", default="", help="run only inputs whose id contains this")
    ap.add_argument("--flip-stride", type=int, default=1, help="flip every N-th byte (default 1: all)")
    ap.add_argument("--no-flips", action="store_true", help="skip the pack flips")
    ap.add_argument("--no-hypothesis", action="store_true", help="skip the hypothesis profile")
    args = ap.parse_args(argv)
    start = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="unlearn-audit-fuzz-"))
    try:
        base = build_base(root / "base")
        inputs = [i for i in all_inputs() if args.only in i.id]
        outcomes = _run_corpus(inputs, base, root, args.jobs)
        flips = [] if args.no_flips else [
            flip_pack(base.packs[kind], signed=kind == "signed", workers=args.jobs, stride=args.flip_stride)
            for kind in ("signed", "unsigned")]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    table = render_table(outcomes, flips)
    print(table)
    if args.table:
        args.table.write_text(table)
    hyp = 0 if args.no_hypothesis else _hypothesis()
    failed = sum(not o.ok for o in outcomes) + sum(len(f.missed) for f in flips) + (hyp != 0)
    print(f"fuzz: {len(outcomes)} inputs, {failed} failure(s), hypothesis exit {hyp}, "
          f"{time.monotonic() - start:.0f}s", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
