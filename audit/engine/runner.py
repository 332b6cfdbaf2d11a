"""Running an audit: policy → cached outputs → checks → verdict → results dict → pack.

The checks run here; the verdict rules live in :mod:`audit.engine.verdict` and results.json is built
by :mod:`audit.engine.results_builder` (both re-exported).
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

from attacks.normal import NORMAL_FROM, normal_from_rows
from audit.checks import CheckContext, registry
from audit.core.cache import OutputCache
from audit.core.case import AuditCase
from audit.core.cost import Meter, metered
from audit.core.results import CheckResult
from audit.engine.policy import resolve_policy, split_over_looks
from audit.engine.result_api import AuditResult
from audit.engine.results_builder import (
    SCHEMA_VERSION,
    _model_entry,
    _now,
    build_results,
    case_inputs,
    cost_summary,
)
from audit.engine.stream import StreamCase
from audit.engine.stream_results import stream_result
from audit.engine.verdict import EXIT_CODES, audit_controls, exit_code_of, gate_verdict, verdict_of
from audit.shared.errors import BadInput

# the verdict (audit.engine.verdict) and the results builder (audit.engine.results_builder) are re-exported
# here: runner is the module users and the CLI import them from
__all__ = ["run_audit", "run_stream", "run_method_checks", "build_results", "planned_checks", "verdict_of", "gate_verdict",
           "audit_controls", "exit_code_of", "write_evidence", "cost_summary", "case_inputs", "EXIT_CODES",
           "SCHEMA_VERSION", "_model_entry", "_now"]



def _run_check(spec: Any, ctx: CheckContext) -> CheckResult:
    try:
        with normal_from_rows(int(ctx.general.get("normal_from_rows", NORMAL_FROM))):  # decision record 0022
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
    """Ids of the checks a run of ``mode`` runs under the resolved policy ``pol``, in order.

    Parameters
    ----------
    pol : dict
        A resolved policy (:func:`audit.engine.policy.resolve_policy`): one table per check id.
    mode : str
        ``"model"`` (:func:`run_audit`) or ``"method"`` (:func:`run_method_checks`); a check
        is planned when it is enabled and its spec's ``modes`` include ``mode``.

    Returns
    -------
    list of str
        Check ids in the registry's run order (:func:`audit.checks.registry`).

    Examples
    --------
    >>> from audit.engine.policy import default_policy
    >>> "utility" in planned_checks(default_policy()), "method" in planned_checks(default_policy())
    (True, False)
    >>> "method" in planned_checks(default_policy(), "method")
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
        :func:`audit.core.case_file.load_case`, pickles and code not trusted); a file with
        ``[[requests]]`` is audited as a stream (:func:`audit.engine.runner.run_stream`).
    policy : dict, optional
        The gate policy (a ``--policy`` file) on top of the built-in defaults; the case
        file's ``[policy]`` may then only tighten it (see :func:`audit.engine.policy.resolve_policy`).
    seed : int
        Seeds every bootstrap; same case + same seed gives the same results.
    progress : callable, optional
        Called with each check id before it runs.
    cache : OutputCache, optional
        Reuse outputs already computed (e.g. across several audits of one case).
    looks : int
        How many audits of one sequence this run is one of (a stream's steps): the kernel's
        ``fail_level`` and ``1 - retrain_coverage`` are divided by it
        (:func:`audit.engine.policy.split_over_looks`, decision record 0016).

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
        from audit.core.case_file import load_case
        from audit.engine.stream import is_stream_file

        if is_stream_file(case):  # [[requests]]: every step and the sequence (audit.engine.runner.run_stream)
            from audit.engine.stream import load_stream_case

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



def run_stream(stream: StreamCase, policy: dict[str, Any] | None = None, seed: int = 0,
               progress: Callable[[str], None] | None = None) -> AuditResult:
    """Audit every step of ``stream`` and the sequence; return results.json (mode ``stream``).

    Each step is :func:`run_audit` of :meth:`StreamCase.step` with the policy split over the
    stream's looks; the sequence is built by :func:`audit.engine.stream_results.stream_result`.

    Parameters
    ----------
    stream : StreamCase
        The validated stream (:func:`audit.engine.stream.load_stream_case`).
    policy : dict, optional
        The gate policy, as for :func:`run_audit`; every step runs under it with
        ``fail_level`` and ``1 - retrain_coverage`` divided by the number of steps.
    seed : int
        Seeds every step's bootstraps (the same seed at every step).
    progress : callable, optional
        Called with each check id before it runs, step after step.

    Returns
    -------
    AuditResult
        The deciding step's model audit with the sequence verdict, exit code and ``stream``.

    Examples
    --------
    >>> from audit.scenarios import build_scenario           # doctest: +SKIP
    >>> from audit.engine.stream import load_stream_case     # doctest: +SKIP
    >>> r = run_stream(load_stream_case(build_scenario("stream", "/tmp/s")))  # doctest: +SKIP
    >>> r["stream"]["first_failing_step"] > 1                # doctest: +SKIP
    True
    """
    started = _now()
    general = resolve_policy(stream.step(1), policy)[0]["general"]  # validated before any step runs
    steps, seconds = [], []
    for i in range(1, len(stream) + 1):
        t0 = time.perf_counter()
        steps.append(run_audit(stream.step(i), policy=policy, seed=seed, progress=progress, looks=len(stream)))
        seconds.append(time.perf_counter() - t0)
    return stream_result(stream, steps, seconds, general, started)

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

    Parameters
    ----------
    case : AuditCase
        The case the method audit runs on (the checks' ``ctx.case``; ``ctx.cache`` is ``None``).
    pol : dict
        The resolved policy; its enabled method-mode checks run (:func:`planned_checks`).
    seed : int
        The run seed.
    subjects : dict of str to dict
        Method name -> the check context's ``extras``, as above.
    progress : callable, optional
        Called with each result id before its check runs.

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

    Parameters
    ----------
    results : dict
        The results of :func:`run_audit` (or of a method audit) for ``case``.
    case : AuditCase
        The audited case: its input files go into the manifest (:func:`case_inputs`) and
        its generated commitment key, if any, beside the pack.
    out_dir : path
        The pack directory (see :func:`reports.write_pack`).
    commitment_key_path : path, optional
        Where a generated commitment key is written (default ``<out_dir>.commitment-key``).
    **kwargs
        Passed on to :func:`reports.write_pack` (``sign_key``, ``template_dir``, ``pdf``, ``formats``).

    Returns
    -------
    Path
        The pack directory, as :func:`reports.write_pack` returns it.
    """
    from audit.shared.commitment import default_key_path, key_text
    from reports import write_pack

    if case.commitment_key_generated and case.commitment_key is not None:
        path = Path(commitment_key_path) if commitment_key_path else default_key_path(out_dir)
        kwargs["secret_file"] = (path, key_text(case.commitment_key))
    return write_pack(results, out_dir, inputs=case_inputs(case), **kwargs)
