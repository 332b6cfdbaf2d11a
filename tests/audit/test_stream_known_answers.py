"""Stream audits, known answers in both directions (decision record 0016).

* a stream whose every step's unlearned model is a genuine retrain (a seed the references do
  not have) passes every step — rotations 0 and 1 of which retrain plays the unlearned model
  (fast tier; slow: under the built-in policy too); rotations 2-4 (slow) are never failed, and
  a step that does not pass there is one without power (decision record 0016);
* a stream whose unlearned model is the original at every step fails at step 1;
* the ``stream`` scenario (fine-tune on top of the previous step) fails at a later step than
  the first, its failing check's drift ratio grown from inside the fail band to beyond it —
  in at least four of five seeds (slow; the steps are in decision record 0016).

The fast tier turns ``subgroup_shift`` off (``FAST_POLICY``); the slow tier runs the built-in
policy too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.engine.runner import run_stream
from audit.engine.stream import load_stream_case
from tests.audit._stream_helpers import FAST_POLICY, variant


def _run(case: Path, policy: dict | None = FAST_POLICY) -> dict:
    return run_stream(load_stream_case(case), policy=policy, seed=0)


def _assert_retrain_passes(r: dict) -> None:
    st = r["stream"]
    assert [s["verdict"] for s in st["steps"]] == ["pass"] * st["requests"], st["steps"]
    assert all(s["power"] for s in st["steps"])  # the original was detectable at every step
    assert r["verdict"] == "pass" and r["exit_code"] == 0
    assert st["first_failing_step"] is None and st["requests_survived"] == st["requests"]


@pytest.mark.parametrize("rotation", [0, 1])
def test_genuine_retrain_passes_every_step(stream_dir: Path, tmp_path: Path, rotation: int) -> None:
    _assert_retrain_passes(_run(variant(stream_dir / "case.toml", "retrain", rotation)))


@pytest.mark.slow
@pytest.mark.parametrize("rotation", [2, 3, 4])
def test_genuine_retrain_is_never_failed_more_seeds(stream_dir: Path, rotation: int) -> None:
    """Rotations 2-4: no step fails; a step that does not pass is one whose audit has no power.

    Measured: each of these streams is inconclusive at step 1 (no required forgetting check can
    tell the original from these four references on 126 rows) and passes step 2; at rotation 2's
    step 1 the differencing attack (``unlearning_inference``) is inconclusive too.
    """
    r = _run(variant(stream_dir / "case.toml", "retrain", rotation))
    st = r["stream"]
    assert st["first_failing_step"] is None and r["verdict"] in ("pass", "inconclusive")
    for s in st["steps"]:
        assert s["verdict"] == "pass" or (s["verdict"] == "inconclusive" and not s["power"]), s
        required = {c["status"] for c in s["checks"] if c["required"]}
        assert "fail" not in required, s["checks"]
        assert not s["power"] or required <= {"pass", "skipped"}, s["checks"]  # undecided only without power


@pytest.mark.slow
@pytest.mark.parametrize("rotation", [0, 1])
def test_genuine_retrain_passes_under_the_builtin_policy(stream_dir: Path, rotation: int) -> None:
    _assert_retrain_passes(_run(variant(stream_dir / "case.toml", "retrain", rotation), policy=None))


def test_noop_stream_fails_at_step_one(stream_dir: Path) -> None:
    r = _run(variant(stream_dir / "case.toml", "noop"))
    st = r["stream"]
    assert st["first_failing_step"] == 1 and st["requests_survived"] == 0
    assert r["verdict"] == "fail" and r["exit_code"] == 1
    assert r["case"]["mode"] == "stream"
    assert "step 1 of 2" in r["verdict_reason"]


def test_per_step_forget_set_is_cumulative(stream_dir: Path) -> None:
    s = load_stream_case(variant(stream_dir / "case.toml", "noop"))
    own = [s.own_rows(i) for i in (1, 2)]
    assert [s.step(i).n["forget"] for i in (1, 2)] == [own[0], own[0] + own[1]]
    # a later request's rows are still trained on at an earlier step: retain there
    assert s.step(1).n["retain"] == s.step(2).n["retain"] + own[1]


@pytest.mark.slow
def test_scenario_fails_after_the_first_step_with_growing_drift(tmp_path: Path) -> None:
    """Over five scenario seeds every stream fails, and in at least four the first failing step is > 1
    with the failing check's drift ratio grown from inside the fail band (step 1) to beyond it.

    Measured (decision record 0016): first failing steps 6, 8, 4, 3, 1 for seeds 0..4 with
    ``unlearning_inference`` off; with it on (``FAST_POLICY`` now) 6, 2, 2, 3, 1 — the
    differencing attack fails seeds 1 and 2 at step 2.
    """
    from audit.scenarios.stream import build_stream

    later = 0
    for seed in range(5):
        r = _run(build_stream(tmp_path / f"s{seed}", seed=seed))
        st = r["stream"]
        first = st["first_failing_step"]
        assert first is not None and r["exit_code"] == 1 and st["requests_survived"] == first - 1
        if first == 1:
            continue
        failed = [c["id"] for c in st["steps"][first - 1]["checks"] if c["required"] and c["status"] == "fail"]
        ratio = {p["step"]: p["ratio"] for p in next(d for d in st["drift"] if d["check"] == failed[0])["points"]}
        assert ratio[1] < 1.0 < ratio[first], (seed, ratio)
        later += 1
    assert later >= 4, later
