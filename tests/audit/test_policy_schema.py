"""Policy schema: every value is checked against its declaration, the field is named."""

from __future__ import annotations

import math

import pytest

from audit.checks import registry
from audit.core.options import Option, validate_value
from audit.engine.policy import (
    GENERAL_OPTIONS,
    declarations,
    default_policy,
    merge_policy,
    validate_policy,
)
from audit.shared.errors import BadInput

BAD = [
    # (section, key, value, field named in the error)
    ("output_divergence", "gate_on", ["KL"], "policy.output_divergence.gate_on[0]"),
    ("output_divergence", "gate_on", ["kl", "jsd"], "policy.output_divergence.gate_on[1]"),
    ("output_divergence", "gate_on", [], "policy.output_divergence.gate_on"),
    ("output_divergence", "gate_on", "kl", "policy.output_divergence.gate_on"),
    ("output_divergence", "splits", ["forget", "holdout"], "policy.output_divergence.splits[1]"),
    ("utility", "splits", ["tset"], "policy.utility.splits[0]"),
    ("membership_inference", "attacks", ["loss", "lira"], "policy.membership_inference.attacks[1]"),
    ("membership_inference", "attacks", [], "policy.membership_inference.attacks"),
    ("membership_inference", "fpr_levels", [0.01, 1.5], "policy.membership_inference.fpr_levels[1]"),
    ("membership_inference", "shadow_models", 2, "policy.membership_inference.shadow_models"),
    ("membership_inference", "shadow_models", 5, "policy.membership_inference.shadow_models"),
    ("membership_inference", "shadow_models", 100_000_000, "policy.membership_inference.shadow_models"),
    ("general", "n_bootstrap", 99_999_999_999, "policy.general.n_bootstrap"),
    ("membership_inference", "auc_margin", math.nan, "policy.membership_inference.auc_margin"),
    ("subgroup_shift", "metrics", ["accuracy", "auc"], "policy.subgroup_shift.metrics[1]"),
    ("subgroup_shift", "on_shift", "block", "policy.subgroup_shift.on_shift"),
    ("subgroup_shift", "discovery_signal", "gradient", "policy.subgroup_shift.discovery_signal"),
    ("subgroup_shift", "min_group_size", 1, "policy.subgroup_shift.min_group_size"),
    ("unlearning_inference", "features", ["l2", "l3"], "policy.unlearning_inference.features[1]"),
    ("unlearning_inference", "features", [], "policy.unlearning_inference.features"),
    ("utility", "accuracy_margin", -0.01, "policy.utility.accuracy_margin"),
    ("utility", "accuracy_margin", math.inf, "policy.utility.accuracy_margin"),
    ("utility", "accuracy_margin", True, "policy.utility.accuracy_margin"),
    ("utility", "accuracy_margin", "auto", "policy.utility.accuracy_margin"),
    ("utility", "loss_margin", -1.0, "policy.utility.loss_margin"),
    ("utility", "loss_margin", "automatic", "policy.utility.loss_margin"),
    ("output_divergence", "kl_margin", math.nan, "policy.output_divergence.kl_margin"),
    ("output_divergence", "kl_min_margin", -0.001, "policy.output_divergence.kl_min_margin"),
    ("utility", "required", 1, "policy.utility.required"),
    ("utility", "enabled", "yes", "policy.utility.enabled"),
    ("general", "alpha", 0.5, "policy.general.alpha"),
    ("general", "alpha", 0, "policy.general.alpha"),
    ("general", "alpha", math.nan, "policy.general.alpha"),
    ("general", "n_bootstrap", "auto", "policy.general.n_bootstrap"),
    ("general", "n_bootstrap", 99, "policy.general.n_bootstrap"),
    ("general", "n_bootstrap", 1000.0, "policy.general.n_bootstrap"),
    ("general", "n_bootstrap", True, "policy.general.n_bootstrap"),
    ("general", "batch_size", 0, "policy.general.batch_size"),
    ("general", "fail_on_warn", 0, "policy.general.fail_on_warn"),
    ("general", "on_no_power", "pass", "policy.general.on_no_power"),
    ("feature_removal", "feature", 3, "policy.feature_removal.feature"),
    ("utility", "typo", 1, "policy.utility.typo"),
    ("nosuchcheck", "required", True, "policy.nosuchcheck"),
]


@pytest.mark.parametrize(("section", "key", "value", "field"), BAD,
                         ids=[f"{s}.{k}={v!r}" for s, k, v, _ in BAD])
def test_bad_value_is_bad_input_naming_the_field(section: str, key: str, value: object, field: str) -> None:
    with pytest.raises(BadInput) as info:
        merge_policy(default_policy(), {section: {key: value}})
    assert info.value.field == field


def test_typo_in_gate_on_suggests_the_known_name() -> None:
    with pytest.raises(BadInput, match="did you mean 'kl'"):
        merge_policy(default_policy(), {"output_divergence": {"gate_on": ["KL"]}})


def test_a_section_that_is_not_a_table_is_refused() -> None:
    with pytest.raises(BadInput) as info:
        merge_policy(default_policy(), {"utility": 0.03})
    assert info.value.field == "policy.utility"


@pytest.mark.parametrize(("section", "key", "value", "stored"), [
    ("utility", "accuracy_margin", 0, 0.0),  # an integer is a number
    ("utility", "loss_margin", 0.1, 0.1),
    ("output_divergence", "gate_on", ["kl", "js"], ["kl", "js"]),
    ("membership_inference", "shadow_models", 0, 0),  # 0 = no shadows
    ("membership_inference", "auc_margin", "auto", "auto"),
    ("general", "on_no_power", "warn", "warn"),
    ("general", "alpha", 0.025, 0.025),
])
def test_good_values_are_stored(section: str, key: str, value: object, stored: object) -> None:
    pol = merge_policy(default_policy(), {section: {key: value}})
    assert pol[section][key] == stored and type(pol[section][key]) is type(stored)


def test_every_declared_default_validates() -> None:
    validate_policy(default_policy())
    for section, options in declarations().items():
        for key, opt in options.items():
            assert validate_value(f"{section}.{key}", opt, opt.default) == opt.default
            assert opt.doc, f"{section}.{key} needs a one-line doc"


def test_spec_defaults_are_derived_from_the_declarations() -> None:
    for cid, spec in registry().items():
        assert set(spec.options) >= {"required", "enabled"}, cid
        assert spec.defaults == default_policy(spec.tasks[0])[cid]  # the defaults on a task it supports
        assert all(isinstance(o, Option) for o in spec.options.values())


def test_on_no_power_is_declared_in_general() -> None:
    opt = GENERAL_OPTIONS["on_no_power"]
    assert opt.default == "inconclusive" and set(opt.choices) == {"inconclusive", "warn"}


def test_validate_policy_refuses_missing_and_unknown_keys() -> None:
    pol = default_policy()
    del pol["utility"]["accuracy_margin"]
    with pytest.raises(BadInput, match="policy.utility.accuracy_margin"):
        validate_policy(pol)
    pol = default_policy()
    pol["utility"]["extra"] = 1
    with pytest.raises(BadInput, match="policy.utility.extra"):
        validate_policy(pol)
