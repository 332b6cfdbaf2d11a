"""Running an audit: policy → cached outputs → checks → verdict → results dict → pack.

The checks run here; the verdict rules live in :mod:`audit.verdict` and results.json is built
by :mod:`audit.results_builder` (both re-exported).
"""

from __future__ import annotations

import os
import time
import traceback
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from audit.cache import OutputCache
from audit.case import AuditCase
from audit.checks import CheckContext, registry
from audit.cost import Meter, metered
from audit.errors import BadInput
from audit.policy import resolve_policy, split_over_looks
from audit.result_api import AuditResult
from audit.results import CheckResult
from audit.results_builder import (
    SCHEMA_VERSION,
    _model_entry,
    _now,
    build_results,
    case_inputs,
    cost_summary,
)
from audit.verdict import EXIT_CODES, audit_controls, exit_code_of, gate_verdict, verdict_of

# the verdict (audit.verdict) and the results builder (audit.results_builder) are re-exported
# here: runner is the module users and the CLI import them from
__all__ = ["run_audit", "run_method_checks", "build_results", "planned_checks", "verdict_of", "gate_verdict",
           "audit_controls", "exit_code_of", "write_evidence", "cost_summary", "case_inputs", "EXIT_CODES",
           "SCHEMA_VERSION", "_model_entry", "_now"]



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
    why = spec.unsupported or f"it is defined for {' and '.join(t.replace('_', ' ') for t in spec.tasks)} models"
    words = {"language_model": "language"}.get(task, task)
    out = CheckResult(spec.id, "skipped", f"Not run: this check does not support {words} models ({why}).",
                      title=spec.title, required=required, missing=[f"{task} support: {why}"]).to_dict()
    # the reports fold these into one line instead of a row each (issue 16)
    out["not_applicable"] = {"task": task, "tasks": list(spec.tasks)}
    return out


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
    looks: int = 1,
) -> AuditResult:
    """Run every enabled check on ``case`` and return its results (results.json).

    Parameters
    ----------
    case : AuditCase or path
        The validated case, or the path of a case file (loaded with
        :func:`audit.case.load_case`, pickles and code not trusted); a file with
        ``[[requests]]`` is audited as a stream (:func:`audit.stream_runner.run_stream`).
    policy : dict, optional
        The gate policy (a ``--policy`` file) on top of the built-in defaults; the case
        file's ``[policy]`` may then only tighten it (see :func:`audit.policy.resolve_policy`).
    seed : int
        Seeds every bootstrap; same case + same seed gives the same results.
    progress : callable, optional
        Called with each check id before it runs.
    cache : OutputCache, optional
        Reuse outputs already computed (e.g. across several audits of one case).
    looks : int
        How many audits of one sequence this run is one of (a stream's steps): the kernel's
        ``fail_level`` and ``1 - retrain_coverage`` are divided by it
        (:func:`audit.policy.split_over_looks`, decision record 0016).

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
        from audit.stream import is_stream_file

        if is_stream_file(case):  # [[requests]]: every step and the sequence (audit.stream_runner)
            from audit.stream import load_stream_case
            from audit.stream_runner import run_stream

            return run_stream(load_stream_case(case), policy=policy, seed=seed, progress=progress)
        case = load_case(case)
    started = _now()
    pol, policy_sources = resolve_policy(case, policy)  # validated; the case may only tighten a gate
    pol = split_over_looks(pol, looks)
    own_cache = cache is None
    if cache is None:
        cache = case.output_cache(pol["general"]["batch_size"])  # a TokenCache for a language model
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
