"""Running an audit: policy → cached outputs → checks → verdict → results dict → pack."""

from __future__ import annotations

import os
import platform
import sys
import time
import traceback
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from audit import cluster
from audit.cache import OutputCache
from audit.case import AuditCase
from audit.checks import CheckContext, registry
from audit.cost import Meter, metered
from audit.errors import BadInput
from audit.policy import policy_table, resolve_policy
from audit.result_api import AuditResult
from audit.results import CheckResult, worst_status

__all__ = ["run_audit", "run_method_checks", "build_results", "planned_checks", "verdict_of", "gate_verdict", "audit_controls", "exit_code_of", "write_evidence", "cost_summary", "EXIT_CODES", "SCHEMA_VERSION"]

SCHEMA_VERSION = "1.0"
EXIT_CODES = {"pass": 0, "warn": 0, "fail": 1, "inconclusive": 3, "error": 3}
_PACKAGES = ("unlearn-audit", "numpy", "scipy", "scikit-learn", "pandas", "torch", "onnxruntime",
             "skops", "safetensors", "jinja2", "jsonschema")


def verdict_of(checks: list[dict[str, Any]]) -> str:
    """Worst status among required checks; a required ``skipped`` counts as inconclusive.

    No required check at all is ``inconclusive`` (fail-closed).

    >>> verdict_of([{"required": True, "status": "pass"}, {"required": False, "status": "fail"}])
    'pass'
    >>> verdict_of([{"required": False, "status": "pass"}])
    'inconclusive'
    """
    statuses = [c["status"] for c in checks if c["required"]]
    worst = worst_status(statuses)
    return "inconclusive" if worst == "skipped" else worst


def audit_controls(checks: list[dict[str, Any]], kinds: dict[str, str]) -> dict[str, Any]:
    """The run's controls: per check, the negative-control pass count and the power.

    ``power`` is true when some *required forgetting* check fails the original O scored
    as the candidate (the audit could have detected a no-op). ``kinds`` maps a check id
    to its kind; a check whose original is a degenerate candidate is given as
    ``"forgetting-no-power"`` (its control is reported, it gives no power).

    >>> c = [{"id": "m", "required": True, "status": "pass",
    ...       "controls": {"negative": {"passed": 2, "total": 2}, "positive": {"power": True}}}]
    >>> audit_controls(c, {"m": "forgetting"})["power"]
    True
    """
    per_check = {}
    detected = []
    for c in checks:
        ctl = c.get("controls")
        if not ctl:
            continue
        per_check[c["id"]] = {"kind": kinds.get(c["id"], "context"), "required": c["required"],
                              "negative_passed": ctl["negative"]["passed"],
                              "negative_total": ctl["negative"]["total"],
                              "power": bool(ctl["positive"]["power"])}
        if c["required"] and kinds.get(c["id"]) == "forgetting" and ctl["positive"]["power"]:
            detected.append(c["id"])
    return {"power": bool(detected), "power_from": detected, "checks": per_check}


def gate_verdict(checks: list[dict[str, Any]], controls: dict[str, Any], on_no_power: str) -> tuple[str, str]:
    """Verdict and the reason in one sentence, with the no-power rule applied.

    A pass (or warn) stands only when some required forgetting check could tell the
    original from the retrains; otherwise it becomes ``inconclusive`` (or ``warn`` when
    the policy's ``on_no_power`` says so).

    >>> gate_verdict([{"required": True, "status": "pass"}], {"power": False}, "inconclusive")[0]
    'inconclusive'
    """
    verdict = verdict_of(checks)
    if verdict in ("pass", "warn") and not controls["power"]:
        reason = ("the original itself is indistinguishable from a retrain here: this audit could not "
                  "have detected a no-op")
        return ("warn" if on_no_power == "warn" else "inconclusive"), reason
    bad = [c["id"] for c in checks if c["required"] and c["status"] == verdict]
    if verdict == "pass":
        return verdict, "every required check passed and the original was detectable (positive control)"
    return verdict, f"{verdict}: " + ", ".join(bad) if bad else f"{verdict}: no required check ran"


def exit_code_of(verdict: str, fail_on_warn: bool = False) -> int:
    """Exit code of ``run``/``gate``: 0 pass/warn, 1 fail, 3 inconclusive/error."""
    if verdict == "warn" and fail_on_warn:
        return 1
    return EXIT_CODES[verdict]


