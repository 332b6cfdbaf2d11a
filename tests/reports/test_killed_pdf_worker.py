"""A run killed while its PDF worker renders: the worker dies with it, and the next run
removes the temporary directory, ``.report.pdf.part`` included."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from reports import verify_pack, write_pack
from reports.destination import clean_stale
from tests.reports.fixtures import sample_results

ROOT = Path(__file__).resolve().parents[2]

_CHILD = textwrap.dedent("""
    import sys, time
    import reports.pack
    from tests.reports.fixtures import sample_results

    class Started(reports.pack.PdfJob):
        @staticmethod
        def _feed(proc, data):  # report.html sent, stdin left open: the worker waits for its end
            proc.stdin.write(data)
            proc.stdin.flush()

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            print("WORKER", self._proc.pid, flush=True)
            time.sleep(60)  # the caller is killed here; its stdin closes, the worker would render

    reports.pack.PdfJob = Started
    reports.pack.write_pack(sample_results(), sys.argv[1])
""")


def _gone(pid: int) -> bool:
    """Exited (a zombie nobody reaps counts: it runs no code)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return True
    return state in ("Z", "X")


def test_the_pdf_worker_dies_with_a_killed_run_and_its_temporary_is_cleaned(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(tmp_path / "pack")], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        line = child.stdout.readline().split()
        assert line[0] == "WORKER"
        worker = int(line[1])
    finally:
        child.kill()  # SIGKILL: no handler, no cancel()
        child.wait(timeout=30)
    for _ in range(600):  # the kernel's parent-death signal; poll, never time the test
        if _gone(worker):
            break
        time.sleep(0.05)
    assert _gone(worker)
    stale = [p for p in tmp_path.iterdir() if ".tmp-" in p.name]
    assert len(stale) == 1
    assert not (stale[0] / ".report.pdf.part").exists()  # killed with its parent, it wrote nothing
    (stale[0] / ".report.pdf.part").write_bytes(b"%PDF-half")  # as a worker killed mid-write leaves it
    out = write_pack(sample_results(), tmp_path / "pack", pdf=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pack"] and verify_pack(out) == []


def test_a_dead_runs_partial_pdf_does_not_make_its_temporary_foreign(tmp_path: Path) -> None:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    leftover = tmp_path / f".pack.tmp-{p.pid}-abc"
    leftover.mkdir()
    (leftover / "results.json").write_text("{}")
    (leftover / ".report.pdf.part").write_bytes(b"%PDF-")
    assert clean_stale(tmp_path, ["pack"]) == [leftover] and not leftover.exists()
    assert os.listdir(tmp_path) == []
