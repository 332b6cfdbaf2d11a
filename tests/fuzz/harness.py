"""Run one hostile input as a subprocess and judge what it did."""

from __future__ import annotations

import hashlib
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.fuzz.base import Base
from tests.fuzz.spec import Ctx, Input

__all__ = ["Outcome", "run_input", "snapshot", "diff_snapshots", "first_line", "judge",
           "MEMORY_LIMIT", "REPO"]

REPO = Path(__file__).resolve().parents[2]
MEMORY_LIMIT = 3 << 30  # address space of each audited subprocess
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class Outcome:
    """What one input did: exit code, first message line and every rule it broke."""

    id: str
    code: int | None
    expect: frozenset[int]
    message: str
    seconds: float
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def snapshot(root: Path) -> dict[str, str]:
    """``relative path -> sha256 | "dir" | "link:<target>"`` of everything under ``root``.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as t:
    ...     _ = (Path(t) / "a").write_text("x")
    ...     snapshot(Path(t))["a"][:8]
    '2d711642'
    """
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = f"link:{os.readlink(p)}"
            elif p.is_dir():
                out[rel] = "dir"
            else:
                try:
                    out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
                except OSError as exc:
                    out[rel] = f"unreadable:{exc.errno}"
    return out


def diff_snapshots(before: dict[str, str], after: dict[str, str],
                   allowed_new: tuple[str, ...] = ()) -> list[str]:
    """Problems: pre-existing entries changed or deleted; new ones outside ``allowed_new``.

    >>> diff_snapshots({"a": "1"}, {"a": "2", "pack": "dir", "x": "3"}, ("pack",))
    ['changed: a', 'leftover: x']
    """
    problems = [f"changed: {p}" for p in sorted(before) if p in after and after[p] != before[p]]
    problems += [f"deleted: {p}" for p in sorted(before) if p not in after]
    new = [p for p in sorted(set(after) - set(before))
           if not any(p == a or p.startswith(a + os.sep) for a in allowed_new)]
    if new:
        shown = ", ".join(new[:3]) + (f" (+{len(new) - 3})" if len(new) > 3 else "")
        problems.append(f"leftover: {shown}")
    return problems


def first_line(stderr: str, stdout: str, width: int = 100) -> str:
    """The first non-empty line of stderr (else stdout), without colours, clipped.

    >>> first_line("\\n\\x1b[31merror: x\\x1b[0m\\nmore", "")
    'error: x'
    """
    for text in (stderr, stdout):
        for line in _ANSI.sub("", text).splitlines():
            line = line.strip(" │╭╮╰╯─")
            if line:
                return line if len(line) <= width else line[: width - 1] + "…"
    return ""


def judge(inp: Input, code: int | None, out: str, err: str, sentinel: bool) -> list[str]:
    """The rules about the process itself (files are judged by :func:`diff_snapshots`).

    >>> from tests.fuzz.spec import Input
    >>> judge(Input("x/y", lambda c: []), 1, "", "Traceback (most recent call last):", False)
    ['exit 1, expected 2', 'traceback']
    """
    problems = []
    if code is None:
        problems.append(f"hung > {inp.timeout:.0f}s")
    elif code not in inp.expect:
        problems.append(f"exit {code}, expected {'/'.join(map(str, sorted(inp.expect)))}")
    if "Traceback" in out or "Traceback" in err:
        problems.append("traceback")
    if sentinel:
        problems.append("PAYLOAD RAN (sentinel created)")
    return problems


def _limits() -> None:  # pragma: no cover - runs in the child
    os.setsid()
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "HYPOTHESIS"))}
    env.update(PYTHONPATH=str(REPO), CI="1", NO_COLOR="1", COLUMNS="200", TMPDIR=str(work / "tmp"),
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               PYTHONDONTWRITEBYTECODE="1")
    return env


def _kill_group(proc: subprocess.Popen[str], sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def _interrupt(proc: subprocess.Popen[str], work: Path, how: str, timeout: float) -> bool:
    """Send SIGTERM/SIGKILL once a pack temporary directory appears; False if it never did."""
    end = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < end:
        if any(work.rglob(".*.tmp-*")):
            proc.send_signal(signal.SIGTERM if how == "TERM" else signal.SIGKILL)
            return True
        time.sleep(0.02)
    return False


def _execute(argv: list[str], inp: Input, work: Path) -> tuple[int | None, str, str, list[str]]:
    cmd = [sys.executable, "-m", "audit.cli", *argv]
    proc = subprocess.Popen(cmd, cwd=work, env=_env(work), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            errors="replace", preexec_fn=_limits)
    problems = []
    if inp.interrupt and not _interrupt(proc, work, inp.interrupt, inp.timeout):
        problems.append("never reached the pack write; not interrupted")
    try:
        out, err = proc.communicate(timeout=inp.timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        code = None
    _kill_group(proc)  # nothing the run started may outlive it
    return code, out, err, problems


def run_input(inp: Input, base: Base, work: Path) -> Outcome:
    """Prepare ``inp`` in the fresh directory ``work``, run it, and judge the result."""
    work.mkdir(parents=True)
    shutil.copytree(base.case, work / "case", symlinks=True)
    shutil.copy(base.key, work / "signing.pem")
    (work / "tmp").mkdir()
    ctx = Ctx(work=work, base=base)
    start = time.monotonic()
    try:
        argv = inp.prepare(ctx)
    except Exception as exc:  # noqa: BLE001 - a broken input is the harness's bug: report it
        return Outcome(inp.id, None, inp.expect, "", 0.0, [f"harness: prepare failed: {exc!r}"])
    before = snapshot(work)
    code, out, err, problems = _execute(argv, inp, work)
    if inp.interrupt == "KILL" and not problems:
        code, out, err, problems = _execute(argv, Input(inp.id, inp.prepare, timeout=inp.timeout), work)
    problems += judge(inp, code, out, err, ctx.sentinel.exists())
    problems += diff_snapshots(before, snapshot(work), inp.allowed_new)
    if inp.post is not None and code in inp.expect and (work / "pack").is_dir():
        problems += inp.post(ctx)
    return Outcome(inp.id, code, inp.expect, first_line(err, out), time.monotonic() - start, problems)
