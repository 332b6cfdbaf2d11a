"""Gate ergonomics of the CLI around packs: --sign-key, --template, --format json, verify."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from audit.cli.app import app
from tests.reports.conftest import write_key

runner = CliRunner()


def test_run_signed_json_then_verify(private_case: Path, tmp_path: Path) -> None:
    key = write_key(tmp_path / "k.pem")
    out = tmp_path / "pack"
    res = runner.invoke(app, ["run", str(private_case), "--out", str(out), "--sign-key", str(key),
                              "--format", "json"])
    printed = json.loads(res.stdout)
    assert res.exit_code == printed["exit_code"]
    assert res.stdout == (out / "results.json").read_text("utf-8")  # results.json on stdout, exactly
    manifest = json.loads((out / "manifest.json").read_text())
    ok = runner.invoke(app, ["verify", str(out), "--public-key", manifest["signature"]["public_key"]])
    assert ok.exit_code == 0 and json.loads(ok.stdout)["ok"] is True
    data = bytearray((out / "report.md").read_bytes())
    data[10] ^= 1
    (out / "report.md").write_bytes(bytes(data))
    bad = runner.invoke(app, ["verify", str(out)])
    assert bad.exit_code == 1 and "report.md: sha256 mismatch" in bad.stderr


def test_run_with_user_template_and_text_summary(private_case: Path, tmp_path: Path) -> None:
    t = tmp_path / "t"
    t.mkdir()
    (t / "report.md.j2").write_text("gate says {{ r.verdict }}\n")
    out = tmp_path / "pack"
    # no PDF (~90 % of the run): the template's report.md and the summary are under test
    res = runner.invoke(app, ["run", str(private_case), "--out", str(out), "--template", str(t), "--no-pdf"])
    verdict = json.loads((out / "results.json").read_text())["verdict"]
    assert (out / "report.md").read_text() == f"gate says {verdict}\n"
    assert verdict.upper() in res.stdout and "unlearn-audit verify" in res.stdout


def test_bad_sign_key_exits_2_and_writes_nothing(private_case: Path, tmp_path: Path) -> None:
    (tmp_path / "k.pem").write_text("not a key")
    res = runner.invoke(app, ["run", str(private_case), "--out", str(tmp_path / "pack"),
                              "--sign-key", str(tmp_path / "k.pem")])
    assert res.exit_code == 2 and "--sign-key" in res.stderr and not (tmp_path / "pack").exists()


def test_verify_of_a_non_pack(tmp_path: Path) -> None:
    assert runner.invoke(app, ["verify", str(tmp_path / "missing")]).exit_code == 2
    res = runner.invoke(app, ["verify", str(tmp_path)])
    assert res.exit_code == 1 and "manifest.json: unreadable" in res.stderr
