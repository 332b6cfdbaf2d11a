"""CLI: a bad or loosening policy is exit 2 naming the field, nothing written; layers recorded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from audit.cli.app import app

runner = CliRunner()
# the accepted runs: the gate switches off what these tests do not need (the membership and
# differencing attacks stay on, the default configuration: ~0.04 s each on the tiny case)
FAST_GATE = ('[subgroup_shift]\nenabled = false\n[feature_removal]\nenabled = false\n'
             '[general]\nn_bootstrap = 200\n')


def _run(case: Path, out: Path, gate: str | None, tmp: Path):
    # no PDF: the policy layers are under test, and rendering it is ~90 % of a tiny case's run
    args = ["run", str(case), "--out", str(out), "--no-pdf"]
    if gate is not None:
        (tmp / "gate.toml").write_text(gate)
        args += ["--policy", str(tmp / "gate.toml")]
    return runner.invoke(app, args)


def _case_with(tiny_dir: Path, tmp: Path, policy: str) -> Path:
    d = tmp / "case"
    shutil.copytree(tiny_dir, d)
    (d / "case.toml").write_text((d / "case.toml").read_text() + "\n" + policy)
    return d / "case.toml"


@pytest.mark.parametrize(("gate", "field"), [
    ('[output_divergence]\ngate_on = ["KL"]\n', "policy.output_divergence.gate_on[0]"),
    ('[general]\nn_bootstrap = "auto"\n', "policy.general.n_bootstrap"),
    ("[general]\nbatch_size = 0\n", "policy.general.batch_size"),
    ("[utility]\naccuracy_margin = nan\n", "policy.utility.accuracy_margin"),
    ("[utility]\naccuracy_margin = -0.1\n", "policy.utility.accuracy_margin"),
    ('[membership_inference]\nattacks = ["loss", "lira"]\n', "policy.membership_inference.attacks[1]"),
    ('[subgroup_shift]\nmetrics = ["accuracy", "auc"]\n', "policy.subgroup_shift.metrics[1]"),
    ('[feature_removal]\nfeature = "nope"\n', "policy.feature_removal.feature"),
])
def test_bad_gate_policy_exits_2(gate: str, field: str, tiny_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "pack"
    res = _run(tiny_dir / "case.toml", out, gate, tmp_path)
    assert res.exit_code == 2, res.output
    assert field in res.output and "Traceback" not in res.output
    assert not out.exists()


def test_bad_case_policy_exits_2(tiny_dir: Path, tmp_path: Path) -> None:
    case = _case_with(tiny_dir, tmp_path, '[policy.unlearning_inference]\nfeatures = []\n')
    out = tmp_path / "pack"
    res = _run(case, out, None, tmp_path)
    assert res.exit_code == 2 and "case.policy.unlearning_inference.features" in res.output
    assert not out.exists()


def test_case_loosening_the_gate_exits_2_naming_both_values(tiny_dir: Path, tmp_path: Path) -> None:
    case = _case_with(tiny_dir, tmp_path, "[policy.utility]\naccuracy_margin = 0.2\n")
    out = tmp_path / "pack"
    res = _run(case, out, "[utility]\naccuracy_margin = 0.05\n", tmp_path)
    assert res.exit_code == 2, res.output
    assert "case.policy.utility.accuracy_margin" in res.output
    assert "gate 0.05, case 0.2" in res.output and "Traceback" not in res.output
    assert not out.exists()


def test_case_tightening_the_gate_runs_and_records_both_layers(tiny_dir: Path, tmp_path: Path) -> None:
    case = _case_with(tiny_dir, tmp_path, '[policy.utility]\naccuracy_margin = 0.02\n'
                      '[policy.output_divergence]\ngate_on = ["kl", "tv"]\n')
    out = tmp_path / "pack"
    res = _run(case, out, FAST_GATE + "[utility]\naccuracy_margin = 0.05\n", tmp_path)
    assert res.exit_code in (0, 1, 3), res.output
    results = json.loads((out / "results.json").read_text())
    assert results["policy"]["utility"]["accuracy_margin"] == 0.02
    assert results["policy"]["output_divergence"]["gate_on"] == ["kl", "tv"]
    src = results["policy_sources"]
    assert src["gate"]["utility"] == {"accuracy_margin": 0.05}
    assert src["case"] == {"utility": {"accuracy_margin": 0.02},
                           "output_divergence": {"gate_on": ["kl", "tv"]}}
    assert src["defaults"]["utility"]["accuracy_margin"] == 0.03


def test_without_gate_the_case_policy_overrides_defaults(tiny_dir: Path, tmp_path: Path) -> None:
    fast = "".join(f"[policy.{c}]\nenabled = false\n" for c in
                   ("subgroup_shift", "feature_removal"))
    case = _case_with(tiny_dir, tmp_path, fast + "[policy.utility]\naccuracy_margin = 0.2\n")
    out = tmp_path / "pack"
    res = _run(case, out, None, tmp_path)
    assert res.exit_code in (0, 1, 3), res.output
    results = json.loads((out / "results.json").read_text())
    assert results["policy"]["utility"]["accuracy_margin"] == 0.2
    assert results["policy_sources"]["gate"] is None
