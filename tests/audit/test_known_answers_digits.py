"""Known answers on the digits scenario: a retrain passes, the no-op original fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli, write_variant


def _check(results: dict, cid: str) -> dict:
    return next(c for c in results["checks"] if c["id"] == cid)


@pytest.fixture(scope="module")
def retrain_run(digits_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict]:
    d = tmp_path_factory.mktemp("v")
    case = write_variant(digits_dir, d / "case", unlearned="extra/retrained-other-seed.pt")
    return run_cli(case, d / "pack")


@pytest.fixture(scope="module")
def noop_run(digits_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict]:
    d = tmp_path_factory.mktemp("v")
    case = write_variant(digits_dir, d / "case", unlearned="original.pt")
    return run_cli(case, d / "pack")


def test_retrain_with_another_seed_passes(retrain_run: tuple[int, dict]) -> None:
    code, results = retrain_run
    assert results["verdict"] == "pass"
    assert code == 0


def test_noop_original_fails(noop_run: tuple[int, dict]) -> None:
    code, results = noop_run
    assert results["verdict"] == "fail"
    assert code == 1


def test_noop_fails_by_identity_before_any_statistics(noop_run) -> None:
    checks = noop_run[1]["checks"]
    assert _check(noop_run[1], "identity")["status"] == "fail"
    assert all(c["status"] == "skipped" for c in checks if c["id"] != "identity")


def test_output_divergence_decides_on_the_forget_split(retrain_run) -> None:
    kl = next(m for m in _check(retrain_run[1], "output_divergence")["metrics"]
              if m["name"] == "kl" and m["split"] == "forget")
    assert kl["status"] == "pass"
    original = kl["controls"]["original"]  # the original scored as the candidate: the no-op
    assert original["status"] == "fail" and original["delta"] > kl["fail_margin"]
    assert original["value"] > 5 * kl["value"]
    assert kl["controls"]["negative"]["passed"] == kl["controls"]["negative"]["total"] == 4


def test_utility_cannot_tell_so_it_is_not_power(retrain_run) -> None:
    # A no-op keeps utility: utility alone must not be what passes a model.
    ut = _check(retrain_run[1], "utility")
    assert ut["status"] == "pass" and not ut["controls"]["positive"]["power"]
    assert "utility" not in retrain_run[1]["controls"]["power_from"]
    assert retrain_run[1]["controls"]["power"]


def test_every_metric_carries_reference_and_interval(retrain_run) -> None:
    for check in retrain_run[1]["checks"]:
        for m in check["metrics"]:
            if m["comparator"] != "info" and m["status"] in ("pass", "fail"):
                assert m["reference"] is not None and m["margin"] is not None
                assert len(m["reference_values"]) == 4 and m["reference_source"]


def test_builtin_approximate_method_is_not_passed(digits_shipped_run: tuple[int, dict]) -> None:
    code, results = digits_shipped_run
    assert results["verdict"] in ("fail", "inconclusive")
    assert code in (1, 3)
