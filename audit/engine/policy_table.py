"""The policy as a table: the report's policy table (results.json ``policy_table``) and the
README's policy reference, both generated from the checks' option declarations
(:func:`audit.engine.policy.declarations`), so the two cannot drift from the code.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from audit.core.options import Option
from audit.engine.policy import declarations

__all__ = ["policy_table", "reference_table"]


def _tighter_words(opt: Option) -> str:
    rule = opt.tighter
    if isinstance(rule, tuple):
        return " < ".join(f"`{c}`" for c in rule)
    return {"lower": "lower", "higher": "higher (true > false)" if opt.type is bool else "higher",
            "superset": "superset", "unset": "only if gate unset", "neutral": "free",
            None: "fixed by gate"}[rule]


def _source_of(sources: Mapping[str, Any] | None, section: str, key: str) -> str:
    for layer in ("case", "gate"):
        table = ((sources or {}).get(layer) or {}).get(section) or {}
        if key in table:
            return layer
    return "default"


def policy_table(policy: Mapping[str, Mapping[str, Any]],
                 sources: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The effective policy, one row per declared option, with what each option means.

    Written into results.json (``policy_table``) so a report can show the policy as a
    table without knowing the declarations; the same declarations generate the README's
    reference (:func:`reference_table`).

    Parameters
    ----------
    policy : dict
        The complete effective policy.
    sources : dict, optional
        ``policy_sources`` of :func:`resolve_policy`: which layer set each value.

    Returns
    -------
    list of dict
        ``option``, ``section``, ``key``, ``value``, ``default``, ``allowed``, ``meaning``, ``tighter``, ``source``.

    Examples
    --------
    >>> from audit.engine.policy import default_policy
    >>> rows = policy_table(default_policy(), {"case": {"utility": {"accuracy_margin": 0.03}}})
    >>> row = next(r for r in rows if r["option"] == "utility.accuracy_margin")
    >>> row["value"], row["source"], row["meaning"][:27]
    (0.03, 'case', 'largest accepted accuracy d')
    """
    rows = []
    for section, options in declarations().items():
        for key, opt in options.items():
            rows.append({"option": f"{section}.{key}", "section": section, "key": key,
                         "value": copy.deepcopy(policy[section][key]), "default": copy.deepcopy(opt.default),
                         "allowed": opt.describe(), "meaning": opt.doc, "tighter": _tighter_words(opt),
                         "source": _source_of(sources, section, key)})
    return rows


def reference_table() -> str:
    """The README's policy reference: one Markdown row per declared option.

    Returns
    -------
    str
        Markdown table.

    Examples
    --------
    >>> print(reference_table().splitlines()[2])
    | `general.alpha` | number > 0 and < 0.5 | `0.05` | fixed by gate | level of the reported intervals (1 - 2 alpha); retrain_coverage sets the bands |
    """
    rows = ["| option | allowed | default | tighter (case under a gate) | meaning |",
            "|---|---|---|---|---|"]
    for section, options in declarations().items():
        for key, opt in options.items():
            rows.append(f"| `{section}.{key}` | {opt.describe()} | `{json.dumps(opt.default)}` | "
                        f"{_tighter_words(opt)} | {opt.doc} |")
    return "\n".join(rows) + "\n"
