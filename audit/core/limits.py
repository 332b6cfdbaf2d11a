"""Resource limits on the case's data, declared as ``[general]`` policy options.

A data file is refused *before* it is parsed when it (or, for ``.npz``, a member once
decompressed; for Parquet, its uncompressed row groups) exceeds ``max_data_mb``; a table
with more rows or columns than ``max_rows`` / ``max_columns``, or a group column with more
distinct values than ``max_group_values``, is refused once read. Each refusal is
:class:`audit.shared.errors.BadInput` naming the field and the limit, so an oversized or
adversarial case ends with exit 2 in bounded memory instead of exhausting the machine.

The limits in force while a case loads are the defaults, lowered by a gate policy and set
by the case's own ``[policy.general]`` (the usual tightening rules are enforced afterwards,
by :func:`audit.engine.policy.resolve_policy`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from audit.core.options import Option, validate_value
from audit.shared.errors import BadInput

__all__ = ["LIMIT_OPTIONS", "limits_of"]

LIMIT_OPTIONS: dict[str, Option] = {
    "max_rows": Option(int, 2_000_000, "most rows the data table may have (refused beyond)",
                       minimum=1, tighter="lower"),
    "max_columns": Option(int, 10_000, "most columns the data table may have", minimum=1,
                          tighter="lower"),
    "max_group_values": Option(int, 200, "most distinct values a group column may have", minimum=2,
                               tighter="lower"),
    "max_data_mb": Option(int, 2048, "largest data file in MB, uncompressed (npz members, parquet "
                          "row groups)", minimum=1, tighter="lower"),
}


def _general(layer: Any, source: str) -> Mapping[str, Any]:
    if not isinstance(layer, Mapping):
        return {}
    general = layer.get("general")
    if general is not None and not isinstance(general, Mapping):
        raise BadInput(f"{source}.general", "must be a table")
    return general or {}


def limits_of(case_policy: Any = None, gate: Any = None) -> dict[str, int]:
    """The data limits in force while a case loads.

    Parameters
    ----------
    case_policy : dict, optional
        The case file's ``[policy]`` tables.
    gate : dict, optional
        The ``--policy`` file's tables; a case value may only lower the gate's.

    Returns
    -------
    dict of str to int

    Examples
    --------
    >>> limits_of()["max_group_values"]
    200
    >>> limits_of({"general": {"max_rows": 50}}, {"general": {"max_rows": 100}})["max_rows"]
    50
    >>> limits_of({"general": {"max_rows": 0}})
    Traceback (most recent call last):
    ...
    audit.shared.errors.BadInput: case.policy.general.max_rows: must be >= 1, got 0
    """
    out = {k: opt.default for k, opt in LIMIT_OPTIONS.items()}
    gated = dict(out)
    for source, layer in (("policy", gate), ("case.policy", case_policy)):
        for key, value in _general(layer, source).items():
            if key in LIMIT_OPTIONS:
                v = validate_value(f"{source}.general.{key}", LIMIT_OPTIONS[key], value)
                out[key] = v if source == "policy" else min(v, gated[key]) if gate else v
        if source == "policy":
            gated = dict(out)
    return out
