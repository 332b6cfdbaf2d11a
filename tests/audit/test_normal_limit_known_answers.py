"""Known answers with a test split large enough for the bootstrap's normal limit (decision record 0022).

A generated 10-class case with 60 000 test rows (past ``normal_from_rows``): a fifth retrain
posing as the unlearned model must pass, a model fitted on the forget rows too (an unlearning
that did nothing, another seed than the original) must fail — with the normal-limit
replicates actually drawn. Fast tier: the forest family, seed 0; slow: seeds 1-4 of the
forests and seeds 0-4 of the MLPs, and the verdicts against the exact bootstrap.
"""

from __future__ import annotations

import numpy as np
import pytest

from audit.engine.runner import run_audit
from benchmarks.scale_case import build_case

N_TEST, N_FORGET, N_RETAIN = 60_000, 300, 3_000


def _audit(family: str, seed: int, candidate: str, policy: dict | None = None) -> dict:
    case = build_case(N_TEST, n_forget=N_FORGET, n_retain=N_RETAIN, seed=seed, family=family, candidate=candidate)
    return run_audit(case, seed=seed, policy=policy)


def _normal_draws(res: dict) -> dict[str, int]:
    return {cid: m.get("normal_limit_replicates", 0) for cid, m in res["cost"]["checks"].items()}


def _check(family: str, seed: int) -> None:
    passed = _audit(family, seed, "retrain")
    failed = _audit(family, seed, "not_forgotten")
    drawn = _normal_draws(passed)
    assert drawn["membership_inference"] > 0 and drawn["output_divergence"] > 0 and drawn["utility"] > 0, drawn
    assert passed["verdict"] == "pass", {c["id"]: c["status"] for c in passed["checks"]}
    assert failed["verdict"] == "fail", {c["id"]: c["status"] for c in failed["checks"]}
    statuses = {c["id"]: c["status"] for c in failed["checks"]}
    assert statuses["membership_inference"] == "fail"  # the attack, not only a side check, sees the forget rows


def test_forest_seed_0_retrain_passes_and_a_no_op_fails_with_normal_limit_replicates() -> None:
    _check("forest", 0)


@pytest.mark.slow
@pytest.mark.parametrize(("family", "seed"), [("forest", s) for s in (1, 2, 3, 4)]
                         + [("mlp", s) for s in range(5)])
def test_known_answers_over_seeds_and_families(family: str, seed: int) -> None:
    _check(family, seed)


@pytest.mark.slow
@pytest.mark.parametrize("candidate", ["retrain", "not_forgotten"])
def test_verdicts_equal_those_of_the_exact_bootstrap(candidate: str) -> None:
    exact = {"general": {"normal_from_rows": 10**9}}
    a, b = _audit("forest", 0, candidate), _audit("forest", 0, candidate, exact)
    assert all(v == 0 for v in _normal_draws(b).values())
    assert a["verdict"] == b["verdict"]
    sa = {c["id"]: c["status"] for c in a["checks"]}
    sb = {c["id"]: c["status"] for c in b["checks"]}
    assert sa == sb
    compared = 0
    for ca, cb in zip(a["checks"], b["checks"], strict=True):  # the large splits' delta intervals agree
        for ma, mb in zip(ca.get("metrics", []), cb.get("metrics", []), strict=True):
            if ma.get("delta_ci") and mb.get("delta_ci") and (ma.get("n") or 0) >= N_TEST:
                wa, wb = np.diff(ma["delta_ci"])[0], np.diff(mb["delta_ci"])[0]
                assert wa == pytest.approx(wb, rel=0.25), (ca["id"], ma["name"], ma["split"])
                compared += 1
    assert compared >= 3
