"""Policy: defaults from the checks, overrides from TOML, unknown keys rejected."""

from __future__ import annotations

import pytest

from audit.engine.policy import default_policy, merge_policy
from audit.engine.runner import exit_code_of, verdict_of
from audit.shared.errors import BadInput


def test_defaults_cover_every_registered_check() -> None:
    pol = default_policy()
    for cid in ("utility", "output_divergence", "parameter_distance"):
        assert {"required", "enabled"} <= set(pol[cid])
    assert pol["general"]["alpha"] == 0.05


def test_override_and_auto_margins() -> None:
    pol = merge_policy(default_policy(), {"utility": {"accuracy_margin": 0.05},
                                          "output_divergence": {"kl_margin": 0.01}})
    assert pol["utility"]["accuracy_margin"] == 0.05
    assert pol["output_divergence"]["kl_margin"] == 0.01
    pol = merge_policy(pol, {"output_divergence": {"kl_margin": "auto"}})
    assert pol["output_divergence"]["kl_margin"] == "auto"


@pytest.mark.parametrize("bad", [
    {"utility": {"typo": 1}},
    {"nosuchcheck": {}},
    {"utility": {"required": "yes"}},
    {"general": {"n_bootstrap": 10}},
])
def test_bad_overrides(bad: dict) -> None:
    with pytest.raises(BadInput):
        merge_policy(default_policy(), bad)


def test_verdict_is_worst_required_status() -> None:
    checks = [{"required": True, "status": "pass"}, {"required": True, "status": "warn"},
              {"required": False, "status": "fail"}]
    assert verdict_of(checks) == "warn"
    checks.append({"required": True, "status": "skipped"})
    assert verdict_of(checks) == "inconclusive"
    checks.append({"required": True, "status": "error"})
    assert verdict_of(checks) == "error"
    checks.append({"required": True, "status": "fail"})
    assert verdict_of(checks) == "fail"


@pytest.mark.parametrize(("verdict", "code"), [("pass", 0), ("warn", 0), ("fail", 1),
                                                 ("inconclusive", 3), ("error", 3)])
def test_exit_codes(verdict: str, code: int) -> None:
    assert exit_code_of(verdict) == code
    assert exit_code_of("warn", fail_on_warn=True) == 1


def test_required_check_can_be_relaxed_by_policy(tiny_dir) -> None:
    from audit.core.case_file import load_case
    from audit.engine.runner import run_audit

    case = load_case(tiny_dir / "case.toml")
    res = run_audit(case, policy={"output_divergence": {"required": False},
                                  "utility": {"enabled": False}})
    ids = {c["id"]: c for c in res["checks"]}
    assert "utility" not in ids
    assert ids["output_divergence"]["required"] is False
