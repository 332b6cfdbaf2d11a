"""Known answers for ``membership_inference`` on the digits scenario."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.audit._mia_helpers import gradient_ascent, run_check
from tests.conftest import write_variant


@pytest.fixture(scope="module")
def shadow_cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("shadows"))


# the check's defaults leave the shadow-model attacks opt-in; these tests opt in
ALL_ATTACKS = ["loss", "logit_confidence", "modified_entropy", "entropy", "lira_offline_refs",
               "lira_online", "rmia"]


def _variant(digits_dir: Path, tmp: Path, unlearned: str) -> Path:
    return write_variant(digits_dir, tmp / "case", unlearned=unlearned)


def _metric(res, name):
    return next(m for m in res.metrics if m.name == name)


@pytest.fixture(scope="module")
def noop(digits_dir, tmp_path_factory, shadow_cache):
    case = _variant(digits_dir, tmp_path_factory.mktemp("noop"), "original.pt")
    return run_check(case, "membership_inference", shadow_cache_dir=shadow_cache, attacks=ALL_ATTACKS)


@pytest.fixture(scope="module")
def retrain(digits_dir, tmp_path_factory, shadow_cache):
    case = _variant(digits_dir, tmp_path_factory.mktemp("retrain"), "extra/retrained-other-seed.pt")
    return run_check(case, "membership_inference", shadow_cache_dir=shadow_cache, attacks=ALL_ATTACKS)


def test_noop_unlearning_fails_as_under_unlearning(noop) -> None:
    assert noop.status == "fail"
    m = _metric(noop, "auc[lira_online]")
    assert m.status == "fail" and m.delta > m.fail_margin >= m.margin
    assert any(f.extra["direction"] == "under-unlearning" for f in noop.findings)
    gap = _metric(noop, "loss_gap")  # forget rows fit better than matched unseen rows
    assert gap.status == "fail" and gap.delta < -gap.fail_margin
    assert "still look like training members" in noop.summary


def test_retrain_with_another_seed_passes(retrain) -> None:
    assert retrain.status == "pass", [(m.name, m.delta_ci) for m in retrain.metrics if m.status]
    for m in retrain.metrics:
        if m.comparator == "two_sided":
            assert m.reference is not None and abs(m.delta) <= m.margin
            assert m.controls["negative"]["passed"] == m.controls["negative"]["total"]


def test_shadow_attacks_see_the_original_remember_its_training_rows(noop) -> None:
    # LiRA and RMIA at 1 % FPR: the original on its forget rows vs the retrained references
    for attack in ("lira_online", "rmia"):
        o = _metric(noop, f"auc[{attack}]")  # U is the original here
        assert o.value > o.reference + 0.05 and o.controls["original"]["status"] == "fail"
        tpr = _metric(noop, f"tpr@0.01fpr[{attack}]")
        assert tpr.value > 2 * tpr.reference


def test_gradient_ascent_too_far_is_flagged_as_over_unlearning(digits_dir, tmp_path, shadow_cache) -> None:
    case = _variant(digits_dir, tmp_path, "original.pt")
    gradient_ascent(digits_dir, tmp_path / "case" / "ga.pt")
    case.write_text(case.read_text().replace('unlearned = "original.pt"', 'unlearned = "ga.pt"'))
    res = run_check(case, "membership_inference", shadow_cache_dir=shadow_cache, attacks=ALL_ATTACKS)
    assert res.status == "fail"
    gap = _metric(res, "loss_gap")
    assert gap.status == "fail" and gap.delta > gap.fail_margin  # forget loss far above R's
    # the label-based attacks see forget rows fitting worse than under a retrain; a label-free
    # one (entropy) may read GA's confidently wrong answers as member-like: both are reported
    by_metric = {f.metric: f.extra["direction"] for f in res.findings}
    assert by_metric["loss_gap"] == "over-unlearning"
    assert by_metric.get("auc[loss]", "over-unlearning") == "over-unlearning"


def test_rerun_trains_no_shadows(digits_dir, tmp_path, shadow_cache, noop) -> None:
    from audit.core.case_file import load_case
    from audit.training.shadows import case_shadows

    case = load_case(_variant(digits_dir, tmp_path, "original.pt"))
    sh, nf, nt = case_shadows(case, 16, 0, shadow_cache)
    assert sh.trained == 0 and sh.logp.shape[:2] == (16, nf + nt)


def test_without_recipe_shadow_attacks_are_reported_missing(tiny_dir) -> None:
    res = run_check(tiny_dir / "case.toml", "membership_inference", attacks=ALL_ATTACKS)
    assert any("recipe" in m for m in res.missing)
    assert not any("lira_online" in m.name for m in res.metrics)
    assert res.figures and res.figures[0].kind == "roc"
