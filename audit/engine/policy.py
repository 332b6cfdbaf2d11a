"""Policy: thresholds and which checks are required, declared and validated up front.

Every option is declared (:class:`audit.core.options.Option`): ``[general]`` here in
``GENERAL_OPTIONS``, each check's in its ``SPEC.options``. Layout::

    [general]
    alpha = 0.05          # TOST level; CIs are 1 - 2*alpha
    [utility]             # one table per check id
    required = true
    accuracy_margin = 0.03

Layers (:func:`resolve_policy`): the built-in defaults; then, without a gate policy, the
case file's ``[policy]`` overrides them. With a gate policy (``--policy GATE.toml``) the
gate overrides the defaults and the case's ``[policy]`` may only *tighten* the result,
option by option, as each declaration's ``tighter`` says; a loosening is bad input
naming the key and both values. Every key must be declared and every value must satisfy
its declaration before any work starts, so a typo never silently weakens a gate.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audit.checks import registry
from audit.core.case_file import read_toml
from audit.core.limits import LIMIT_OPTIONS
from audit.core.options import Option, defaults_of, tightens, validate_value
from audit.shared.errors import BadInput

if TYPE_CHECKING:  # pragma: no cover
    from audit.core.case import AuditCase

__all__ = ["GENERAL_OPTIONS", "GENERAL_DEFAULTS", "declarations", "default_policy", "merge_policy",
           "validate_policy", "check_tightens", "resolve_policy", "load_policy_file", "split_over_looks", "MOVED"]

GENERAL_OPTIONS: dict[str, Option] = {
    "alpha": Option(float, 0.05, "level of the reported intervals (1 - 2 alpha); retrain_coverage sets the bands", minimum=0, maximum=0.5,
                    exclusive_minimum=True, exclusive_maximum=True),
    "n_bootstrap": Option(int, 1000, "bootstrap resamples per interval", minimum=100, maximum=100_000,
                          tighter="higher"),
    "normal_from_rows": Option(int, 50_000, "rows from which a statistic's row bootstrap is drawn from its "
                               "normal limit (the same covariance) when the skewness and cross-term guards "
                               "allow; a larger value keeps more bootstraps exact (decision record 0022)",
                               minimum=100, tighter="higher"),
    "batch_size": Option(int, 4096, "rows per model call", minimum=1, tighter="neutral"),
    "max_report_rows": Option(int, 200, "findings and table rows per check shown in the reports (all stay "
                              "in results.json)", minimum=1, maximum=100_000, tighter="neutral"),
    "fail_on_warn": Option(bool, False, "a warn verdict exits 1 like a fail", tighter="higher"),
    "on_no_power": Option(str, "inconclusive",
                          "verdict when no required forgetting check can tell the original from "
                          "the references", choices=("inconclusive", "warn"),
                          tighter=("warn", "inconclusive")),
    "retrain_coverage": Option(float, 0.995, "share of fresh retrains a check's pass bands hold "
                               "(Student-t prediction bands of the retrain distribution, all "
                               "metrics of the check at once)",
                               minimum=0.5, maximum=1, exclusive_maximum=True, tighter="lower"),
    "fail_level": Option(float, 0.001, "largest chance that a check fails a fresh retrain "
                         "(its fail bands; must be below 1 - retrain_coverage)",
                         minimum=0, maximum=0.5, exclusive_minimum=True, tighter="higher"),
    "min_rows": Option(int, 20, "a gated metric with fewer rows on either side is inconclusive",
                       minimum=2, tighter="higher"),
    **LIMIT_OPTIONS,
}
GENERAL_DEFAULTS: dict[str, Any] = defaults_of(GENERAL_OPTIONS)


def declarations() -> dict[str, Mapping[str, Option]]:
    """Every declared option: ``{"general": {...}, "<check id>": {...}, ...}``.

    Returns
    -------
    dict of str to mapping of str to Option

    Examples
    --------
    >>> decl = declarations()
    >>> decl["output_divergence"]["gate_on"].tighter
    'superset'
    """
    return {"general": GENERAL_OPTIONS, **{cid: spec.options for cid, spec in registry().items()}}


def default_policy(task: str = "classification") -> dict[str, dict[str, Any]]:
    """The built-in policy: ``{"general": {...}, "<check id>": {...}, ...}``.

    A check that does not support ``task`` (``CheckSpec.tasks``) is not required by default:
    it is reported ``skipped``; a policy that requires it anyway makes the verdict inconclusive.

    Parameters
    ----------
    task : str
        ``classification`` or ``regression``.

    Returns
    -------
    dict

    Examples
    --------
    >>> default_policy()["general"]["on_no_power"]
    'inconclusive'
    >>> default_policy("regression")["feature_removal"]["required"]
    False
    """
    out = {section: defaults_of(options) for section, options in declarations().items()}
    for cid, spec in registry().items():
        if task not in spec.tasks:
            out[cid]["required"] = False
    return out


#: Keys that moved: ``(section, key) -> "new.section.key"``, named in the refusal.
MOVED: dict[tuple[str, str], str] = {
    ("general", "min_group_size"): "subgroup_shift.min_group_size",  # one declaration (issue 13 item 8)
}


def _option(decl: Mapping[str, Mapping[str, Option]], source: str, section: str, key: str) -> Option:
    if section not in decl:
        raise BadInput(f"{source}.{section}", f"unknown policy section; known: {sorted(decl)}")
    if key not in decl[section]:
        moved = MOVED.get((section, key))
        if moved is not None:
            raise BadInput(f"{source}.{section}.{key}", f"unknown policy key: it is now {moved}")
        raise BadInput(f"{source}.{section}.{key}",
                       f"unknown policy key; known: {sorted(decl[section])}")
    return decl[section][key]


def _tables(overrides: Any, source: str) -> dict[str, dict[str, Any]]:
    if overrides is None:
        return {}
    if not isinstance(overrides, dict):
        raise BadInput(source, "must be a table of tables ([general], [<check id>], ...)")
    decl = declarations()
    for section, table in overrides.items():
        if section not in decl:
            raise BadInput(f"{source}.{section}", f"unknown policy section; known: {sorted(decl)}")
        if not isinstance(table, dict):
            raise BadInput(f"{source}.{section}", "must be a table")
    return overrides


def validate_policy(policy: Mapping[str, Mapping[str, Any]], source: str = "policy") -> None:
    """Check a complete policy against the declarations; raise ``BadInput`` naming the field.

    Parameters
    ----------
    policy : mapping
        A complete policy.
    source : str
        The prefix of error fields.

    Returns
    -------
    None

    Examples
    --------
    >>> validate_policy(default_policy())
    >>> bad = default_policy(); bad["general"]["alpha"] = float("nan")
    >>> validate_policy(bad)
    Traceback (most recent call last):
    ...
    audit.shared.errors.BadInput: policy.general.alpha: must be finite, got nan
    """
    decl = declarations()
    for section, options in decl.items():
        table = policy.get(section)
        if not isinstance(table, Mapping):
            raise BadInput(f"{source}.{section}", "missing policy section")
        for key in table:
            _option(decl, source, section, key)
        for key, opt in options.items():
            if key not in table:
                raise BadInput(f"{source}.{section}.{key}", "missing policy key")
            validate_value(f"{source}.{section}.{key}", opt, table[key])
    for section in policy:
        if section not in decl:
            raise BadInput(f"{source}.{section}", f"unknown policy section; known: {sorted(decl)}")
    general = policy["general"]
    if general["fail_level"] >= 1.0 - general["retrain_coverage"]:
        raise BadInput(f"{source}.general.fail_level",
                       f"{general['fail_level']} must lie below 1 - retrain_coverage "
                       f"({1.0 - general['retrain_coverage']:.4g}): a fail band inside the pass band")


def merge_policy(
    base: dict[str, dict[str, Any]], overrides: dict[str, Any] | None, source: str = "policy"
) -> dict[str, dict[str, Any]]:
    """Return ``base`` updated with ``overrides``, every value checked against its declaration.

    Unknown sections or keys, wrong types, values out of range or outside their choices
    raise :class:`audit.shared.errors.BadInput` naming ``source.section.key`` (``[i]`` for a
    list element).

    Parameters
    ----------
    base : dict
        A complete policy.
    overrides : dict, optional
        Sections and keys to change.
    source : str
        The prefix of error fields.

    Returns
    -------
    dict
        A new policy.

    Examples
    --------
    >>> pol = merge_policy(default_policy(), {"utility": {"accuracy_margin": 0}})
    >>> pol["utility"]["accuracy_margin"]
    0.0
    >>> merge_policy(default_policy(), {"utility": {"splits": ["test", "tset"]}})
    Traceback (most recent call last):
    ...
    audit.shared.errors.BadInput: policy.utility.splits[1]: 'tset' is not one of ['forget', 'retain', 'test']; did you mean 'test'?
    """
    out = copy.deepcopy(base)
    decl = declarations()
    for section, table in _tables(overrides, source).items():
        for key, value in table.items():
            opt = _option(decl, source, section, key)
            out.setdefault(section, {})[key] = validate_value(f"{source}.{section}.{key}", opt, value)
    validate_policy(out, source)
    return out


def check_tightens(gate: Mapping[str, Mapping[str, Any]], case_overrides: Mapping[str, Any] | None,
                   source: str = "case.policy") -> None:
    """Refuse a case ``[policy]`` value that is looser than the gate's (``BadInput``).

    ``gate`` is the complete gate policy (defaults + the gate file); ``case_overrides``
    the case's validated tables.

    Parameters
    ----------
    gate : mapping
        The gate policy.
    case_overrides : mapping, optional
        The case's ``[policy]``.
    source : str
        The prefix of error fields.

    Returns
    -------
    None

    Examples
    --------
    >>> gate = default_policy()
    >>> check_tightens(gate, {"utility": {"accuracy_margin": 0.01}})
    >>> check_tightens(gate, {"utility": {"accuracy_margin": 0.1}})
    Traceback (most recent call last):
    ...
    audit.shared.errors.BadInput: case.policy.utility.accuracy_margin: loosens the gate policy (gate 0.03, case 0.1): may only be lowered
    """
    decl = declarations()
    for section, table in (case_overrides or {}).items():
        for key, value in table.items():
            why = tightens(decl[section][key], gate[section][key], value)
            if why is not None:
                raise BadInput(f"{source}.{section}.{key}", f"loosens the gate policy "
                               f"(gate {gate[section][key]!r}, case {value!r}): {why}")


def _check_against_case(policy: Mapping[str, Mapping[str, Any]], case: AuditCase,
                        case_overrides: Mapping[str, Any]) -> None:
    for section, options in declarations().items():
        for key, opt in options.items():
            value = policy[section][key]
            if opt.from_case is None or value == opt.default:
                continue
            allowed = list(getattr(case, opt.from_case))
            if value not in allowed:
                source = "case.policy" if key in case_overrides.get(section, {}) else "policy"
                raise BadInput(f"{source}.{section}.{key}",
                               f"{value!r} is not among the case's {opt.from_case}: {allowed}")


def _layer(policy: Mapping[str, Mapping[str, Any]], overrides: Mapping[str, Any] | None
           ) -> dict[str, dict[str, Any]]:
    return {s: {k: copy.deepcopy(policy[s][k]) for k in t} for s, t in (overrides or {}).items()}


def resolve_policy(case: AuditCase, gate: dict[str, Any] | None = None
                   ) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The effective policy of a run and its layers, validated before any work starts.

    Parameters
    ----------
    case : AuditCase
        Its ``policy_overrides`` (the case file's ``[policy]``) are the case layer.
    gate : dict, optional
        The gate policy (``--policy`` file). When given, the case layer may only tighten it.

    Returns
    -------
    policy : dict
        The complete effective policy.
    sources : dict
        ``{"defaults": ..., "gate": {...} | None, "case": {...}}`` for results.json.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> case = SimpleNamespace(policy_overrides={"utility": {"accuracy_margin": 0.02}}, features=[])
    >>> pol, src = resolve_policy(case, gate={"utility": {"required": True}})
    >>> pol["utility"]["accuracy_margin"], src["gate"], src["case"]
    (0.02, {'utility': {'required': True}}, {'utility': {'accuracy_margin': 0.02}})
    """
    defaults = default_policy(getattr(case, "task", "classification"))
    case_overrides = _tables(getattr(case, "policy_overrides", None) or None, "case.policy")
    gated = None if gate is None else merge_policy(defaults, gate, "policy")
    policy = merge_policy(defaults if gated is None else gated, case_overrides, "case.policy")
    if gated is not None:
        check_tightens(gated, _layer(policy, case_overrides))
    _check_against_case(policy, case, case_overrides)
    sources = {"defaults": defaults, "gate": None if gated is None else _layer(gated, gate),
               "case": _layer(policy, case_overrides)}
    return policy, sources


