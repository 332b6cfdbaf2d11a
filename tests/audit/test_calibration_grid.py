"""The calibration grid's machinery (issue 11, item 10).

No verdict is asserted to be right here: the grid is the instrument that measures the
decision kernel, not a test of it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from audit.calibration import (
    EXPECTED,
    CaseResult,
    Cell,
    build_cell,
    confusion,
    forget_mask,
    full_grid,
    load_dataset,
    make_case,
    no_power_of,
    outcome_of,
    quick_grid,
    rates,
    render_markdown,
    run_cell,
    wrong_cases,
)
from audit.cli.app import app
from audit.core.case import AuditCase

_TINY = Cell("breast_cancer", "logreg", "random10", 0, references=2, quick=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    return build_cell(_TINY, tmp_path_factory.mktemp("cell"))


def test_expected_outcomes() -> None:
    assert EXPECTED["retrain"] == "pass"
    assert {v for k, v in EXPECTED.items() if k != "retrain"} == {"not pass"}


@pytest.mark.parametrize("kind", ["random1", "random10", "group"])
def test_forget_sets_are_training_rows(kind: str) -> None:
    ds = load_dataset("breast_cancer", 1)
    m = forget_mask(ds, kind, 1)
    assert m.any() and not (m & ds.test).any()
    assert np.array_equal(m, forget_mask(ds, kind, 1))  # deterministic


def test_class_kind_forgets_one_whole_class() -> None:
    ds = load_dataset("digits", 2)
    m = forget_mask(ds, "class", 2)
    (c,) = np.unique(ds.y[m])
    assert m.sum() == ((ds.y == c) & ~ds.test).sum()
    with pytest.raises(ValueError, match="binary"):
        forget_mask(load_dataset("breast_cancer", 0), "class", 0)


def test_built_cell_gives_valid_cases(built) -> None:
    assert set(built.unlearned) == set(EXPECTED)
    for variant in built.unlearned:
        case = make_case(built, variant)
        assert isinstance(case, AuditCase)
        assert len(case.reference_roles) == 2 and case.n["forget"] > 0
        assert case.groups == ["radius"]


def test_noops_and_retrain_are_what_they_claim(built) -> None:
    orig = built.original
    X = make_case(built, "noop").X("test")
    assert built.unlearned["noop"] is orig
    again = built.unlearned["reexported_noop"]
    assert again.sha256 != orig.sha256
    assert np.allclose(again.predict_logits(X), orig.predict_logits(X))
    digests = {r.sha256 for r in built.references}
    assert orig.sha256 not in digests
    assert not np.allclose(built.unlearned["finetune"].predict_logits(X), orig.predict_logits(X))


def test_cell_seeds_are_deterministic_and_distinct() -> None:
    a, b = _TINY.seed_for("reference", 0), _TINY.seed_for("reference", 1)
    assert a == Cell(**{**_TINY.__dict__}).seed_for("reference", 0) and a != b
    assert _TINY.seed_for("variant", "retrain") not in {a, b}


def test_class_kind_sklearn_cells_load_through_skops(tmp_path: Path) -> None:
    cell = Cell("digits", "forest", "class", 0, references=2, quick=True)
    b = build_cell(cell, tmp_path, variants=("retrain", "gradient_ascent"))
    assert "gradient_ascent" not in b.unlearned  # documented skip
    assert b.references[0].source_path.suffix == ".skops" and b.references[0].sha256
    case = make_case(b, "retrain")
    assert case.n_classes == 10


def test_grid_sizes() -> None:
    cells = full_grid(seeds=5)
    assert len(cells) == 150 and len({(c.dataset, c.family, c.kind) for c in cells}) == 30
    assert len(quick_grid(seeds=2)) == 10


def _r(variant: str, verdict: str, family: str = "mlp", kind: str = "random1", seed: int = 0,
       no_power: bool = False) -> CaseResult:
    exp = EXPECTED[variant]
    return CaseResult("digits", family, kind, variant, seed, exp, verdict, outcome_of(exp, verdict),
                      no_power, {"utility": "pass", "membership_inference": verdict},
                      ["membership_inference"])


_FAKE = [_r("retrain", "pass"), _r("retrain", "fail", seed=1), _r("retrain", "warn", "forest"),
         _r("noop", "fail"), _r("noop", "pass", seed=1), _r("finetune", "inconclusive", no_power=True),
         _r("group_flip", "error", "forest", "group")]


def test_confusion_counts() -> None:
    overall = confusion(_FAKE)[()]
    assert overall[("retrain", "pass")] == 1 and overall[("retrain", "fail")] == 1
    assert overall[("noop", "pass")] == 1 and sum(overall.values()) == len(_FAKE)
    by = confusion(_FAKE, by=("family", "kind"))
    assert by[("forest", "group")] == {("group_flip", "error"): 1}
    assert by[("forest", "random1")] == {("retrain", "warn"): 1}


def test_rates_and_wrong_cases() -> None:
    x = rates(_FAKE)
    assert (x["n"], x["correct"]) == (7, 4)
    assert x["retrain_pass_pct"] == {"forest": 100.0, "mlp": 50.0}
    assert x["noop_passes"] == 1 and x["no_power"] == {"finetune": 1} and x["errors"] == 1
    wrong = wrong_cases(_FAKE)
    assert [(w.variant, w.verdict) for w in wrong] == [("retrain", "fail"), ("noop", "pass"),
                                                       ("group_flip", "error")]
    assert wrong[0].not_passing == ["membership_inference*:fail"]


def test_outcome_and_no_power() -> None:
    assert outcome_of("pass", "pass") and outcome_of("pass", "warn")
    assert not outcome_of("pass", "inconclusive") and not outcome_of("not pass", "warn")
    assert outcome_of("not pass", "fail") and not outcome_of("not pass", "error")
    assert no_power_of({"verdict": "inconclusive", "controls": {"no_power": True}, "checks": []})
    assert not no_power_of({"verdict": "inconclusive", "checks": [{"summary": "too few rows"}]})


def test_markdown_renders_command_and_wrong_cases() -> None:
    cmd = "unlearn-audit calibrate --quick --seeds 2 --references 4 --jobs 1"
    md = render_markdown(_FAKE, command=cmd, seconds=12.0, skipped=[("x / class", "binary")])
    assert f"`{cmd}`" in md and "Wall time: 12 s for 7 cases" in md
    assert "| digits | mlp | random1 | retrain | 1 | fail | membership_inference*:fail |" in md
    assert "- x / class: binary" in md and "passes of a no-op" in md


def test_run_cell_end_to_end() -> None:
    (res,) = run_cell(_TINY, variants=("noop",))
    assert res.expected == "not pass" and res.verdict in ("pass", "warn", "fail", "inconclusive", "error")
    assert res.checks and res.seconds > 0


runner = CliRunner()


@pytest.mark.parametrize("args", [["--seeds", "0"], ["--jobs", "0"], ["--references", "0"],
                                  ["--out", "/nonexistent-dir/x.md"], ["--bogus"]])
def test_cli_bad_usage_exits_2(args: list[str]) -> None:
    assert runner.invoke(app, ["calibrate", "--quick", *args]).exit_code == 2


def test_cli_runs_and_writes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import audit.calibration as calib

    monkeypatch.setattr(calib, "quick_grid", lambda seeds, refs: [_TINY])
    monkeypatch.setattr(calib, "run_grid", lambda cells, jobs, progress: list(_FAKE))
    out = tmp_path / "CAL.md"
    result = runner.invoke(app, ["calibrate", "--quick", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "correct verdicts" in result.output
    assert "unlearn-audit calibrate --quick --seeds 2 --references 4 --jobs 1 --out" in out.read_text()
