"""`[general] normal_from_rows` reaches the checks, and the results say where the normal limit was used."""

from __future__ import annotations

from pathlib import Path

from audit.engine.runner import run_audit


def _draws(res: dict, kind: str) -> int:
    return sum(m.get(kind, 0) for m in res["cost"]["checks"].values())


def test_lowering_the_threshold_takes_the_normal_limit_and_keeps_the_verdict(digits_dir: Path) -> None:
    """The digits case is far below 50 000 rows: exact by default, the normal limit at 100 rows."""
    case = digits_dir / "case.toml"
    default = run_audit(case, seed=0)
    low = run_audit(case, seed=0, policy={"general": {"normal_from_rows": 100}})
    assert _draws(default, "normal_limit_replicates") == 0
    assert _draws(low, "normal_limit_replicates") > 0
    assert low["verdict"] == default["verdict"]
    assert {c["id"]: c["status"] for c in low["checks"]} == {c["id"]: c["status"] for c in default["checks"]}


def test_a_bad_threshold_is_bad_input_naming_the_field() -> None:
    import pytest

    from audit.engine.policy import default_policy, merge_policy
    from audit.shared.errors import BadInput

    for bad in (10, "auto", 2.5):
        with pytest.raises(BadInput, match="general.normal_from_rows"):
            merge_policy(default_policy(), {"general": {"normal_from_rows": bad}})
