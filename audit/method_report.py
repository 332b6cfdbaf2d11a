"""Turn method-audit runs into checks and a results dict (results.json, mode ``method``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from audit.case import AuditCase
from audit.method_attacks import challenge_metrics, ulira_metric
from audit.results import CheckResult, Figure, Metric, Table, worst_status

__all__ = ["build_results"]

_COLUMNS = ["method", "seeds", "accuracy retain", "accuracy test", "MIA AUC gap to R", "KL(R||U) test",
            "injection ratio", "canary detected", "U-LiRA AUC", "challenge quality", "unlearn s", "retrain s",
            "speed-up", "storage bytes", "status"]


def _mean(runs: list[dict[str, Any]], key: str) -> float:
    return float(np.mean([r[key] for r in runs]))


def _method_check(name: str, runs: list[dict[str, Any]], pol: dict[str, Any], ctx: Any,
                  h: dict[str, Any]) -> tuple[CheckResult, list[Any]]:
    metrics: list[Metric] = []
    for split in ("retain", "test"):
        u = np.concatenate([r["u"][f"correct:{split}"] for r in runs])
        rr = np.concatenate([r["r"][f"correct:{split}"] for r in runs])
        metrics.append(h["paired_metric"](ctx, "accuracy", split, u, rr, float(pol["accuracy_margin"]), "two_sided"))
    mia = h["seed_metric"]("loss_attack_auc", [r["mia_u"] for r in runs], [r["mia_r"] for r in runs],
                           float(pol["mia_margin"]), ctx.alpha)
    mia.split = "forget_vs_test"
    inj = h["seed_metric"]("injection_ratio", [r["ratio_u"] for r in runs], [r["ratio_r"] for r in runs],
                           float(pol["injection_margin"]), ctx.alpha)
    inj.split = "forget"
    metrics += [mia, inj]
    kls = {}
    for split in ("forget", "test"):
        kl = np.concatenate([h["kl"](r["r"], r["u"], split) for r in runs])
        kls[split] = float(kl.mean())
        metrics.append(Metric("kl_r_u", split, float(kl.mean()), comparator="info", n=len(kl),
                              note="KL(R || U) per row, averaged; 0 = U answers like R"))
    detected = [not r["canary"].deleted for r in runs]
    c0 = runs[0]["canary"]
    metrics.append(Metric("canary_detected", "test_triggered", float(np.mean(detected)), comparator="info",
                          n=len(runs), status="fail" if any(detected) else None,
                          note=f"Athena test, {c0.n} queries, threshold k={c0.threshold} at alpha={c0.alpha:g}; "
                               f"power vs O's success rate {np.mean([r['canary'].power for r in runs]):.3f}"))
    phi_u = np.stack([r["u"]["phi:forget"] for r in runs])
    phi_r = np.stack([r["r"]["phi:forget"] for r in runs])
    ulira = ulira_metric(phi_u, phi_r, float(pol["ulira_margin"]), ctx)
    challenge = challenge_metrics(phi_u, phi_r, seed=ctx.seed)  # same R halves per method
    metrics += [ulira, *challenge]
    secs, rsecs = _mean(runs, "seconds"), _mean(runs, "retrain_seconds")
    metrics.append(Metric("seconds_unlearn", "seeds", secs, reference=rsecs, comparator="info", n=len(runs),
                          note="reference = wall time of the exact retrain"))
    metrics.append(Metric("storage_bytes", "seeds", _mean(runs, "storage"), comparator="info", n=len(runs)))
    status = worst_status([m.status for m in metrics if m.status])
    summary = _summary(name, status, metrics)
    row = [name, len(runs), metrics[0].value, metrics[1].value, mia.delta, kls["test"], inj.value,
           float(np.mean(detected)), ulira.value, challenge[1].value, secs, rsecs, rsecs / secs if secs > 0 else None,
           _mean(runs, "storage"), status]
    notes = [f"{k} = {v:.4g}" for k, v in runs[0]["extra"].items()]
    check = CheckResult(id=f"method_{name}", title=f"Method: {name}", status=status, summary=summary,
                        metrics=metrics, notes=notes, required=name not in ("retrain", "noop"))
    return check, row


def _summary(name: str, status: str, metrics: list[Metric]) -> str:
    failed = [f"{m.name}[{m.split}]" for m in metrics if m.status == "fail"]
    if status == "pass":
        return f"{name}: indistinguishable from retraining on every measured axis."
    if failed:
        return f"{name}: differs from retraining on {', '.join(failed)}."
    return f"{name}: could not be shown equivalent to retraining with these seeds; run more seeds."


def _skipped(name: str, reason: str) -> tuple[CheckResult, list[Any]]:
    check = CheckResult(id=f"method_{name}", title=f"Method: {name}", status="skipped",
                        summary=f"{name} does not apply to this recipe: {reason}", missing=[reason],
                        required=False)
    return check, [name, 0] + [None] * (len(_COLUMNS) - 3) + ["skipped"]


def build_results(case: AuditCase, runs: dict[str, Any], seeds: list[int], seed: int, pol: dict[str, Any],
                  ctx: Any, d: dict[str, Any], started: float, helpers: dict[str, Any]) -> dict[str, Any]:
    """Assemble checks, the comparison table and the results dict."""
    from audit.runner import SCHEMA_VERSION, _environment, _version, exit_code_of, verdict_of

    checks, rows = [], []
    for name, r in runs.items():
        check, row = _skipped(name, r) if isinstance(r, str) else _method_check(name, r, pol, ctx, helpers)
        checks.append(check)
        rows.append(row)
    decided = [c.status for c in checks if c.required]
    forest = [{"label": row[0], "value": row[6], "ci": next(
        (list(m.ci) if m.ci else None) for m in c.metrics if m.name == "injection_ratio")}
        for c, row in zip(checks, rows, strict=True) if c.metrics]
    comparison = CheckResult(
        id="method_comparison", title="Methods side by side", status=worst_status(decided) if decided else "skipped",
        summary=f"{len(runs)} methods x {len(seeds)} seeds on '{case.name}' with a planted feature / canary "
                f"(target class {d['target']}).", required=False,
        tables=[Table("methods", _COLUMNS, rows)],
        figures=[Figure("forest", "Injection ratio (0 = forgotten like a retrain, 1 = kept)",
                        {"rows": forest, "margin": None})],
        notes=["Controls: 'retrain' must pass and 'noop' must fail; if not, the setup lacks power."])
    dicts = [comparison.to_dict()] + [c.to_dict() for c in checks]
    verdict = verdict_of(dicts)
    model = {"sha256": None, "format": f"method-audit:{case.recipe}"}
    now = datetime.now(UTC).isoformat(timespec="seconds")
    return {
        "schema_version": SCHEMA_VERSION, "tool": {"name": "unlearn-audit", "version": _version()},
        "case": {"name": case.name, "request_id": case.request_id, "mode": "method",
                 "description": f"methods {list(runs)} x seeds {seeds}"},
        "verdict": verdict, "exit_code": exit_code_of(verdict), "seed": int(seed), "policy": {"method_audit": pol},
        "models": {"original": model, "unlearned": model, "retrained": [model]},
        "data": {"sha256": case.data_sha256, "file": case.data_path.name if case.data_path else None,
                 "n": case.n, "n_features": len(case.features) + 1, "n_classes": int(case.n_classes),
                 "label": case.label, "groups": list(case.groups)},
        "checks": dicts, "environment": _environment(),
        "started_at": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"), "finished_at": now,
    }
