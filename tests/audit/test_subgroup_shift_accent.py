"""``subgroup_shift`` on the accent scenario: the shared-language group is found unprompted.

Known answers: the approximate unlearning method fails (policy default) or warns (policy
option); the retrain with another seed posing as U passes (U − R within margin for the
group); the original posing as U harms no group (this check is about harm, not forgetting).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from audit.checks import registry
from audit.core.case_file import load_case
from audit.engine.runner import run_audit
from audit.scenarios.accent import SHARED_LANGUAGE
from tests.conftest import write_variant

ONLY = {"general": {"n_bootstrap": 400},
        **{cid: {"enabled": False} for cid in registry() if cid != "subgroup_shift"}}


def _check(case_toml: Path, **policy: object) -> dict:
    pol = {**ONLY, "subgroup_shift": dict(policy)} if policy else ONLY
    res = run_audit(load_case(case_toml), policy=pol, seed=0)
    json.dumps(res)  # serialisable
    return next(c for c in res["checks"] if c["id"] == "subgroup_shift")


@pytest.fixture(scope="module")
def approx(accent_dir: Path) -> dict:
    return _check(accent_dir / "case.toml")


def test_shared_language_found_unprompted(approx: dict) -> None:
    assert approx["status"] == "fail"
    declared = [f for f in approx["findings"] if f["slice"] == {"home_language": SHARED_LANGUAGE}]
    acc = [f for f in declared if f["metric"] == "accuracy"]
    assert acc, approx["summary"]
    f = acc[0]
    assert f["delta"] < -0.1 and f["ci"][1] < -0.05 and f["p_adjusted"] < 0.05
    assert f["p_value"] <= f["p_adjusted"] and f["n"] >= 200
    assert "McNemar" in f["test"] or "sign test" in f["test"]
    # related to the forgotten data: most withdrawn rows share the language, few retain rows do
    ex = f["extra"]
    key = f"home_language={SHARED_LANGUAGE}"
    assert ex[f"forget_share[{key}]"] > 0.6 > 0.3 > ex[f"retain_share[{key}]"]
    assert ex["forget_similarity_ratio"] > 1.3
    # ... and students *elsewhere* (outside the withdrawn district) sharing it are hit too
    assert "District A" in ex["elsewhere_excludes"] and ex["elsewhere_n"] >= 100
    assert ex["elsewhere_delta"] < -0.1 and ex["elsewhere_ci_high"] < 0 and ex["elsewhere_p_value"] < 0.01
    # students are marked more harshly: the false-negative rate rises
    fnr = [f for f in declared if f["metric"] == "fnr"]
    assert fnr and fnr[0]["delta"] > 0.1
    # discovery (no group told) confirms a slice of the accent region on the held-out half
    disc = [f for f in approx["findings"] if f["extra"].get("source") == "discovered slice"]
    assert disc and all(f["p_adjusted"] < 0.05 and f["delta"] < 0 for f in disc)


def test_contract_of_results(approx: dict) -> None:
    for f in approx["findings"]:
        assert isinstance(f["slice"], dict) and f["slice"]
        for k in ("n", "delta", "ci", "p_value", "p_adjusted", "test"):
            assert f[k] is not None, k
    forest = approx["figures"][0]
    assert forest["kind"] == "forest" and forest["data"]["margin"] == 0.05
    deltas = next(t for t in approx["tables"] if t["name"].startswith("per-group deltas"))
    cols = deltas["columns"]
    for col in ("p_value", "p_holm", "p_bh", "test", "status", "n"):
        assert col in cols
    small = [r for r in deltas["rows"] if r[cols.index("n")] < 30 and r[cols.index("comparison")] == "U-R"]
    assert small and all(r[cols.index("status")] == "inconclusive" for r in small)
    assert all(r[cols.index("p_holm")] is None for r in small)


def test_policy_warn_instead_of_fail(accent_dir: Path) -> None:
    c = _check(accent_dir / "case.toml", on_shift="warn")
    assert c["status"] == "warn"


def test_retrain_as_unlearned_passes(accent_dir: Path, tmp_path: Path) -> None:
    case = write_variant(accent_dir, tmp_path / "r", unlearned="extra/retrained-other-seed.skops")
    c = _check(case)
    assert c["status"] == "pass", c["summary"]
    assert not [f for f in c["findings"] if f["status"] in ("fail", "warn")]
    m = next(m for m in c["metrics"] if m["name"] == f"accuracy[home_language={SHARED_LANGUAGE}]")
    assert -0.05 < m["delta_ci"][0] and m["delta_ci"][1] < 0.05 and m["status"] == "pass"


def test_original_as_unlearned_harms_no_group(accent_dir: Path, tmp_path: Path) -> None:
    # The no-op forgets nothing, but it does not harm the shared-language group either: this
    # check measures harm to groups (forgetting is other checks' job), so it must not flag it.
    case = write_variant(accent_dir, tmp_path / "o", unlearned="original.skops")
    c = _check(case)
    assert not [f for f in c["findings"] if f["status"] in ("fail", "warn")], c["summary"]
    assert c["status"] in ("pass", "inconclusive")


def test_bad_policy_value(accent_dir: Path) -> None:
    from audit.shared.errors import BadInput

    with pytest.raises(BadInput, match="on_shift"):
        _check(accent_dir / "case.toml", on_shift="ignore")
