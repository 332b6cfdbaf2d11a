"""--out: only an unchanged pack of ours is replaced; no parents, temporaries or 0700 left behind."""

from __future__ import annotations

import json
import logging
import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from audit.cli.app import app
from audit.shared.commitment import default_key_path, key_text, new_key
from audit.shared.errors import BadInput
from reports import verify_pack, write_pack
from reports.destination import clean_stale
from tests.reports.fixtures import sample_results

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()

_CHILD = textwrap.dedent("""
    import sys, time
    import reports.pack
    from tests.reports.fixtures import sample_results

    def slow_pdf(html):
        print("WRITING", flush=True)
        time.sleep(60)
        return b"%PDF-"

    reports.pack.html_to_pdf = slow_pdf
    reports.pack.write_pack(sample_results(), sys.argv[1])
""")


def _snapshot(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def _start_writer(out: Path) -> subprocess.Popen[str]:
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(out)], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "WRITING"
    return child


def test_a_fake_manifest_does_not_make_a_directory_ours(tmp_path: Path) -> None:
    out = tmp_path / "results"
    out.mkdir()
    (out / "manifest.json").write_text(json.dumps({"outputs": {"results.json": {}, "thesis.tex": {}}}))
    (out / "results.json").write_text('{"schema_version": "1.0"}')
    (out / "thesis.tex").write_text("precious")
    before = _snapshot(out)
    with pytest.raises(BadInput, match="not an evidence pack"):
        write_pack(sample_results(), out, pdf=False)
    res = runner.invoke(app, ["run", str(tmp_path / "no-case.toml"), "--out", str(out)])
    assert res.exit_code == 2 and "--out" in res.stderr
    assert _snapshot(out) == before and sorted(p.name for p in tmp_path.iterdir()) == ["results"]


def test_a_pack_edited_since_it_was_written_is_not_replaced(tmp_path: Path) -> None:
    out = write_pack(sample_results("pass"), tmp_path / "pack", pdf=False)
    (out / "report.md").write_text("my notes on the audit")
    before = _snapshot(out)
    with pytest.raises(BadInput, match="not an evidence pack"):
        write_pack(sample_results(), out, pdf=False)
    assert _snapshot(out) == before


def test_parents_are_created_only_on_success(tmp_path: Path) -> None:
    bad = sample_results()
    bad["verdict"] = "maybe"
    with pytest.raises(ValueError):
        write_pack(bad, tmp_path / "a" / "b" / "pack", pdf=False)
    with pytest.raises(BadInput):
        write_pack(sample_results(), tmp_path / "c" / "pack", pdf=False, template_dir=tmp_path / "nope")
    assert list(tmp_path.iterdir()) == []
    out = write_pack(sample_results(), tmp_path / "a" / "b" / "pack", pdf=False)
    assert verify_pack(out) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["a"]


def test_pack_directory_follows_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        out = write_pack(sample_results(), tmp_path / "pack", pdf=False)
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o750
    assert stat.S_IMODE((out / "results.json").stat().st_mode) == 0o640


def test_sigterm_mid_write_removes_the_temporary(tmp_path: Path) -> None:
    child = _start_writer(tmp_path / "pack")
    try:
        assert len([p for p in tmp_path.iterdir() if ".tmp-" in p.name]) == 1
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=30)
    finally:
        child.kill()
    assert child.returncode != 0  # interrupted like Ctrl-C (the CLI maps that to exit 3)
    assert list(tmp_path.iterdir()) == []


def test_a_killed_runs_temporary_is_removed_by_the_next_run(tmp_path: Path,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    child = _start_writer(tmp_path / "pack")
    child.kill()  # SIGKILL: no handler runs
    child.wait(timeout=30)
    stale = [p for p in tmp_path.iterdir() if ".tmp-" in p.name]
    assert len(stale) == 1 and f".tmp-{child.pid}-" in stale[0].name
    with caplog.at_level(logging.WARNING, "unlearn_audit.pack"):
        out = write_pack(sample_results(), tmp_path / "pack", pdf=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pack"] and verify_pack(out) == []
    assert "left by an interrupted run" in caplog.text


def test_a_leftover_that_is_not_provably_stale_is_reported_not_deleted(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    alive = tmp_path / f".pack.tmp-{os.getppid()}-abc"  # a running process
    alive.mkdir()
    foreign = tmp_path / ".pack.tmp-999999999-xyz"  # a dead pid, but someone's own file inside
    foreign.mkdir()
    (foreign / "diary.txt").write_text("mine")
    other = tmp_path / ".other.tmp-999999999-q"  # another pack's name: not considered
    other.mkdir()
    with caplog.at_level(logging.WARNING, "unlearn_audit.pack"):
        assert clean_stale(tmp_path, ["pack"]) == []
    assert alive.is_dir() and (foreign / "diary.txt").is_file() and other.is_dir()
    assert "running process" in caplog.text and "left alone" in caplog.text


def test_an_existing_key_file_beside_a_new_pack_is_not_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "pack"
    key_path = default_key_path(out)
    key_path.write_text("someone's file")
    with pytest.raises(BadInput, match="--commitment-key"):
        write_pack(sample_results(), out, pdf=False, secret_file=(key_path, key_text(new_key())))
    assert key_path.read_text() == "someone's file" and not out.exists()


def test_the_generated_key_is_replaced_with_its_pack(tmp_path: Path) -> None:
    out = tmp_path / "pack"
    first, second = key_text(new_key()), key_text(new_key())
    write_pack(sample_results(), out, pdf=False, secret_file=(default_key_path(out), first))
    write_pack(sample_results(), out, pdf=False, secret_file=(default_key_path(out), second))
    assert default_key_path(out).read_text() == second
    assert stat.S_IMODE(default_key_path(out).stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pack", "pack.commitment-key"]
