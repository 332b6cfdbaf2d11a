"""``unlearn-audit run`` on a stream case: per-step table, exit code from the sequence, the pack's views."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from audit.cli.app import app
from reports.schema import validate_results


def test_run_prints_the_steps_and_exits_from_the_first_failing_step(stream_dir: Path, tmp_path: Path) -> None:
    policy = tmp_path / "gate.toml"  # as tests/audit/_stream_helpers.FAST_POLICY
    policy.write_text("[subgroup_shift]\nenabled = false\n")
    out = tmp_path / "pack"
    res = CliRunner().invoke(app, ["run", str(stream_dir / "case.toml"), "--out", str(out), "--policy", str(policy),
                                   "--no-pdf", "-q"])
    r = json.loads((out / "results.json").read_text())
    validate_results(r)
    st = r["stream"]
    assert r["case"]["mode"] == "stream" and st["requests"] == 2 and st["forget_set"] == "cumulative"
    assert st["looks"]["fail_level_per_step"] == st["looks"]["fail_level"] / 2
    # fine-tuning 10 % of the rows away is detectable: the stream fails, exit 1 from its first failing step
    first = st["first_failing_step"]
    assert first is not None and st["requests_survived"] == first - 1, st["steps"]
    assert res.exit_code == 1 == r["exit_code"], res.output
    assert "stream: one model audit per request" in res.output and f"first failing step: {first}" in res.output
    assert r["data"]["n"]["forget"] == st["steps"][first - 1]["cumulative_forget_rows"]  # the deciding step
    html = (out / "report.html").read_text()
    assert "Stream of deletion requests" in html and html.count('aria-label="') >= len(st["drift"])
    assert "drift ratio" in html and 'id="glossary"' in html
    md = (out / "report.md").read_text()
    assert md.count("## Stream of deletion requests") == 1 and "| 2 | REQ-02 |" in md
