"""results.json ``cost``: per check what it did (forward passes, resamples, attack models) and its time."""

from __future__ import annotations

import pytest

from audit.core.cache import OutputCache
from audit.core.case_file import load_case
from audit.engine.runner import run_audit
from tests.conftest import write_variant


@pytest.fixture(scope="module")
def audited(digits_dir, tmp_path_factory):
    case = load_case(write_variant(digits_dir, tmp_path_factory.mktemp("cost") / "case",
                                   unlearned="extra/retrained-other-seed.pt"))
    cache = OutputCache(case.models, case.X, case.y)
    return case, cache, run_audit(case, seed=0, cache=cache)


def test_every_check_that_ran_has_its_cost(audited) -> None:
    _, _, res = audited
    cost = res["cost"]
    ran = {c["id"] for c in res["checks"] if c["status"] != "skipped"}  # not for this task: no cost
    assert ran <= set(cost["checks"]) <= {c["id"] for c in res["checks"]}
    assert all(m["seconds"] >= 0 for m in cost["checks"].values())
    assert cost["seconds"] >= sum(m["seconds"] for m in cost["checks"].values()) * 0.99


def test_forward_passes_are_counted_once_per_model_and_split(audited) -> None:
    case, cache, res = audited
    cost = res["cost"]
    assert cost["forward_passes"] == sum(cache.calls.values()) == len(cache.calls)
    assert cost["forward_passes"] == sum(m.get("forward_passes", 0) for m in cost["checks"].values())
    assert 0 < cost["forward_seconds"] < cost["seconds"] and cost["overhead"] > 0
    again = run_audit(case, seed=0, cache=cache)  # everything cached: no model is called again
    assert again["cost"]["forward_passes"] == 0 and again["cost"]["overhead"] is None


def test_resamples_and_attack_models_are_counted(audited) -> None:
    case, _, res = audited
    checks = res["cost"]["checks"]
    n_boot = res["policy"]["general"]["n_bootstrap"]
    assert checks["unlearning_inference"]["bootstrap_resamples"] == n_boot
    folds = res["policy"]["unlearning_inference"]["folds"]
    # one forest per fold for O->U and every O->R_i; O->O changes nothing and trains none
    assert checks["unlearning_inference"]["attack_models_trained"] == folds * (1 + len(case.reference_roles))
    assert checks["membership_inference"]["bootstrap_resamples"] % n_boot == 0
    assert checks["utility"]["bootstrap_resamples"] > 0
    assert "bootstrap_resamples" not in checks["identity"]