def split_over_looks(policy: dict[str, dict[str, Any]], looks: int) -> dict[str, dict[str, Any]]:
    """The per-look policy of a sequence of ``looks`` audits (Bonferroni over the looks).

    A stream of ``n`` requests is ``n`` looks at one question; a genuine retrain at every
    step should fail *somewhere* with probability at most ``fail_level`` and pass *every*
    step with probability at least ``retrain_coverage``. Each look therefore runs with
    ``fail_level / n`` and ``1 - (1 - retrain_coverage) / n`` (decision record 0016). The
    policy is returned unchanged for one look.

    Parameters
    ----------
    policy : dict
        A resolved policy (``{section: {option: value}}``) with ``general.fail_level`` and
        ``general.retrain_coverage``; not modified.
    looks : int
        How many audits the sequence runs (the stream's requests).

    Returns
    -------
    dict
        For ``looks <= 1`` the same ``policy`` object; otherwise a deep copy with the two
        ``general`` levels split over the looks, every other option unchanged.

    Examples
    --------
    >>> pol = split_over_looks(default_policy(), 10)
    >>> round(pol["general"]["fail_level"], 6), round(pol["general"]["retrain_coverage"], 6)
    (0.0001, 0.9995)
    """
    if int(looks) <= 1:
        return policy
    out = copy.deepcopy(policy)
    g = out["general"]
    g["fail_level"] = float(g["fail_level"]) / int(looks)
    g["retrain_coverage"] = 1.0 - (1.0 - float(g["retrain_coverage"])) / int(looks)
    return out


def load_policy_file(path: str | Path) -> dict[str, Any]:
    """Parse a policy TOML file (validated later by :func:`resolve_policy`).

    Parameters
    ----------
    path : str or Path
        A TOML file.

    Returns
    -------
    dict

    Examples
    --------
    >>> load_policy_file("/nonexistent/gate.toml")
    Traceback (most recent call last):
    ...
    audit.shared.errors.BadInput: policy: policy file not found: /nonexistent/gate.toml
    """
    return read_toml(path, "policy")