def cost_summary(meters: dict[str, Meter], seconds: float) -> dict[str, Any]:
    """results.json's ``cost``: the run's wall time, forward passes, and per check what it did.

    ``forward_seconds`` is the time spent inside the models (the irreducible part of an
    audit); ``overhead`` is the rest relative to it. Seconds vary between runs like the
    timestamps; the counts do not.

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


def _run_check(spec: Any, ctx: CheckContext) -> CheckResult:
    try:
        result = spec.run(ctx)
    except BadInput:
        raise
    except Exception as exc:  # noqa: BLE001 - a broken check is an `error`, never a crash
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        result = CheckResult(id=spec.id, title=spec.title, status="error",
                             summary=f"The check could not run: {tb}", notes=[tb])
    result.required = bool(ctx.policy["required"])
    result.title = result.title or spec.title
    return result


def _unsupported(spec: Any, task: str, required: bool) -> dict[str, Any]:
    """The ``skipped`` result of a check that does not support the case's task."""
    why = spec.unsupported or f"it is defined for {' and '.join(spec.tasks)} models"
    return CheckResult(spec.id, "skipped", f"Not run: this check does not support {task} models ({why}).",
                       title=spec.title, required=required,
                       missing=[f"{task} support: {why}"]).to_dict()


def planned_checks(pol: dict[str, Any], mode: str = "model") -> list[str]:
    """Ids of the checks :func:`run_audit` runs under the resolved policy ``pol``, in order.

    >>> from audit.policy import default_policy
    >>> "utility" in planned_checks(default_policy())
    True
    """
    return [cid for cid, spec in registry().items() if pol[cid]["enabled"] and mode in spec.modes]


def run_audit(
    case: AuditCase | str | os.PathLike[str],
    policy: dict[str, Any] | None = None,
    seed: int = 0,
    mode: str = "model",
    progress: Callable[[str], None] | None = None,
    cache: OutputCache | None = None,
) -> AuditResult:
    """Run every enabled check on ``case`` and return its results (results.json).

    Parameters
    ----------
    case : AuditCase or path
        The validated case, or the path of a case file (loaded with
        :func:`audit.case.load_case`, pickles and code not trusted).
    policy : dict, optional
        The gate policy (a ``--policy`` file) on top of the built-in defaults; the case
        file's ``[policy]`` may then only tighten it (see :func:`audit.policy.resolve_policy`).
    seed : int
        Seeds every bootstrap; same case + same seed gives the same results.
    progress : callable, optional
        Called with each check id before it runs.
    cache : OutputCache, optional
        Reuse outputs already computed (e.g. across several audits of one case).

    Returns
    -------
    AuditResult
        The results dict (``result["verdict"]`` works) with ``.verdict``, ``.exit_code``,
        ``.metrics_frame()``, ``.findings_frame()``, ``.to_json()`` and ``.write_pack(dir)``.

    Examples
    --------
    >>> from audit.scenarios import build_scenario      # doctest: +SKIP
    >>> result = run_audit(build_scenario("digits", "/tmp/d"))  # doctest: +SKIP
    >>> result.verdict, result.exit_code                # doctest: +SKIP
    ('fail', 1)
    """
    if isinstance(case, (str, os.PathLike)):
        from audit.case import load_case

        case = load_case(case)
    started = _now()
    pol, policy_sources = resolve_policy(case, policy)  # validated; the case may only tighten a gate
    own_cache = cache is None
    if cache is None:
        cache = OutputCache(case.models, case.inputs, case.y, batch_size=pol["general"]["batch_size"],
                            task=case.task)
    elif cache.task != case.task:
        raise ValueError(f"the given cache holds {cache.task} outputs; the case is {case.task}")
    try:
        return _run_checks(case, pol, policy_sources, cache, seed, mode, progress, started)
    finally:
        if own_cache:  # memory-mapped outputs removed on success, bad input, error or interrupt
            cache.close()


def _run_checks(case: AuditCase, pol: dict[str, Any], policy_sources: Any, cache: OutputCache, seed: int,
                mode: str, progress: Callable[[str], None] | None, started: str) -> AuditResult:
    """The checks in order (identity first), their controls and the verdict, as results.json."""
    checks = []
    meters: dict[str, Meter] = {}
    identical = False
    clock = time.perf_counter()
    specs = registry()
    for cid in planned_checks(pol, mode):
        spec = specs[cid]
        if progress is not None:
            progress(cid)
        if identical:
            checks.append(CheckResult(cid, "skipped", "Not run: the unlearned model is the original.",
                                      title=spec.title, required=bool(pol[cid]["required"])).to_dict())
            continue
        if case.task not in spec.tasks:
            checks.append(_unsupported(spec, case.task, bool(pol[cid]["required"])))
            continue
        rng = np.random.default_rng([int(seed), zlib.crc32(cid.encode())])
        ctx = CheckContext(case=case, cache=cache, policy=pol[cid], general=pol["general"],
                           rng=rng, seed=int(seed))
        with metered() as meter:
            checks.append(_run_check(spec, ctx).to_dict())
        meters[cid] = meter
        identical = spec.kind == "identity" and checks[-1]["status"] == "fail"
    kinds = {cid: _kind(s) for cid, s in registry().items()}
    forced = ("fail", "identity: the unlearned model is the original") if identical else None
    return build_results(case, pol, policy_sources, seed, mode, checks, kinds, meters,
                         time.perf_counter() - clock, started, forced=forced)


