"""A language-model case file through the CLI: detected or declared, every bad input exit 2, nothing written."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from audit.cli.app import app
from audit.core.case_file import load_case
from audit.lm.case import LanguageModelCase
from audit.shared.errors import BadInput


def _run(case, out):
    return CliRunner().invoke(app, ["run", str(case), "--out", str(out), "--format", "json"])


def test_detected_from_model_directories_and_declared(tiny_lms, tmp_path):
    case = load_case(tiny_lms.case(tmp_path / "a", tiny_lms.retrain(0)))
    assert isinstance(case, LanguageModelCase) and case.task == "language_model"
    assert case.task_info.declared is None and case.n == {"forget": 30, "retain": 60, "test": 30}
    declared = load_case(tiny_lms.case(tmp_path / "b", tiny_lms.retrain(0)).parent / "case.toml")
    path = declared.base_dir / "case.toml"
    path.write_text(path.read_text().replace('[case]\n', '[case]\ntask = "language_model"\n'))
    assert load_case(path).task_info.declared == "language_model"


def test_cli_run_writes_a_valid_pack(tiny_lms, tmp_path):
    out = tmp_path / "pack"
    res = _run(tiny_lms.case(tmp_path / "c", tiny_lms.retrain(0)), out)
    assert res.exit_code in (0, 3), res.output
    results = json.loads((out / "results.json").read_text())
    assert results["data"]["task"]["task"] == "language_model"
    assert results["data"]["text"]["max_tokens"] == 16 and results["models"]["original"]["format"] == "safetensors"
    assert all((out / f).is_file() for f in ("report.html", "report.md", "report.pdf", "junit.xml"))
    html = (out / "report.html").read_text()
    assert "Per-text mean token log-probability" in html and "ROC of the min_k_plus_plus attack" in html
    assert CliRunner().invoke(app, ["verify", str(out)]).exit_code == 0


@pytest.mark.parametrize(("edit", "field"), [
    (lambda d: (d / "original").unlink() or shutil.copytree(d.parent / "_pickled", d / "original"),
     "models.original"),
    (lambda d: _table(d, lambda df: df.drop(columns="text")), "data.text"),
    (lambda d: _table(d, lambda df: df.assign(text=[None] + df.text.tolist()[1:])), "data.text"),
    (lambda d: _table(d, lambda df: df.assign(split=df.split.replace("test", "retain"))), "data.split"),
    (lambda d: _table(d, lambda df: df.assign(perturbed=[[]] + df.perturbed.tolist()[1:])), "data.perturbed"),
    (lambda d: _table(d, lambda df: df.assign(perturbed=[[" "]] + df.perturbed.tolist()[1:])), "data.perturbed"),
    (lambda d: _table(d, lambda df: df.assign(answer=[None] + df.answer.tolist()[1:])), "data.answer"),
    (lambda d: _toml(d, 'label = "y"\n'), "data.label"),
    (lambda d: _toml(d, '\n[case]\ntask = "classification"\n', section=False), "case"),
])
def test_bad_input_exits_2_naming_the_field_and_writes_nothing(tiny_lms, tmp_path, edit, field):
    if not (tmp_path / "_pickled").exists():
        import torch

        shutil.copytree(tiny_lms.root / "original", tmp_path / "_pickled")
        from audit.lm.loader import load_causal_lm

        sd = load_causal_lm(tmp_path / "_pickled", role="original").model.state_dict()
        (tmp_path / "_pickled" / "model.safetensors").unlink()
        torch.save(sd, tmp_path / "_pickled" / "pytorch_model.bin")
    path = tiny_lms.case(tmp_path / "case", tiny_lms.retrain(0))
    edit(path.parent)
    out = tmp_path / "out"
    res = _run(path, out)
    assert res.exit_code == 2, res.output
    assert field in res.output and not out.exists()
    assert not list(tmp_path.glob("out*")) and "Traceback" not in res.output


def _table(d, change):
    df = pd.read_parquet(d / "data.parquet")
    change(df).to_parquet(d / "data.parquet")


def _toml(d, line, section=True):
    p = d / "case.toml"
    text = p.read_text()
    if section:
        text = text.replace("[data]\n", "[data]\n" + line)
    else:
        text = text.replace('[case]\nname = "tiny lm"\n', '[case]\nname = "tiny lm"\ntask = "classification"\n')
    p.write_text(text)


def test_jsonl_and_csv_tables_read_like_parquet(tiny_lms, tmp_path):
    path = tiny_lms.case(tmp_path / "j", tiny_lms.retrain(0))
    df = pd.read_parquet(path.parent / "data.parquet")
    df.to_json(path.parent / "data.jsonl", orient="records", lines=True)
    df.assign(perturbed=[json.dumps(p.tolist()) for p in df.perturbed]).to_csv(path.parent / "data.csv", index=False)
    for name in ("data.jsonl", "data.csv"):
        path.write_text(path.read_text().replace("data.parquet", name).replace("data.jsonl", name))
        case = load_case(path)
        assert case.column("perturbed", "forget")[0] == list(df.perturbed[0])
    df.assign(perturbed="[oops").to_csv(path.parent / "data.csv", index=False)
    with pytest.raises(BadInput, match="data.perturbed: row 0: not a JSON array"):
        load_case(path)
    df.assign(text=[3] + df.text.tolist()[1:]).to_json(path.parent / "data.jsonl", orient="records", lines=True)
    path.write_text(path.read_text().replace("data.csv", "data.jsonl"))
    with pytest.raises(BadInput, match="data.text: row 0: 'text' must be a string, got int 3"):
        load_case(path)
