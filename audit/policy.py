"""Policy: thresholds and which checks are required.

Built-in defaults come from ``GENERAL_DEFAULTS`` and each check's ``SPEC.defaults``.
A case file's ``[policy]`` table and a ``--policy`` TOML file override them, in that
order. Layout::

    [general]
    alpha = 0.05          # TOST level; CIs are 1 - 2*alpha
    [utility]             # one table per check id
    required = true
    accuracy_margin = 0.03

Unknown sections or keys are bad input, so a typo never silently weakens a gate.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

from audit.checks import registry
from audit.errors import BadInput

__all__ = ["GENERAL_DEFAULTS", "default_policy", "merge_policy", "load_policy_file"]

GENERAL_DEFAULTS: dict[str, Any] = {
    "alpha": 0.05,  # TOST level: 90 % intervals decide
    "n_bootstrap": 1000,
    "batch_size": 4096,
    "min_group_size": 30,
    "fail_on_warn": False,  # treat a warn verdict as a fail for the exit code
    # share of fresh retrains the equivalence region must hold (seed prediction interval)
    "retrain_coverage": 0.99,
    "min_rows": 20,  # a gated metric with fewer rows on either side is inconclusive
    # no required forgetting check can tell the original from a retrain: "inconclusive" or "warn"
    "on_no_power": "inconclusive",
}


def default_policy() -> dict[str, dict[str, Any]]:
    """The built-in policy: ``{"general": {...}, "<check id>": {...}, ...}``."""
    pol = {"general": copy.deepcopy(GENERAL_DEFAULTS)}
    for cid, spec in registry().items():
        pol[cid] = copy.deepcopy(spec.defaults)
    return pol


def _compatible(default: Any, value: Any) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, (int, float)) and not isinstance(default, bool):
        return isinstance(value, (int, float)) and not isinstance(value, bool) or value == "auto"
    if default == "auto":
        return value == "auto" or (isinstance(value, (int, float)) and not isinstance(value, bool))
    if isinstance(default, list):
        return isinstance(value, list)
    return isinstance(value, type(default))


def merge_policy(
    base: dict[str, dict[str, Any]], overrides: dict[str, Any] | None, source: str = "policy"
) -> dict[str, dict[str, Any]]:
    """Return ``base`` updated with ``overrides``; unknown sections/keys or wrong types fail."""
    out = copy.deepcopy(base)
    for section, table in (overrides or {}).items():
        if section not in out:
            raise BadInput(f"{source}.{section}", f"unknown policy section; known: {sorted(out)}")
        if not isinstance(table, dict):
            raise BadInput(f"{source}.{section}", "must be a table")
        for key, value in table.items():
            if key not in out[section]:
                raise BadInput(
                    f"{source}.{section}.{key}",
                    f"unknown policy key; known: {sorted(out[section])}",
                )
            if not _compatible(out[section][key], value):
                raise BadInput(
                    f"{source}.{section}.{key}",
                    f"expected a value like {out[section][key]!r}, got {value!r}",
                )
            out[section][key] = value
    alpha = out["general"]["alpha"]
    if not 0 < alpha < 0.5:
        raise BadInput(f"{source}.general.alpha", "must lie in (0, 0.5)")
    if out["general"]["n_bootstrap"] < 100:
        raise BadInput(f"{source}.general.n_bootstrap", "must be at least 100")
    return out


def load_policy_file(path: str | Path) -> dict[str, Any]:
    """Parse a policy TOML file (validated later by :func:`merge_policy`)."""
    p = Path(path)
    if not p.is_file():
        raise BadInput("policy", f"policy file not found: {p}")
    try:
        return tomllib.loads(p.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BadInput("policy", f"{p.name} is not valid TOML: {exc}") from exc