def _extensions() -> dict[str, Any]:
    """results.json ``extensions``: what registered extensions added (absent when none)."""
    from audit.extensions import KINDS, registered

    ext = {k: sorted(registered(k)) for k in KINDS if registered(k)}
    return {"extensions": ext} if ext else {}


def _kind(spec: Any) -> str:
    return spec.kind if spec.power else f"{spec.kind}-no-power"


def run_method_checks(
    case: AuditCase, pol: dict[str, Any], seed: int, subjects: dict[str, dict[str, Any]],
    progress: Callable[[str], None] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Meter], dict[str, str]]:
    """Method mode: every enabled method-mode check of the registry, once per subject (a method).

    ``subjects`` maps a method name to its check context's ``extras`` (the method lab's
    per-seed outputs, see :mod:`audit.checks.method`); ``extras["required"] = False`` marks a
    control (``retrain``, ``noop``) as reported, not required. A result's id is
    ``<check id>_<name>``; its bootstrap is seeded from the run seed and that id.

    Returns
    -------
    checks, meters, kinds
        The check dicts in order, their cost meters and kinds (for :func:`audit_controls`).
    """
    checks: list[dict[str, Any]] = []
    meters: dict[str, Meter] = {}
    kinds: dict[str, str] = {}
    for cid in planned_checks(pol, "method"):
        spec = registry()[cid]
        for name, extras in subjects.items():
            rid = f"{cid}_{name}"
            if progress is not None:
                progress(rid)
            rng = np.random.default_rng([int(seed), zlib.crc32(rid.encode())])
            ctx = CheckContext(case=case, cache=None, policy=pol[cid], general=pol["general"],  # type: ignore[arg-type]
                               rng=rng, seed=int(seed), extras=extras)
            with metered() as meter:
                result = _run_check(spec, ctx)
            result.id = rid
            if result.status == "error":  # _run_check named the spec, not the subject
                result.title = f"{spec.title}: {extras.get('method', name)}"
            result.required = result.required and bool(extras.get("required", True))
            checks.append(result.to_dict())
            meters[rid], kinds[rid] = meter, _kind(spec)
    return checks, meters, kinds


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
    from audit.forget_kind import detect_forget_kind

    fk = detect_forget_kind(case)
    return {"kind": fk.kind, "detected": fk.detected, "declared": fk.declared,
            "strata": list(fk.strata_columns), "evidence": fk.evidence}


def _version() -> str:
    from audit import __version__

    return __version__


def case_inputs(case: AuditCase) -> dict[str, Path]:
    """Files the case was read from (for the manifest), keyed by role."""
    inputs: dict[str, Path] = {}
    for role, model in case.models.items():
        path = getattr(model, "source_path", None)
        if path is not None:
            inputs[f"model:{role}"] = Path(path)
    if case.data_path is not None:
        inputs["data"] = case.data_path
    return inputs


def _commitment_scheme(case: AuditCase) -> str | None:
    from audit.commitment import SCHEME

    return SCHEME if case.id_col is not None else None


def write_evidence(results: dict[str, Any], case: AuditCase, out_dir: str | Path,
                   commitment_key_path: str | Path | None = None, **kwargs: Any) -> Path:
    """Write the evidence pack for ``results`` atomically into ``out_dir``.

    A commitment key the case generated itself is written beside the pack (mode 0600, in
    the same atomic step), at ``commitment_key_path`` or ``<out_dir>.commitment-key``; it
    never enters the pack.
    """
    from audit.commitment import default_key_path, key_text
    from reports import write_pack

    if case.commitment_key_generated and case.commitment_key is not None:
        path = Path(commitment_key_path) if commitment_key_path else default_key_path(out_dir)
        kwargs["secret_file"] = (path, key_text(case.commitment_key))
    return write_pack(results, out_dir, inputs=case_inputs(case), **kwargs)
