"""The Python API used the way a notebook user would: run, look at frames, write a pack."""

from __future__ import annotations

import doctest
import json

import pandas as pd

import audit
from audit import AuditResult, run_audit
from reports import validate_results, verify_pack


def test_notebook_session_on_a_case_file(tiny_dir, tmp_path):
    result = run_audit(tiny_dir / "case.toml", seed=0)
    assert isinstance(result, AuditResult) and isinstance(result, dict)
    assert result.verdict == result["verdict"] and result.verdict in ("pass", "warn", "fail", "inconclusive")
    assert result.exit_code == {"pass": 0, "warn": 0, "fail": 1}.get(result.verdict, 3)
    assert [c["id"] for c in result.checks] == [c["id"] for c in result["checks"]]

    metrics = result.metrics_frame()
    assert list(metrics.columns) == ["check", "metric", "split", "value", "ci_low", "ci_high",
                                     "reference", "margin", "status", "n"]
    assert len(metrics) == sum(len(c["metrics"]) for c in result.checks) > 0
    assert set(metrics["check"]) <= {c["id"] for c in result.checks}
    utility = metrics[(metrics["check"] == "utility") & metrics["ci_low"].notna()]
    assert not utility.empty and (utility["ci_low"] <= utility["value"]).all()
    assert (utility["value"] <= utility["ci_high"]).all()
    assert pd.api.types.is_float_dtype(metrics["value"])

    findings = result.findings_frame()
    assert len(findings) == sum(len(c["findings"]) for c in result.checks)
    assert "slice" in findings.columns

    html = result._repr_html_()
    assert result.verdict.upper() in html and all(c["id"] in html for c in result.checks)
    assert repr(result).startswith(f"AuditResult(verdict={result.verdict!r}")

    assert json.loads(result.to_json()) == json.loads(json.dumps(result))
    validate_results(result)

    pack = result.write_pack(tmp_path / "pack", formats={"json", "html"})
    assert verify_pack(pack) == []
    manifest = json.loads((pack / "manifest.json").read_text())
    assert set(manifest["inputs"]) >= {"data", "model:original", "model:unlearned"}
    assert "report.pdf" not in manifest["outputs"]


def test_a_result_survives_a_json_round_trip_as_a_plain_dict():
    r = AuditResult({"verdict": "pass", "exit_code": 0, "checks": []})
    assert json.loads(r.to_json()) == {"verdict": "pass", "exit_code": 0, "checks": []}
    assert r.metrics_frame().empty and r.findings_frame().empty


def test_api_is_exported_and_examples_run():
    assert {"AuditResult", "run_audit"} <= set(audit.__all__)
    from audit.engine import result_api
    failures, attempted = doctest.testmod(result_api, optionflags=doctest.ELLIPSIS)
    assert failures == 0 and attempted >= 8
