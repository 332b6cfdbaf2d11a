"""``methods --stream N``: baselines served request after request; requests survived before a retrain is due."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from audit.cli.app import app
from audit.core.case_file import load_case
from audit.lab.method_stream import run_method_stream
from audit.shared.errors import BadInput
from audit.training.recipes import get_recipe
from tests.audit._stream_helpers import FAST_POLICY


@pytest.mark.parametrize("args, field", [(["--stream", "0"], "--stream"),
                                         (["--stream", "2", "--method", "fedavg_retrain"], "--method")])
def test_bad_stream_request_exits_2_and_writes_nothing(digits_dir: Path, tmp_path: Path, args: list[str],
                                                       field: str) -> None:
    out = tmp_path / "pack"
    res = CliRunner().invoke(app, ["methods", "--case", str(digits_dir / "case.toml"), "--out", str(out), *args])
    assert res.exit_code == 2 and field in res.output, res.output
    assert not out.exists()


def test_too_few_references_is_bad_input(digits_dir: Path) -> None:
    with pytest.raises(BadInput, match="references"):
        run_method_stream(load_case(digits_dir / "case.toml"), ["finetune"], 2, references=1)


@pytest.mark.slow
def test_sisa_survives_longer_than_finetune(digits_dir: Path) -> None:
    case = load_case(digits_dir / "case.toml")
    recipe = get_recipe("torch-mlp", {**case.recipe_params, "epochs": 20})
    out = run_method_stream(case, ["retrain", "noop", "finetune", "sisa"], 3, recipe=recipe, policy=FAST_POLICY)
    survived = {m: r["stream"]["requests_survived"] for m, r in out.items()}
    assert survived["noop"] == 0 and out["noop"]["stream"]["first_failing_step"] == 1
    assert survived["retrain"] == 3 and out["retrain"]["stream"]["first_failing_step"] is None
    assert survived["sisa"] == 3  # exact shard retraining: never failed
    assert survived["finetune"] < survived["sisa"]
