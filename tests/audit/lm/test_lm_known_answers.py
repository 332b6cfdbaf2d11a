"""Known answers on tiny GPT-2 models: a fresh retrain passes, the original (in all but bytes) fails.

The original trained on forget + retain texts, three references and each fresh retrain on the
retain texts only (different seeds). Fast tier: 2 retrain seeds and the noisy original; the
slow test runs 5 seeds and reports the rates.
"""

from __future__ import annotations

import pytest

from audit.core.case_file import load_case
from audit.engine.runner import run_audit


def _check(result, cid: str) -> dict:
    return next(c for c in result["checks"] if c["id"] == cid)


def _audit(tiny_lms, tmp_path, unlearned: str, seed: int = 0):
    return run_audit(load_case(tiny_lms.case(tmp_path / unlearned, unlearned)), seed=seed)


@pytest.mark.parametrize("seed", [0, 1])
def test_fresh_retrain_passes_sequence_membership(tiny_lms, tmp_path, seed):
    r = _audit(tiny_lms, tmp_path, tiny_lms.retrain(seed), seed)
    seq = _check(r, "sequence_membership")
    assert seq["status"] == "pass", seq["summary"]
    assert seq["controls"]["positive"]["power"]  # the original fails the same check
    assert _check(r, "lm_utility")["status"] == "pass"
    assert r["verdict"] in ("pass", "inconclusive")  # never fail


def test_original_posing_as_unlearned_fails(tiny_lms, tmp_path):
    r = _audit(tiny_lms, tmp_path, tiny_lms.noisy_original())
    assert _check(r, "identity")["status"] == "pass"  # not the same bytes, not the same outputs
    seq = _check(r, "sequence_membership")
    assert seq["status"] == "fail" and r["verdict"] == "fail" and r["exit_code"] == 1
    assert {f["extra"]["direction"] for f in seq["findings"] if f["status"] == "fail"} == {"under-unlearning"}
    assert all(m["value"] > m["reference"] for m in seq["metrics"] if m["name"].startswith("auc["))
    # the tabular checks are skipped, not required; the verdict is decided by the LM checks
    for cid in ("utility", "membership_inference", "output_divergence"):
        c = _check(r, cid)
        assert c["status"] == "skipped" and not c["required"]


def test_byte_identical_original_fails_identity_first(tiny_lms, tmp_path):
    r = _audit(tiny_lms, tmp_path, "original")
    assert _check(r, "identity")["status"] == "fail" and r["verdict"] == "fail"


@pytest.mark.slow
def test_known_answers_over_five_seeds(tiny_lms, tmp_path):
    passed = sum(_check(_audit(tiny_lms, tmp_path, tiny_lms.retrain(s), s), "sequence_membership")["status"]
                 == "pass" for s in range(5))
    failed = sum(_check(_audit(tiny_lms, tmp_path / f"o{s}", tiny_lms.noisy_original(), s),
                        "sequence_membership")["status"] == "fail" for s in range(5))
    print(f"sequence_membership: retrain passes {passed}/5, original fails {failed}/5")
    assert passed == 5 and failed == 5
