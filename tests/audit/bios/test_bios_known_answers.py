"""Known answers on bios: a fresh retrain passes, the no-op fails, gradient ascent to collapse fails.

Fast tier: seed 0 of the tiny scenario (built once per session), audited with the LM checks of
this branch and utility. Slow tier: seeds 0-2 of the tiny scenario (people, models and unlearning
all re-drawn per seed) with the full default policy.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.audit.bios.conftest import known_answer_audits

LM_CHECKS = ("verbatim_memorisation", "knowledge_probe")


def _status(result: dict, check: str) -> str:
    return next(c["status"] for c in result["checks"] if c["id"] == check)


def _assert_known(res: dict[str, dict], every_check: bool = True) -> None:
    """The verdict-level known answers; with ``every_check`` also each LM check's own.

    Over seeds only the verdicts are asserted (the issue's known answers): on tiny seed 1 the
    no-op is ``inconclusive`` on ``knowledge_probe`` (three references give a wide band) while
    ``verbatim_memorisation`` fails it, so the verdict is still a fail.
    """
    retrain, noop, ga = (res[k]["result"] for k in ("retrain", "noop", "gradient_ascent"))
    for check in LM_CHECKS:
        assert _status(retrain, check) == "pass", (check, retrain["checks"])
        if every_check:
            assert _status(noop, check) == "fail", check
            # the original (positive control) is told apart from the retrains
            ctl = next(c["controls"] for c in retrain["checks"] if c["id"] == check)
            assert ctl["positive"]["status"] == "fail" and ctl["negative"]["failed"] == 0, ctl
    assert any(_status(noop, check) == "fail" for check in LM_CHECKS)
    assert retrain["verdict"] in ("pass", "warn")
    assert noop["verdict"] == "fail" and ga["verdict"] == "fail"
    # the collapse is caught as damage: U reproduces or knows less than a retrain, or utility fell
    harm = [m for c in ga["checks"] for m in c["metrics"] if m.get("status") == "fail"]
    assert any(m["split"] in ("retain", "test") for m in harm), harm


def test_known_answers_seed0(bios_audits: dict) -> None:
    _assert_known(bios_audits)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_known_answers_tiny_over_seeds(seed: int, tmp_path: Path) -> None:
    from audit.scenarios.bios import build_bios

    build_bios(tmp_path / "case", seed=seed, size="tiny")
    _assert_known(known_answer_audits(tmp_path / "case", tmp_path, None), every_check=False)
