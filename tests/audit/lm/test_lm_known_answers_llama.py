"""Known answers on a second model family: tiny Llama models (rotary positions, RMSNorm), slow tier."""

from __future__ import annotations

import pytest

from audit.core.case_file import load_case
from audit.engine.runner import run_audit
from tests.audit.lm.conftest import TinyLMs


@pytest.mark.slow
def test_llama_retrain_passes_and_original_fails_over_seeds(tmp_path):
    (tmp_path / "llama").mkdir()
    lms = TinyLMs(tmp_path / "llama", family="llama")
    status = {}
    for s in range(3):
        for label, unlearned in (("retrain", lms.retrain(s)), ("original", lms.noisy_original())):
            r = run_audit(load_case(lms.case(tmp_path / f"{label}{s}", unlearned)), seed=s)
            status[(label, s)] = next(c for c in r["checks"] if c["id"] == "sequence_membership")["status"]
    passed = sum(status[("retrain", s)] == "pass" for s in range(3))
    failed = sum(status[("original", s)] == "fail" for s in range(3))
    print(f"llama sequence_membership: retrain passes {passed}/3, original fails {failed}/3")
    assert passed == 3 and failed == 3
