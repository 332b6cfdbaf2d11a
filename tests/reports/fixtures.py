"""Hand-built results dicts in the engine's exact shapes (via audit.core.results objects)."""

from __future__ import annotations

import copy
from typing import Any

from audit.core.results import CheckResult, Figure, Finding, Metric, Table

XSS = "<script>alert(1)</script>"
SHA = {role: f"{i:x}" * 64 for i, role in enumerate(("original", "unlearned", "r0", "r1", "data"), 1)}


def _membership() -> CheckResult:
    return CheckResult(
        id="membership_inference", title="Membership inference", status="pass",
        summary="The loss attack separates forget from test rows no better on U than on R.",
        metrics=[Metric("auc[loss]", "forget_vs_test", 0.512, (0.47, 0.55), 0.505, (0.46, 0.54), 0.007,
                        (-0.03, 0.04), 0.05, "two_sided", 400, "pass"),
                 Metric("tpr@1%fpr[loss]", "forget_vs_test", 0.012, (0.0, 0.03), 0.011, None, 0.001,
                        (-0.02, 0.02), None, "info", 400)],
        figures=[Figure("roc", "ROC of the loss attack", {"curves": [
            {"label": "unlearned", "fpr": [0.0, 0.001, 0.01, 0.1, 0.5, 1.0],
             "tpr": [0.0, 0.002, 0.012, 0.11, 0.52, 1.0]},
            {"label": "retrained:0", "fpr": [0.0, 0.001, 0.01, 0.1, 0.5, 1.0],
             "tpr": [0.0, 0.001, 0.011, 0.10, 0.5, 1.0]},
            {"label": "original", "fpr": [0.0, 0.001, 0.01, 0.1, 0.5, 1.0],
             "tpr": [0.0, 0.05, 0.2, 0.5, 0.8, 1.0]}]})])


def _subgroup() -> CheckResult:
    return CheckResult(
        id="subgroup_shift", title="Subgroup shift", status="fail",
        summary="Accuracy fell for one home-language group beyond the margin.",
        metrics=[Metric("max_group_drop", "test", -0.12, (-0.2, -0.05), 0.0, None, -0.12,
                        (-0.2, -0.05), 0.03, "at_least", 120, "fail")],
        findings=[Finding("accuracy drop vs retrained", {"home_language": XSS}, "accuracy", 60, -0.12,
                          (-0.2, -0.05), 0.0004, 0.0012, "exact_mcnemar", "fail"),
                  Finding("no change", {"home_language": "fr", "district": "B"}, "accuracy", 60, 0.01,
                          (-0.04, 0.05), 0.61, 1.0, "exact_mcnemar", "pass")],
        tables=[Table("groups", ["group", "n", "accuracy"], [[XSS, 60, 0.81], ["fr", 60, 0.9]])],
        figures=[Figure("forest", "Per-group accuracy delta (U − R)", {
            "rows": [{"label": XSS, "value": -0.12, "ci": [-0.2, -0.05]},
                     {"label": "fr / B", "value": 0.01, "ci": [-0.04, 0.05]}], "margin": 0.03})])


def _divergence() -> CheckResult:
    return CheckResult(
        id="output_divergence", title="Output divergence", status="inconclusive",
        summary="The KL divergence to the references is within their spread but the CI is wide.",
        metrics=[Metric("kl", "forget", 0.02, (0.01, 0.05), 0.018, (0.01, 0.03), 0.002, (-0.02, 0.04),
                        0.03, "at_most", 40, "inconclusive", 260, "CI upper end above margin")],
        figures=[Figure("histogram", "Per-row KL divergence on the forget split", {
            "series": [{"label": "U vs R", "bin_edges": [0.0, 0.01, 0.02, 0.05, 0.1], "counts": [10, 15, 10, 5]},
                       {"label": "R vs R", "bin_edges": [0.0, 0.01, 0.02, 0.05, 0.1], "counts": [12, 16, 9, 3]}],
            "xlabel": "KL divergence (nats)"})],
        missing=[])


def sample_results(verdict: str = "fail") -> dict[str, Any]:
    """A complete results dict with all three figure kinds and an XSS group value."""
    checks = [_membership(), _subgroup(), _divergence(),
              CheckResult(id="parameter_distance", status="skipped", required=False,
                          summary="Architectures differ; parameter distance not measured.",
                          missing=["matching architectures"])]
    return {
        "schema_version": "1.0",
        "tool": {"name": "unlearn-audit", "version": "0.1.0"},
        "case": {"name": "District A withdrawal", "request_id": "REQ-2026-0042", "mode": "model",
                 "description": "Students of District A withdrew consent."},
        "verdict": verdict,
        "exit_code": {"pass": 0, "warn": 0, "fail": 1}.get(verdict, 3),
        "seed": 0,
        "policy": {"general": {"alpha": 0.05, "n_bootstrap": 200}},
        "models": {"original": {"sha256": SHA["original"], "format": "onnx", "file": "original.onnx"},
                   "unlearned": {"sha256": SHA["unlearned"], "format": "onnx", "file": "unlearned.onnx"},
                   "retrained": [{"sha256": SHA["r0"], "format": "onnx", "file": "retrained-0.onnx"},
                                 {"sha256": SHA["r1"], "format": "onnx", "file": "retrained-1.onnx"}]},
        "data": {"sha256": SHA["data"], "file": "data.parquet", "n": {"forget": 40, "retain": 160, "test": 100},
                 "groups": ["home_language", "district"], "forget_set_sha256": None},
        "checks": [c.to_dict() for c in checks],
        "environment": {"python": "3.11.9", "platform": "Linux", "packages": {"numpy": "2.0"}},
        "started_at": "2026-11-23T08:00:00+00:00",
        "finished_at": "2026-11-23T08:01:00+00:00",
    }


def with_verdict(results: dict[str, Any], verdict: str) -> dict[str, Any]:
    out = copy.deepcopy(results)
    out["verdict"] = verdict
    return out
