"""The harness itself: it must notice a payload that ran, a wrong exit code and leftovers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.artifacts import write_payload_pickle
from tests.fuzz.base import Base, build_base, edit_toml
from tests.fuzz.harness import run_input
from tests.fuzz.spec import Input, run_case


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Base:
    return build_base(tmp_path_factory.mktemp("fuzzbase") / "base")


def _trusted_payload(ctx) -> list[str]:  # noqa: ANN001 - Ctx
    write_payload_pickle(ctx.case / "m.pkl", ctx.sentinel)
    edit_toml(ctx.case, 'unlearned = "unlearned.skops"', 'unlearned = "m.pkl"')
    return run_case(ctx, "--allow-pickle")


@pytest.mark.slow
def test_harness_flags_payload_and_leftovers(base: Base, tmp_path: Path) -> None:
    """With --allow-pickle the payload does run: the sentinel must be reported."""
    outcome = run_input(Input("t/payload", _trusted_payload), base, tmp_path / "w")
    assert any("PAYLOAD RAN" in p for p in outcome.problems), outcome
    assert any(p.startswith("leftover: PAYLOAD-RAN") for p in outcome.problems), outcome


@pytest.mark.slow
def test_harness_passes_a_handled_input_and_flags_a_wrong_expectation(base: Base, tmp_path: Path) -> None:
    tamper = lambda c: (c.pack("unsigned"), (c.work / "pack" / "x.txt").write_text("x"),  # noqa: E731
                        ["verify", str(c.work / "pack")])[2]
    good = run_input(Input("t/extra", tamper, expect=frozenset({1})), base, tmp_path / "a")
    assert good.ok and good.code == 1 and "MISMATCH" in good.message, good
    wrong = run_input(Input("t/extra", tamper, expect=frozenset({0})), base, tmp_path / "b")
    assert wrong.problems == ["exit 1, expected 0"], wrong
