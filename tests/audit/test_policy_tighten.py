"""Gate policy vs case policy: with ``--policy`` the case's ``[policy]`` may only tighten."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from audit.core.options import Option, tightens
from audit.engine.policy import declarations, default_policy, resolve_policy
from audit.shared.errors import BadInput


def _case(policy: dict | None = None, features: tuple[str, ...] = ("f0", "f1")) -> SimpleNamespace:
    return SimpleNamespace(policy_overrides=policy or {}, features=list(features))


@pytest.mark.parametrize(("opt", "gate", "case", "ok"), [
    (Option(float, 0.05, tighter="lower"), 0.05, 0.01, True),
    (Option(float, 0.05, tighter="lower"), 0.05, 0.10, False),
    (Option(float, "auto", allow_auto=True, tighter="lower"), "auto", 0.01, False),
    (Option(float, 0.05, allow_auto=True, tighter="lower"), 0.05, "auto", False),
    (Option(bool, False, tighter="higher"), False, True, True),
    (Option(bool, True, tighter="higher"), True, False, False),
    (Option(list, ["kl"], tighter="superset"), ["kl"], ["kl", "js"], True),
    (Option(list, ["kl", "js"], tighter="superset"), ["kl", "js"], ["kl"], False),
    (Option(str, "fail", tighter=("warn", "fail")), "warn", "fail", True),
    (Option(str, "fail", tighter=("warn", "fail")), "fail", "warn", False),
    (Option(str, "", tighter="unset"), "", "licence", True),
    (Option(str, "", tighter="unset"), "licence", "age", False),
    (Option(int, 4096, tighter="neutral"), 4096, 1, True),
    (Option(float, 0.05), 0.05, 0.01, False),  # no direction: fixed by the gate
    (Option(float, 0.05), 0.05, 0.05, True),  # unchanged is always fine
])
def test_tightens_per_rule(opt: Option, gate: object, case: object, ok: bool) -> None:
    assert (tightens(opt, gate, case) is None) is ok


def test_every_declared_direction_is_known() -> None:
    for options in declarations().values():
        for opt in options.values():
            rule = opt.tighter
            assert rule in (None, "lower", "higher", "superset", "unset", "neutral") or (
                isinstance(rule, tuple) and set(rule) == set(opt.choices or ()))


def test_without_gate_the_case_overrides_defaults() -> None:
    pol, src = resolve_policy(_case({"utility": {"accuracy_margin": 0.2}}))
    assert pol["utility"]["accuracy_margin"] == 0.2
    assert src["gate"] is None and src["case"] == {"utility": {"accuracy_margin": 0.2}}
    assert src["defaults"] == default_policy()


def test_case_that_tightens_the_gate_is_accepted_and_recorded() -> None:
    gate = {"utility": {"accuracy_margin": 0.05}, "output_divergence": {"gate_on": ["kl"]}}
    case = {"utility": {"accuracy_margin": 0.02, "splits": ["forget", "retain", "test"]},
            "output_divergence": {"gate_on": ["kl", "tv"]},
            "subgroup_shift": {"on_shift": "fail"},
            "general": {"on_no_power": "inconclusive", "n_bootstrap": 2000, "batch_size": 64},
            "parameter_distance": {"required": True},
            "feature_removal": {"feature": "f1"}}
    pol, src = resolve_policy(_case(case), gate)
    assert pol["utility"]["accuracy_margin"] == 0.02
    assert pol["output_divergence"]["gate_on"] == ["kl", "tv"]
    assert pol["parameter_distance"]["required"] is True
    assert src["gate"] == {"utility": {"accuracy_margin": 0.05}, "output_divergence": {"gate_on": ["kl"]}}
    assert src["case"]["utility"]["accuracy_margin"] == 0.02


@pytest.mark.parametrize(("gate", "case", "field"), [
    ({"utility": {"accuracy_margin": 0.03}}, {"utility": {"accuracy_margin": 0.1}},
     "case.policy.utility.accuracy_margin"),
    # a key the gate leaves at its default is still the gate's value
    ({}, {"membership_inference": {"auc_margin": 0.2}}, "case.policy.membership_inference.auc_margin"),
    ({}, {"utility": {"required": False}}, "case.policy.utility.required"),
    ({}, {"output_divergence": {"enabled": False}}, "case.policy.output_divergence.enabled"),
    ({"output_divergence": {"gate_on": ["kl", "js"]}}, {"output_divergence": {"gate_on": ["kl"]}},
     "case.policy.output_divergence.gate_on"),
    ({}, {"utility": {"splits": ["test"]}}, "case.policy.utility.splits"),
    ({}, {"subgroup_shift": {"on_shift": "warn"}}, "case.policy.subgroup_shift.on_shift"),
    ({}, {"general": {"on_no_power": "warn"}}, "case.policy.general.on_no_power"),
    ({}, {"general": {"alpha": 0.1}}, "case.policy.general.alpha"),
    ({}, {"general": {"fail_on_warn": False, "n_bootstrap": 500}}, "case.policy.general.n_bootstrap"),
    ({"utility": {"loss_margin": 0.1}}, {"utility": {"loss_margin": "auto"}}, "case.policy.utility.loss_margin"),
    ({"feature_removal": {"feature": "f0"}}, {"feature_removal": {"feature": "f1"}},
     "case.policy.feature_removal.feature"),
])
def test_case_that_loosens_the_gate_is_refused(gate: dict, case: dict, field: str) -> None:
    with pytest.raises(BadInput) as info:
        resolve_policy(_case(case), gate)
    assert info.value.field == field
    assert "loosens the gate policy" in info.value.message and "gate " in info.value.message


def test_loosening_message_names_both_values() -> None:
    with pytest.raises(BadInput, match=r"gate 0\.03, case 0\.1\)"):
        resolve_policy(_case({"utility": {"accuracy_margin": 0.1}}), {})


def test_feature_must_be_a_case_feature() -> None:
    with pytest.raises(BadInput) as info:
        resolve_policy(_case({"feature_removal": {"feature": "nope"}}))
    assert info.value.field == "case.policy.feature_removal.feature"
    with pytest.raises(BadInput) as info:
        resolve_policy(_case(), {"feature_removal": {"feature": "nope"}})
    assert info.value.field == "policy.feature_removal.feature"
