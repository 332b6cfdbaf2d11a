"""Known answers for regression (issue 13 item 3), in both directions, over seeds and two families.

A Ridge regression case (scikit-learn, saved with skops) audited through the CLI, and an
``MLPRegressor`` case through the Python API (:mod:`tests.audit._regression_case`):

* a fresh retrain with a new seed passes (exit 0, with power);
* the original posing as unlearned fails (exit 1) — by identity;
* a near-copy of the original (refitted on the same rows, another digest) with the identity
  check off fails on statistics: a forgetting check (membership, divergence) fails it.

Seeds 0 and 1 run by default; 2..4 are ``slow``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from audit.cli.app import app
from audit.engine.runner import run_audit
from reports import validate_results
from tests.audit._regression_case import write_regression_case

SEEDS = [0, 1, pytest.param(2, marks=pytest.mark.slow), pytest.param(3, marks=pytest.mark.slow),
         pytest.param(4, marks=pytest.mark.slow)]
NO_IDENTITY = "[identity]\nenabled = false\nrequired = false\n"
FORGETTING = {"membership_inference", "output_divergence"}


def _cli(case: Path, out: Path, policy: str | None = None) -> tuple[int, dict]:
    args = ["run", str(case), "--out", str(out), "--formats", "json,md", "--quiet"]
    if policy is not None:
        pol = out.parent / "policy.toml"
        pol.write_text(policy)
        args += ["--policy", str(pol)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code in (0, 1, 3), res.output
    results = json.loads((out / "results.json").read_text())
    validate_results(results)  # the schema accepts a regression pack
    return res.exit_code, results


def _failed(results: dict) -> set[str]:
    return {c["id"] for c in results["checks"] if c["required"] and c["status"] == "fail"}


@pytest.mark.parametrize("seed", SEEDS)
def test_ridge_retrain_passes_via_cli(tmp_path: Path, seed: int) -> None:
    code, results = _cli(write_regression_case(tmp_path / "case", "ridge", "retrain", seed), tmp_path / "out")
    assert results["data"]["task"]["task"] == "regression"
    assert results["verdict"] == "pass", results["verdict_reason"]
    assert code == 0 and results["controls"]["power"]
    assert "rmse" in (tmp_path / "out" / "report.md").read_text()


@pytest.mark.parametrize("seed", SEEDS)
def test_ridge_original_fails_via_cli(tmp_path: Path, seed: int) -> None:
    code, results = _cli(write_regression_case(tmp_path / "case", "ridge", "original", seed), tmp_path / "out")
    assert code == 1 and results["verdict"] == "fail"
    assert _failed(results) == {"identity"}


@pytest.mark.parametrize("seed", SEEDS)
def test_ridge_near_copy_fails_on_statistics_via_cli(tmp_path: Path, seed: int) -> None:
    case = write_regression_case(tmp_path / "case", "ridge", "near_copy", seed)
    code, results = _cli(case, tmp_path / "out", NO_IDENTITY)
    assert code == 1 and results["verdict"] == "fail"
    assert _failed(results) & FORGETTING, _failed(results)


@pytest.mark.parametrize("seed", SEEDS)
def test_mlp_retrain_passes(tmp_path: Path, seed: int) -> None:
    result = run_audit(write_regression_case(tmp_path, "mlp", "retrain", seed))
    assert result.verdict == "pass", result["verdict_reason"]
    assert result["controls"]["power"]


@pytest.mark.parametrize("seed", SEEDS)
def test_mlp_near_copy_fails_on_statistics(tmp_path: Path, seed: int) -> None:
    result = run_audit(write_regression_case(tmp_path, "mlp", "near_copy", seed),
                       policy={"identity": {"enabled": False, "required": False}})
    assert result.verdict == "fail"
    assert _failed(result) & FORGETTING, _failed(result)


def test_mlp_original_fails(tmp_path: Path) -> None:
    result = run_audit(write_regression_case(tmp_path, "mlp", "original", 0))
    assert result.verdict == "fail" and _failed(result) == {"identity"}
