"""``unlearning_inference`` caps each side at ``max_rows``: a seeded sample, recorded, honest CI."""

from __future__ import annotations

import pytest

from audit.shared.errors import BadInput
from tests.audit._mia_helpers import run_check
from tests.conftest import write_variant


@pytest.fixture(scope="module")
def retrain_case(digits_dir, tmp_path_factory):
    return write_variant(digits_dir, tmp_path_factory.mktemp("ui-sample") / "case",
                         unlearned="extra/retrained-other-seed.pt")


@pytest.fixture(scope="module")
def full(digits_retrain_ui):
    """The check uncapped on the same case (shared with ``test_unlearning_inference``)."""
    return digits_retrain_ui


def _rows_used(res) -> dict[str, list[int]]:
    table = next(t for t in res.tables if t.name.startswith("Rows the attack used"))
    return {row[0]: [row[1], row[2]] for row in table.rows}


def test_a_cap_above_the_split_sizes_changes_nothing(retrain_case, full) -> None:
    capped = run_check(retrain_case, "unlearning_inference", max_rows=100_000)
    assert capped.metrics[0].value == full.metrics[0].value
    assert capped.metrics[0].ci == full.metrics[0].ci
    assert all(used == total for used, total in _rows_used(full).values())
    assert not any("attack sample" in n for n in full.notes)


def test_a_small_cap_samples_the_test_side_and_says_so(retrain_case, full) -> None:
    capped = run_check(retrain_case, "unlearning_inference", max_rows=40)
    used = _rows_used(capped)
    assert used["test"][0] == 40 < used["test"][1]
    assert any("attack sample" in n and "max_rows = 40" in n for n in capped.notes)
    width = lambda m: m.ci[1] - m.ci[0]  # noqa: E731
    assert width(capped.metrics[0]) > width(full.metrics[0])  # fewer rows, wider interval
    again = run_check(retrain_case, "unlearning_inference", max_rows=40)
    assert again.metrics[0].value == capped.metrics[0].value  # the sample is seeded


def test_a_cap_below_the_kernels_minimum_is_refused(retrain_case) -> None:
    with pytest.raises(BadInput, match="max_rows"):
        run_check(retrain_case, "unlearning_inference", max_rows=5)


def test_the_forest_attack_model_still_runs_and_is_recorded(retrain_case) -> None:
    """``attack_model = "forest"`` (Chen et al.'s classifier) on a small sample: its own scores."""
    kw = {"max_rows": 40, "n_estimators": 10}
    forest = run_check(retrain_case, "unlearning_inference", attack_model="forest", **kw)
    logistic = run_check(retrain_case, "unlearning_inference", **kw)
    assert "forest attack model" in forest.metrics[0].note and "logistic" in logistic.metrics[0].note
    assert forest.metrics[0].value != logistic.metrics[0].value  # another classifier, other scores


def test_an_unknown_attack_model_is_refused(retrain_case) -> None:
    with pytest.raises(BadInput, match="attack_model"):
        run_check(retrain_case, "unlearning_inference", attack_model="svm")
