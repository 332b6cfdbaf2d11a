"""The one results builder (results.json) of model and method audits.

Everything results.json records besides the checks themselves: the case, policy (and its
table of meanings), models, data, controls and verdict (:mod:`audit.engine.verdict`), cost,
environment and the extensions that were registered.
"""

from __future__ import annotations

import platform
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from audit.core.case import AuditCase
from audit.core.cost import Meter
from audit.engine.policy_table import policy_table
from audit.engine.result_api import AuditResult
from audit.engine.verdict import audit_controls, exit_code_of, gate_verdict
from audit.training import cluster

__all__ = ["build_results", "cost_summary", "case_inputs", "SCHEMA_VERSION"]

SCHEMA_VERSION = "1.0"
_PACKAGES = ("unlearn-audit", "numpy", "scipy", "scikit-learn", "pandas", "torch", "onnxruntime",
             "skops", "safetensors", "jinja2", "jsonschema")


def cost_summary(meters: dict[str, Meter], seconds: float) -> dict[str, Any]:
    """results.json's ``cost``: the run's wall time, forward passes, and per check what it did.

    ``forward_seconds`` is the time spent inside the models (the irreducible part of an
    audit); ``overhead`` is the rest relative to it. Seconds vary between runs like the
    timestamps; the counts do not.

    Parameters
    ----------
    meters : dict of str to Meter
        Each check's meter.
    seconds : float
        The run's wall time.

    Returns
    -------
    dict

    Examples
    --------
    >>> from collections import Counter
    >>> m = Meter(Counter({"forward_passes": 3, "forward_seconds": 0.25}), 1.0)
    >>> c = cost_summary({"utility": m}, 1.5)
    >>> c["forward_passes"], c["checks"]["utility"]["forward_passes"], c["overhead"]
    (3, 3, 5.0)
    """
    fwd = sum(float(m.counts.get("forward_seconds", 0.0)) for m in meters.values())
    return {
        "seconds": round(seconds, 4),
        "forward_passes": int(sum(m.counts.get("forward_passes", 0) for m in meters.values())),
        "forward_seconds": round(fwd, 4),
        "overhead": round((seconds - fwd) / fwd, 2) if fwd > 0 else None,
        "checks": {cid: m.to_dict() for cid, m in meters.items()},
    }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _environment() -> dict[str, Any]:
    packages = {}
    for name in _PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {"python": sys.version.split()[0], "platform": platform.platform(), "packages": packages,
            "compute": cluster.describe()}


def _model_entry(model: Any) -> dict[str, Any]:
    """results.json entry of one model: digest, format, file and where it came from.

    Models the suite trained itself (``[references] train``) have no file; their
    ``provenance`` (``source = "trained"``, seed, recipe) is recorded instead.

    >>> class M: sha256, format = None, "callable"
    >>> _model_entry(M())
    {'sha256': None, 'format': 'callable', 'file': None, 'source': 'case'}
    """
    path = getattr(model, "source_path", None)
    entry = {"sha256": model.sha256, "format": model.format, "file": path.name if path else None}
    entry.update(_model_inputs(model))
    return {**entry, **(getattr(model, "provenance", None) or {"source": "case"})}


def _model_inputs(model: Any) -> dict[str, Any]:
    """What a model was fed (columns by name or position) and which skops types were trusted."""
    out: dict[str, Any] = {}
    for m in (getattr(model, "inner", None), model):  # a widened model wraps the bound one
        if m is not None and callable(getattr(m, "feature_entry", None)):
            out["features"] = m.feature_entry()
        if m is not None and getattr(m, "trusted_types", None) is not None:
            out["trusted_types"] = list(m.trusted_types)
    return out


def _extensions() -> dict[str, Any]:
    """results.json ``extensions``: what registered extensions added (absent when none)."""
    from audit.core.extensions import KINDS, registered

    ext = {k: sorted(registered(k)) for k in KINDS if registered(k)}
    return {"extensions": ext} if ext else {}


