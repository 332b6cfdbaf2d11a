"""Exit codes are a contract: every failure is 2 (bad input) or 3 (internal), never 1 or a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from audit.cli.app import app

runner = CliRunner()


def _case(tiny_dir: Path, tmp_path: Path) -> Path:
    d = tmp_path / "case"
    shutil.copytree(tiny_dir, d)
    return d / "case.toml"


def _boom(*_: Any, **__: Any) -> Any:
    raise ValueError("engine bug\nsecond line")


def _left_over(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir() if p.name not in ("case", "policy.toml"))


def test_internal_error_is_exit_3_one_line_no_traceback(tiny_dir: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("audit.engine.runner.run_audit", _boom)
    res = runner.invoke(app, ["run", str(_case(tiny_dir, tmp_path)), "--out", str(tmp_path / "pack")])
    assert res.exit_code == 3, res.output
    assert "error: internal: ValueError: engine bug second line (run with --debug" in res.output
    assert "Traceback" not in res.output
    assert _left_over(tmp_path) == []


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_shows_the_traceback_and_keeps_exit_3(where: str, tiny_dir: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("audit.engine.runner.run_audit", _boom)
    args = ["run", str(_case(tiny_dir, tmp_path)), "--out", str(tmp_path / "pack")]
    args = ["--debug", *args] if where == "before" else [*args, "--debug"]
    res = runner.invoke(app, args)
    assert res.exit_code == 3
    assert "Traceback" in res.output and "_boom" in res.output


def test_interrupt_is_exit_3_not_1(tiny_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*_: Any, **__: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("audit.engine.runner.run_audit", interrupted)
    res = runner.invoke(app, ["run", str(_case(tiny_dir, tmp_path)), "--out", str(tmp_path / "pack")])
    assert res.exit_code == 3 and "interrupted" in res.output
    assert _left_over(tmp_path) == []


def test_deeply_nested_case_toml(tiny_dir: Path, tmp_path: Path) -> None:
    case = _case(tiny_dir, tmp_path)
    case.write_text(case.read_text() + "\n[policy]\nx = " + "[" * 5000 + "]" * 5000 + "\n")
    res = runner.invoke(app, ["run", str(case), "--out", str(tmp_path / "pack")])
    assert res.exit_code == 2 and "error: case:" in res.output and "too deeply nested" in res.output
    assert "Traceback" not in res.output


def test_deeply_nested_policy_toml(tiny_dir: Path, tmp_path: Path) -> None:
    pol = tmp_path / "policy.toml"
    pol.write_text("[general]\nx = " + "[" * 5000 + "]" * 5000 + "\n")
    res = runner.invoke(app, ["run", str(_case(tiny_dir, tmp_path)), "--out", str(tmp_path / "pack"),
                              "--policy", str(pol)])
    assert res.exit_code == 2 and "error: policy:" in res.output and "too deeply nested" in res.output


@pytest.mark.parametrize(("policy", "field"), [
    ("[utility]\naccuracy_margin = nan\n", "policy.utility.accuracy_margin"),
    ("[utility]\naccuracy_margin = inf\n", "policy.utility.accuracy_margin"),
    ("[utility]\naccuracy_margin = -0.1\n", "policy.utility.accuracy_margin"),
    ('[general]\nn_bootstrap = "auto"\n', "policy.general.n_bootstrap"),
    ("[general]\nbatch_size = 0\n", "policy.general.batch_size"),
    ("[membership_inference]\nshadow_models = 3\n", "policy.membership_inference.shadow_models"),
])
def test_bad_policy_values_exit_2_before_any_work(policy: str, field: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("audit.core.case_file.load_case", _boom)  # the policy is refused before the case loads
    pol = tmp_path / "policy.toml"
    pol.write_text(policy)
    res = runner.invoke(app, ["run", str(tmp_path / "case.toml"), "--out", str(tmp_path / "pack"),
                              "--policy", str(pol)])
    assert res.exit_code == 2 and field in res.output, res.output


@pytest.mark.parametrize("command", [["run", "{t}/case.toml", "--out", "{t}/pack"], ["demo", "--out", "{t}/d"],
                                     ["scenario", "digits", "--out", "{t}/s"]])
def test_negative_seed_is_a_usage_error(command: list[str], tmp_path: Path) -> None:
    res = runner.invoke(app, [*(a.format(t=tmp_path) for a in command), "--seed", "-1"])
    assert res.exit_code == 2 and "--seed" in res.output
    assert list(tmp_path.iterdir()) == []


def test_template_syntax_error_refused_before_the_audit(tiny_dir: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("audit.engine.runner.run_audit", _boom)
    tpl = tmp_path / "tpl"
    tpl.mkdir()
    (tpl / "report.html.j2").write_text("{{ nope(")
    res = runner.invoke(app, ["run", str(_case(tiny_dir, tmp_path)), "--out", str(tmp_path / "pack"),
                              "--template", str(tpl)])
    assert res.exit_code == 2 and "--template" in res.output and "report.html.j2" in res.output


@pytest.mark.parametrize(("exc", "field"), [
    (PermissionError(13, "Permission denied"), "--out"),
    (OSError(28, "No space left on device"), "--out"),
])
def test_pack_write_failure_is_bad_input(exc: Exception, field: str, tiny_dir: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_: Any, **__: Any) -> None:
        raise exc

    monkeypatch.setattr("audit.engine.runner.run_audit", lambda *a, **k: {"verdict": "pass", "exit_code": 0})
    monkeypatch.setattr("audit.engine.runner.write_evidence", fail)
    res = runner.invoke(app, ["run", str(_case(tiny_dir, tmp_path)), "--out", str(tmp_path / "pack")])
    assert res.exit_code == 2 and f"error: {field}:" in res.output and exc.strerror in res.output


def test_template_render_error_is_bad_input(tiny_dir: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import jinja2

    def fail(*_: Any, **__: Any) -> None:
        raise jinja2.UndefinedError("'dict object' has no attribute 'nope'")

    monkeypatch.setattr("audit.engine.runner.run_audit", lambda *a, **k: {"verdict": "pass", "exit_code": 0})
    monkeypatch.setattr("audit.engine.runner.write_evidence", fail)
    res = runner.invoke(app, ["run", str(_case(tiny_dir, tmp_path)), "--out", str(tmp_path / "pack")])
    assert res.exit_code == 2 and "error: --template:" in res.output and "nope" in res.output


def test_out_under_a_file_is_refused_up_front(tiny_dir: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("audit.engine.runner.run_audit", _boom)
    case = _case(tiny_dir, tmp_path)
    res = runner.invoke(app, ["run", str(case), "--out", str(case.parent / "data.csv" / "pack")])
    assert res.exit_code == 2 and "error: --out:" in res.output and "not a directory" in res.output


def test_scenario_out_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    res = runner.invoke(app, ["scenario", "digits", "--out", str(target)])
    assert res.exit_code == 2 and "error: --out:" in res.output and "is a file" in res.output
    assert target.read_text() == "mine"


@pytest.mark.parametrize("manifest", ["[1,2", "[]", '{"outputs": 5}', "\xff"])
def test_verify_odd_manifest_never_a_traceback(manifest: str, tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(manifest, encoding="latin-1")
    res = runner.invoke(app, ["verify", str(tmp_path)])
    assert res.exit_code in (1, 2) and "Traceback" not in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
