"""Hypothesis: ``merge_policy`` on any override either succeeds or raises ``BadInput``."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from audit.engine.policy import declarations, default_policy, merge_policy, validate_policy
from audit.shared.errors import BadInput

_DECL = declarations()
_SECTIONS = sorted(_DECL)
_HOSTILE = [float("nan"), float("inf"), -float("inf"), -1, 0, -0.0, 1e308, -1e308, 2**63, -(2**63),
            10**30, "auto", "", "nan", True, False, [], {}, [None], "\x00", "x" * 10_000]
_SCALARS = st.one_of(
    st.sampled_from(_HOSTILE), st.booleans(), st.integers(), st.floats(allow_nan=True),
    st.text(max_size=20),
)
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=3)), max_leaves=8)


@st.composite
def _overrides(draw: st.DrawFn) -> Any:
    """Mostly declared section/key pairs (to reach value checks), sometimes anything."""
    if draw(st.integers(0, 9)) == 0:
        return draw(_VALUES)
    out: dict[str, Any] = {}
    for _ in range(draw(st.integers(1, 4))):
        section = draw(st.sampled_from([*_SECTIONS, "nonsense"]))
        keys = sorted(_DECL.get(section, {})) or ["x"]
        key = draw(st.sampled_from([*keys, "typo"]))
        out.setdefault(section, {})[key] = draw(_VALUES)
    return out


def _finite_everywhere(policy: dict[str, dict[str, Any]]) -> bool:
    def ok(v: Any) -> bool:
        if isinstance(v, float):
            return math.isfinite(v)
        if isinstance(v, list):
            return all(ok(x) for x in v)
        return True
    return all(ok(v) for table in policy.values() for v in table.values())


@given(_overrides())
def test_hypothesis_merge_policy_only_bad_input(overrides: Any) -> None:
    try:
        merged = merge_policy(default_policy(), overrides, "policy")
    except BadInput as exc:
        assert exc.field.startswith("policy"), exc.field
        return
    validate_policy(merged)  # whatever was accepted is a valid policy
    assert _finite_everywhere(merged)


@given(st.sampled_from([(s, k) for s in _SECTIONS for k in _DECL[s]]), st.sampled_from(_HOSTILE))
def test_hypothesis_every_option_hostile_value(option: tuple[str, str], value: Any) -> None:
    section, key = option
    try:
        merged = merge_policy(default_policy(), {section: {key: value}}, "policy")
    except BadInput as exc:
        assert exc.field.startswith(f"policy.{section}.{key}") or exc.field.startswith("policy."), exc.field
        return
    assert _finite_everywhere(merged)
