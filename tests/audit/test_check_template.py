"""The test template for a new check — copy this file to ``tests/audit/test_<your_check>.py``.

It runs here on ``output_divergence``; to adopt it, change the four constants below (and the
cell if your check needs another model family or forget kind, e.g. ``("accent", "forest",
"group")`` for a check about groups) and keep the four tests:

1. **a retrain passes** — a model retrained from scratch with a new seed, posing as the
   unlearned model, passes the check, and every retrained reference scored against the others
   (the negative control) passes too;
2. **a no-op fails** — the original re-exported (other bytes, same function) fails the check
   *by its own statistics*: the identity check is switched off, and so is every other check;
3. **a bad option is refused** — a wrong value of one of the check's declared options is
   ``BadInput`` naming ``policy.<check>.<option>`` before any model runs (exit 2 on the CLI);
4. **the schema round trip** — results.json of the run validates against
   ``reports/schema/results.schema.json`` and survives JSON unchanged; every gated metric
   carries its reference, margin and controls.

Seeds: each seed is a fresh dataset split, original and four references (built once per
session by the ``known_answer_cell`` fixture of ``tests/conftest.py``, shared with
``test_known_answers_seeds.py``). ``FAST`` (two seeds) runs in ``make test``; ``SLOW`` adds
three more under ``@pytest.mark.slow`` and asserts the rates over all five.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from audit.calibration.variants import make_case
from audit.checks import registry
from audit.engine.runner import run_audit
from audit.shared.errors import BadInput
from reports import validate_results

CHECK = "output_divergence"                    # the check under test (its SPEC.id)
BAD_OPTION = {"kl_margin": -0.5}               # a value its SPEC.options must refuse
BAD_FIELD = "policy.output_divergence.kl_margin"
CELL = ("digits", "mlp", "random10")           # dataset, model family, forget kind (audit.calibration)
FAST, SLOW = (0, 1), (2, 3, 4)

ONLY = {cid: {"enabled": False} for cid in registry() if cid != CHECK}   # identity off too


@pytest.fixture(scope="module")
def runs(known_answer_cell):
    """``runs(seed)``: the retrain and the no-op audited with only ``CHECK`` on, once per seed."""
    cache: dict[int, dict[str, Any]] = {}

    def get(seed: int) -> dict[str, Any]:
        if seed not in cache:
            built = known_answer_cell(*CELL, seed)
            cache[seed] = {v: run_audit(make_case(built, v), policy=ONLY, seed=seed)
                           for v in ("retrain", "reexported_noop")}
        return cache[seed]

    return get


def _check(results: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in results["checks"] if c["id"] == CHECK)


@pytest.mark.parametrize("seed", FAST)
def test_a_retrain_passes(runs, seed: int) -> None:
    check = _check(runs(seed)["retrain"])
    assert check["status"] == "pass", check["summary"]
    negative = check["controls"]["negative"]
    assert negative["failed"] == 0 and negative["total"] >= 2, negative


@pytest.mark.parametrize("seed", FAST)
def test_a_noop_fails(runs, seed: int) -> None:
    results = runs(seed)["reexported_noop"]
    check = _check(results)
    assert check["status"] == "fail", check["summary"]
    assert results["verdict"] == "fail"
    assert [c["id"] for c in results["checks"]] == [CHECK]   # decided by this check alone


def test_a_bad_option_is_refused_before_any_work(known_answer_cell, monkeypatch) -> None:
    case = make_case(known_answer_cell(*CELL, FAST[0]), "retrain")
    from audit.core import cache as cache_module
    def no_forward_pass(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a model ran before the policy was validated")

    monkeypatch.setattr(cache_module.OutputCache, "__init__", no_forward_pass)
    with pytest.raises(BadInput, match=BAD_FIELD):
        run_audit(case, policy={CHECK: BAD_OPTION})


def test_results_round_trip_through_the_schema(runs) -> None:
    results = runs(FAST[0])["retrain"]
    again = json.loads(json.dumps(results))
    validate_results(again)
    assert again == json.loads(results.to_json())
    assert any(row["section"] == CHECK for row in again["policy_table"])
    gated = [m for m in _check(again)["metrics"] if m["comparator"] != "info"]
    assert gated
    for m in gated:
        assert m["reference"] is not None and m["margin"] is not None and m["controls"], m["name"]


@pytest.mark.slow
def test_rates_over_five_seeds(runs) -> None:
    """Retrains pass >= 4 of 5 seeds; the no-op fails at every seed."""
    seeds = (*FAST, *SLOW)
    passed = sum(_check(runs(s)["retrain"])["status"] == "pass" for s in seeds)
    caught = sum(_check(runs(s)["reexported_noop"])["status"] == "fail" for s in seeds)
    assert passed >= 4, f"retrains passing: {passed}/5"
    assert caught == 5, f"no-ops failed: {caught}/5"
