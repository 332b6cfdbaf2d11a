"""``unlearn-audit init``: inspect a built scenario's files, write a case that ``run`` accepts."""

from __future__ import annotations

import doctest
import json
import tomllib

import pandas as pd
from typer.testing import CliRunner

from audit.cli import init as cli_init
from audit.cli.app import app


def _init(d, out, *extra):
    args = ["init", "--original", str(d / "original.skops"), "--unlearned", str(d / "unlearned.skops"),
            "--retrained", str(d / "retrained-0.skops"), "--retrained", str(d / "retrained-1.skops"),
            "--data", str(d / "data.csv"), "--out", str(out), *extra]
    return CliRunner().invoke(app, args)


def test_init_writes_a_case_that_runs(tiny_dir, tmp_path):
    case = tmp_path / "case.toml"
    res = _init(tiny_dir, case, "--groups", "school")
    assert res.exit_code == 0, res.output
    toml = tomllib.loads(case.read_text())
    data = dict(toml["data"])
    assert (case.parent / data.pop("path")).resolve() == (tiny_dir / "data.csv").resolve()
    assert data == {"label": "label", "split": "split", "groups": ["school"], "id": "row_id"}
    assert len(toml["models"]["retrained"]) == 2
    assert "# guessed" in case.read_text() and "skops" in case.read_text()
    run = CliRunner().invoke(app, ["run", str(case), "--out", str(tmp_path / "pack"), "--format", "json",
                                   "--formats", "json,md", "--quiet"])
    assert run.exit_code in (0, 1, 3), run.output
    results = json.loads((tmp_path / "pack" / "results.json").read_text())
    assert results["data"]["groups"] == ["school"] and results["exit_code"] == run.exit_code
    assert sorted(p.name for p in (tmp_path / "pack").iterdir()) == [
        "attestation.intoto.json", "manifest.json", "report.md", "results.json"]


def test_init_refuses_to_overwrite(tiny_dir, tmp_path):
    case = tmp_path / "case.toml"
    case.write_text("# mine\n")
    res = _init(tiny_dir, case)
    assert res.exit_code == 2 and "--out" in res.output and "refusing to overwrite" in res.output
    assert case.read_text() == "# mine\n"


def test_init_names_the_column_it_cannot_guess(tiny_dir, tmp_path):
    df = pd.read_csv(tiny_dir / "data.csv").rename(columns={"label": "outcome", "split": "part"})
    d = tmp_path / "d"
    d.mkdir()
    for f in tiny_dir.glob("*.skops"):
        (d / f.name).write_bytes(f.read_bytes())
    df.to_csv(d / "data.csv", index=False)
    res = _init(d, tmp_path / "case.toml")
    assert res.exit_code == 2 and "--label" in res.output and "outcome" in res.output
    assert not (tmp_path / "case.toml").exists()
    res = _init(d, tmp_path / "case.toml", "--label", "outcome")
    assert res.exit_code == 0, res.output  # the split column is found by its values
    assert tomllib.loads((tmp_path / "case.toml").read_text())["data"]["split"] == "part"
    res = _init(d, tmp_path / "other.toml", "--label", "nope")
    assert res.exit_code == 2 and "no column 'nope'" in res.output


def test_init_bad_model_file_is_exit_2_naming_the_option(tiny_dir, tmp_path):
    res = CliRunner().invoke(app, ["init", "--original", str(tmp_path / "missing.onnx"),
                                   "--unlearned", str(tiny_dir / "unlearned.skops"),
                                   "--retrained", str(tiny_dir / "retrained-0.skops"),
                                   "--data", str(tiny_dir / "data.csv"), "--out", str(tmp_path / "c.toml")])
    assert res.exit_code == 2 and "--original" in res.output and "file not found" in res.output
    assert list(tmp_path.iterdir()) == []


def test_init_examples_run():
    failures, attempted = doctest.testmod(cli_init, optionflags=doctest.ELLIPSIS)
    assert failures == 0 and attempted >= 4
