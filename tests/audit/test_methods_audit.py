"""Method audit and the `methods` command: known answers (retrain vs no-op) on digits with a planted signal."""

import json

import pytest
import typer
from typer.testing import CliRunner

from audit.cli.methods import register
from audit.core.case_file import load_case
from audit.lab.method_audit import run_method_audit
from audit.shared.errors import BadInput
from reports import validate_results, verify_pack
from tests.conftest import write_digits_method_case


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("digits_methods")
    write_digits_method_case(d)
    return d


@pytest.fixture(scope="module")
def results(case_dir):
    return run_method_audit(load_case(case_dir / "case.toml"), ["retrain", "noop", "finetune", "sisa", "newton"],
                            [0, 1, 2], seed=0, policy={"general": {"n_bootstrap": 200}})


def _check(results, name):
    return next(c for c in results["checks"] if c["id"] == f"method_{name}")


def _metric(check, name):
    """The metric (of the first seed, for per-seed metrics ``name[seed=s]``)."""
    return next(m for m in check["metrics"] if m["name"].split("[")[0] == name)


@pytest.mark.slow  # ~30-60 s on the shared 2-core machine
def test_results_valid_and_side_by_side(results):
    assert validate_results(results) in (None, [])
    assert results["case"]["mode"] == "method"
    table = results["checks"][0]["tables"][0]
    assert [r[0] for r in table["rows"]] == ["retrain", "noop", "finetune", "sisa", "newton"]


@pytest.mark.slow  # ~30-60 s on the shared 2-core machine
def test_noop_fails_and_retrain_does_not(results):
    noop, retrain = _check(results, "noop"), _check(results, "retrain")
    assert noop["status"] == "fail"
    assert _metric(noop, "injection_ratio")["value"] == pytest.approx(1.0)
    assert _metric(noop, "injection_ratio")["status"] == "fail"  # decided by the kernel
    assert _metric(noop, "canary_detected")["value"] == 1.0
    assert _metric(noop, "canary_detected")["status"] is None  # reported, no status
    assert retrain["status"] == "pass"
    # an MLP's untrained weights on the injected column give a retrain a small non-zero
    # attribution; the check compares U's ratio with R's, not with 0
    inj = _metric(retrain, "injection_ratio")
    assert abs(inj["value"]) < 0.5 and inj["status"] != "fail"
    assert _metric(retrain, "canary_detected")["value"] == 0.0
    assert not noop["required"] and _check(results, "finetune")["required"]


@pytest.mark.slow  # ~30-60 s on the shared 2-core machine
def test_sisa_reports_storage_and_inapplicable_method_is_skipped(results):
    assert _metric(_check(results, "sisa"), "storage_bytes")["value"] > 0
    assert _check(results, "newton")["status"] == "skipped"


def test_bad_input(case_dir, tiny_dir):
    case = load_case(case_dir / "case.toml")
    with pytest.raises(BadInput, match="--method"):
        run_method_audit(case, ["nope"], [0])
    with pytest.raises(BadInput, match="seeds"):
        run_method_audit(case, ["noop"], [])
    with pytest.raises(BadInput, match="policy.method.references"):
        run_method_audit(case, ["noop"], [0], policy={"method": {"references": 1}})
    with pytest.raises(BadInput, match="policy.method.nope"):
        run_method_audit(case, ["noop"], [0], policy={"method": {"nope": 1}})
    with pytest.raises(BadInput):
        run_method_audit(load_case(tiny_dir / "case.toml"), ["noop"], [0])  # no recipe


def test_cli_writes_pack_and_exits_with_verdict(case_dir, tmp_path):
    app = typer.Typer()
    register(app)
    app.command("noop-placeholder")(lambda: None)  # typer needs >1 command to keep the name
    out = tmp_path / "pack"
    res = CliRunner().invoke(app, ["methods", "--case", str(case_dir / "case.toml"), "--out", str(out),
                                   "--methods", "retrain,noop,finetune", "--seeds", "0,1", "--epochs", "3"])
    assert res.exit_code in (1, 3), res.output
    assert verify_pack(out) == []
    data = json.loads((out / "results.json").read_text())
    assert data["case"]["mode"] == "method"
    bad = CliRunner().invoke(app, ["methods", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2
