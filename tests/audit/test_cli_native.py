"""The command line's conventions: --version, --formats / --no-pdf, a progress bar only on a TTY."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console
from typer.testing import CliRunner

import audit.cli.progress
from audit import __version__, run_audit
from audit.cli.app import app, parse_formats
from audit.cli.progress import CheckProgress, show_progress
from audit.engine.policy import resolve_policy
from audit.engine.runner import planned_checks
from audit.shared.errors import BadInput
from reports import verify_pack


def test_version_prints_name_and_version():
    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output == f"unlearn-audit {__version__}\n"


def test_progress_bar_advances_once_per_check(tiny_dir):
    from audit.core.case_file import load_case

    case = load_case(tiny_dir / "case.toml")
    total = len(planned_checks(resolve_policy(case, None)[0]))
    seen: list[str] = []
    buf = io.StringIO()
    with CheckProgress(total, Console(file=buf, force_terminal=True, width=100)) as bar:
        def spy(cid: str) -> None:
            seen.append(cid)
            bar(cid)
            assert bar.completed == len(seen) - 1  # the previous checks are done
        result = run_audit(case, progress=spy)
    assert seen == [c["id"] for c in result.checks] and len(seen) == total > 1
    assert bar.completed == total
    assert f"{total}/{total}" in buf.getvalue()


def test_no_bar_when_quiet_or_not_a_tty(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("CI", raising=False)
    assert show_progress(False, Tty()) is True
    assert show_progress(True, Tty()) is False
    assert show_progress(False, io.StringIO()) is False
    monkeypatch.setenv("CI", "1")
    assert show_progress(False, Tty()) is False


def test_run_quiet_writes_only_the_asked_views(tiny_dir, tmp_path, monkeypatch):
    calls: list[bool] = []
    monkeypatch.setattr(audit.cli.progress, "show_progress", lambda quiet, stream=None: calls.append(quiet) or False)
    out = tmp_path / "pack"
    res = CliRunner().invoke(app, ["run", str(tiny_dir / "case.toml"), "--out", str(out), "--no-pdf",
                                   "--quiet", "--format", "json"])
    assert res.exit_code in (0, 1, 3), res.output
    assert calls == [True]
    assert json.loads(res.stdout)["verdict"] in ("pass", "warn", "fail", "inconclusive")
    assert not (out / "report.pdf").exists() and (out / "report.html").is_file()
    assert verify_pack(out) == []


def test_bad_formats_is_exit_2_before_anything_runs(tiny_dir, tmp_path):
    out = tmp_path / "pack"
    res = CliRunner().invoke(app, ["run", str(tiny_dir / "case.toml"), "--out", str(out),
                                   "--formats", "html,docx"])
    assert res.exit_code == 2 and "--formats" in res.output and "docx" in res.output
    assert not out.exists()


@pytest.mark.parametrize(("text", "no_pdf", "want"), [
    ("all", False, {"json", "html", "md", "junit", "pdf"}),
    ("html,pdf", True, {"json", "html"}),
    ("MD", False, {"json", "md"}),
])
def test_parse_formats(text, no_pdf, want):
    assert parse_formats(text, no_pdf) == want


def test_parse_formats_rejects_an_empty_list():
    with pytest.raises(BadInput) as exc:
        parse_formats(" , ", no_pdf=False)
    assert exc.value.field == "--formats"