def build_results(
    case: AuditCase, pol: dict[str, Any], policy_sources: Any, seed: int, mode: str,
    checks: list[dict[str, Any]], kinds: dict[str, str], meters: dict[str, Meter], seconds: float,
    started: str, models: dict[str, Any] | None = None, extra: dict[str, Any] | None = None,
    forced: tuple[str, str] | None = None,
) -> AuditResult:
    """The one results builder (results.json) of model and method audits.

    Parameters
    ----------
    case, pol, policy_sources, seed, mode
        The case, the resolved policy and its layers, the run seed, ``"model"`` / ``"method"``.
    checks, kinds, meters
        The check dicts in order, each check id's kind (for :func:`audit_controls`) and its
        cost meter.
    seconds, started
        The run's wall time and start timestamp.
    models : dict, optional
        Replaces the case's model entries (a method audit trains its own).
    extra : dict, optional
        Top-level fields to add (a method audit's ``method_audit`` record).
    forced : (str, str), optional
        A verdict and its reason that override the gate (identity).

    Returns
    -------
    AuditResult
        The results dict with controls, the verdict (no-power rule applied) and exit code.
    """
    controls = audit_controls(checks, kinds)
    verdict, reason = forced or gate_verdict(checks, controls, pol["general"]["on_no_power"])
    return AuditResult({
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "unlearn-audit", "version": _version()},
        "case": {"name": case.name, "request_id": case.request_id, "mode": mode,
                 "description": case.description},
        "operator": case.operator,
        "verdict": verdict,
        "verdict_reason": reason,
        "controls": controls,
        "exit_code": exit_code_of(verdict, bool(pol["general"]["fail_on_warn"])),
        "seed": int(seed),
        "allow_pickle": case.allow_pickle,
        "allow_code": case.allow_code,
        "trusted_types": list(case.trusted_types),
        "policy": pol,
        "policy_sources": policy_sources,
        "policy_table": policy_table(pol, policy_sources),
        "models": models or {
            "original": _model_entry(case.models["original"]),
            "unlearned": _model_entry(case.models["unlearned"]),
            "retrained": [_model_entry(case.models[r]) for r in case.reference_roles],
        },
        "data": {
            "sha256": case.data_sha256,
            "file": case.data_path.name if case.data_path else None,
            "n": case.n,
            "n_features": len(case.features),
            "features": {"names": list(case.features), "source": case.feature_source},
            "n_classes": int(case.n_classes),
            "task": case.task_info.to_dict(),
            "label": case.label,
            "groups": list(case.groups),
            "forget_set_sha256": case.forget_set_commitment(),
            "forget_set_commitment_scheme": _commitment_scheme(case),
            "forget_kind": _forget_kind(case),
            **case.data_extra(),
        },
        "checks": checks,
        **_extensions(),
        **(extra or {}),
        "cost": cost_summary(meters, seconds),
        "environment": _environment(),
        "started_at": started,
        "finished_at": _now(),
    }, inputs=case_inputs(case))


def _forget_kind(case: AuditCase) -> dict[str, Any]:
    """What kind of forget set this is (random rows, a class, a group), and why."""
    from audit.core.forget_kind import detect_forget_kind

    fk = detect_forget_kind(case)
    return {"kind": fk.kind, "detected": fk.detected, "declared": fk.declared,
            "strata": list(fk.strata_columns), "evidence": fk.evidence}


def _version() -> str:
    from audit import __version__

    return __version__


def _commitment_scheme(case: AuditCase) -> str | None:
    from audit.shared.commitment import SCHEME

    return SCHEME if case.id_col is not None else None


def case_inputs(case: AuditCase) -> dict[str, Path]:
    """Files the case was read from (for the manifest), keyed by role.

    Parameters
    ----------
    case : AuditCase
        The case.

    Returns
    -------
    dict of str to Path
    """
    inputs: dict[str, Path] = {}
    for role, model in case.models.items():
        path = getattr(model, "source_path", None)
        if path is not None:
            inputs[f"model:{role}"] = Path(path)
    if case.data_path is not None:
        inputs["data"] = case.data_path
    return inputs
