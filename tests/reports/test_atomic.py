"""Atomic packs: temp dir + rename, no partial pack after SIGINT or a crash, no clobbering."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import reports.pack
from audit.shared.errors import BadInput
from reports import verify_pack, write_pack
from tests.reports.fixtures import sample_results

ROOT = Path(__file__).resolve().parents[2]

_CHILD = textwrap.dedent("""
    import sys, time
    import reports.pack
    from tests.reports.fixtures import sample_results

    def slow_pdf(html):
        print("WRITING", flush=True)   # results.json and the views are already in the temp dir
        time.sleep(60)
        return b"%PDF-"

    reports.pack.html_to_pdf = slow_pdf
    reports.pack.write_pack(sample_results(), sys.argv[1])
""")


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("previous", [False, True])
def test_sigint_mid_write_leaves_no_partial_pack(tmp_path: Path, previous: bool) -> None:
    out = tmp_path / "pack"
    if previous:
        write_pack(sample_results("pass"), out, pdf=False)
        before = {p.name: p.read_bytes() for p in out.iterdir()}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(out)], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "WRITING"
        temp = [p for p in tmp_path.iterdir() if p.name.startswith(".pack.tmp-")]
        assert len(temp) == 1 and (temp[0] / "results.json").is_file()  # really mid-write
        child.send_signal(signal.SIGINT)
        child.wait(timeout=30)
    finally:
        child.kill()
    assert child.returncode != 0 and "KeyboardInterrupt" in child.stderr.read()
    assert _leftovers(tmp_path) == []
    if previous:  # the old pack is untouched and still verifies
        assert {p.name: p.read_bytes() for p in out.iterdir()} == before and verify_pack(out) == []
    else:
        assert not out.exists()


def test_crash_mid_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(html: str) -> bytes:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(reports.pack, "html_to_pdf", boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_pack(sample_results(), tmp_path / "pack")
    assert list(tmp_path.iterdir()) == []


def test_refuses_to_clobber_a_directory_that_is_not_a_pack(tmp_path: Path) -> None:
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "chapter1.tex").write_text("precious")
    with pytest.raises(BadInput, match="not an evidence pack"):
        write_pack(sample_results(), out, pdf=False)
    assert [p.name for p in out.iterdir()] == ["chapter1.tex"] and _leftovers(tmp_path) == []


def test_refuses_a_pack_with_foreign_files_and_a_plain_file(tmp_path: Path) -> None:
    out = write_pack(sample_results(), tmp_path / "pack", pdf=False)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(BadInput, match="not an evidence pack"):
        write_pack(sample_results(), out, pdf=False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(BadInput, match="not a directory"):
        write_pack(sample_results(), tmp_path / "file", pdf=False)


def test_replaces_a_previous_pack_and_an_empty_directory(tmp_path: Path) -> None:
    out = write_pack(sample_results("pass"), tmp_path / "pack", pdf=False)
    write_pack(sample_results("fail"), out, pdf=False)
    assert json.loads((out / "results.json").read_text())["verdict"] == "fail"
    assert verify_pack(out) == [] and _leftovers(tmp_path) == []
    (tmp_path / "empty").mkdir()
    assert verify_pack(write_pack(sample_results(), tmp_path / "empty", pdf=False)) == []


def test_invalid_results_write_nothing(tmp_path: Path) -> None:
    r = sample_results()
    r["verdict"] = "probably fine"
    with pytest.raises(ValueError, match="results.json invalid at verdict"):
        write_pack(r, tmp_path / "pack")
    assert list(tmp_path.iterdir()) == []


def test_sigint_during_a_real_cli_run_leaves_nothing(private_case: Path, tmp_path: Path) -> None:
    out = tmp_path / "pack"
    child = subprocess.Popen([sys.executable, "-m", "audit.cli", "run", str(private_case), "--out", str(out)],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        try:
            child.wait(timeout=3.0)  # imports + case loading; the audit itself takes longer
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGINT)
        child.wait(timeout=60)
    finally:
        child.kill()
    if child.returncode == 0 or out.exists():  # finished before the signal: then it must be whole
        assert verify_pack(out) == []
    else:
        assert not out.exists()
    assert _leftovers(tmp_path) == []
