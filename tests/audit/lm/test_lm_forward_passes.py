"""A whole audit of a language-model case runs each (model, split) through its model exactly once."""

from __future__ import annotations

from audit.core.case_file import load_case
from audit.engine.runner import run_audit


def test_every_model_and_split_is_forwarded_once_across_all_checks(tiny_lms, tmp_path):
    case = load_case(tiny_lms.case(tmp_path / "c", tiny_lms.retrain(0)))
    cache = case.output_cache(64)
    result = run_audit(case, cache=cache)
    ran = [c["id"] for c in result["checks"] if c["status"] not in ("skipped",)]
    assert {"identity", "sequence_membership", "lm_utility", "lm_divergence"} <= set(ran)
    expected = {(role, split) for role in case.models for split in ("forget", "retain", "test")}
    calls = dict(cache.calls)
    # one token sweep per (model, split); every other pass (greedy generation, teacher-forced
    # argmax hits, answer / wrong-answer scoring: keys "<kind>:<split>") also exactly once
    assert {k: v for k, v in calls.items() if ":" not in k[1]} == dict.fromkeys(expected, 1)
    assert set(calls.values()) == {1}
    assert result["cost"]["forward_passes"] == sum(calls.values())
    run_audit(case, cache=cache, seed=1)  # a second audit on the same cache forwards nothing
    assert dict(cache.calls) == calls
