"""cv-ranking: a model that still uses the licence fails feature removal; a retrained one passes."""

from pathlib import Path

import pytest

from audit.core.case_file import load_case
from audit.engine.runner import run_audit
from tests.conftest import write_variant


@pytest.fixture(scope="module")
def cv_dir(tmp_path_factory) -> Path:
    from audit.scenarios import build_scenario

    d = tmp_path_factory.mktemp("cv")
    build_scenario("cv-ranking", d, seed=0)
    return d


def _feature_removal(case_toml, policy=None):
    results = run_audit(load_case(case_toml), policy=policy, seed=0)
    return next(c for c in results["checks"] if c["id"] == "feature_removal"), results


def test_scenario_files(cv_dir):
    for name in ("case.toml", "data.parquet", "original.skops", "unlearned.skops",
                 "retrained-0.skops", "retrained-1.skops", "extra/retrained-other-seed.skops"):
        assert (cv_dir / name).is_file()


def test_approximate_unlearned_model_still_uses_licence_and_fails(cv_dir):
    check, results = _feature_removal(cv_dir / "case.toml")
    assert check["status"] == "fail" and check["required"]
    assert results["verdict"] == "fail"
    flip = next(m for m in check["metrics"] if m["name"] == "counterfactual_flip_rate")
    assert flip["value"] > 0.1 and flip["reference"] == 0.0
    assert flip["delta_ci"][0] > flip["margin"]


def test_noop_fails(cv_dir, tmp_path):
    case = write_variant(cv_dir, tmp_path / "noop", unlearned="original.skops")
    check, results = _feature_removal(case)
    assert results["verdict"] == "fail" and check["status"] == "skipped"
    assert next(c for c in results["checks"] if c["id"] == "identity")["status"] == "fail"
    # the check itself tells the no-op apart too (its positive control has power)
    check, _ = _feature_removal(case, policy={"identity": {"enabled": False}})
    assert check["status"] == "fail" and check["controls"]["positive"]["power"]


def test_retrained_other_seed_passes(cv_dir, tmp_path):
    case = write_variant(cv_dir, tmp_path / "retrain", unlearned="extra/retrained-other-seed.skops")
    check, _ = _feature_removal(case)
    assert check["status"] == "pass", check["summary"]
    assert all(m["status"] in (None, "pass") for m in check["metrics"])
