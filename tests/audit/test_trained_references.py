"""``[references] train = k``: extra references trained with the case's recipe on retain only."""

from __future__ import annotations

import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from audit.cli.app import app
from audit.core.case import AuditCase
from audit.core.case_file import load_case
from audit.shared.errors import BadInput
from audit.training.references import SEED_FLOOR, reference_seeds
from tests.conftest import run_cli

TINY_MLP = {"hidden": [8], "epochs": 3}


def _frame(n: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(n, 3))
    split = ["forget"] * 20 + ["retain"] * 60 + ["test"] * (n - 80)
    return pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2],
                         "label": (X[:, 0] > 0).astype(int), "split": split})


def _f(X: np.ndarray) -> np.ndarray:
    return np.c_[np.zeros(len(X)), X[:, 0]]


def _case(**kwargs: object) -> AuditCase:
    args: dict[str, object] = {"original": _f, "unlearned": _f, "retrained": [_f], "data": _frame(),
                               "recipe": "torch-mlp", "recipe_params": TINY_MLP}
    return AuditCase(**{**args, **kwargs})


def test_k_references_added_after_the_users_with_distinct_recorded_seeds() -> None:
    case = _case(retrained=[_f, _f], train_references=3, reference_seed=5)
    assert case.reference_roles == [f"retrained:{i}" for i in range(5)]
    trained = [case.models[f"retrained:{i}"] for i in (2, 3, 4)]
    seeds = [m.provenance["seed"] for m in trained]
    assert seeds == reference_seeds(5, 3) and len(set(seeds)) == 3
    assert all(m.provenance == {"source": "trained", "seed": s, "recipe": "torch-mlp", "trained_on": "retain"}
               for m, s in zip(trained, seeds, strict=True))
    assert len({m.sha256 for m in trained}) == 3
    assert not hasattr(case.models["retrained:0"], "provenance")


def test_same_seed_same_models_other_seed_other_models() -> None:
    a, b, c = (_case(train_references=2, reference_seed=s) for s in (0, 0, 1))
    X = a.X("test")
    for role in ("retrained:1", "retrained:2"):
        assert a.models[role].sha256 == b.models[role].sha256
        np.testing.assert_array_equal(a.models[role].predict_logits(X), b.models[role].predict_logits(X))
        assert a.models[role].sha256 != c.models[role].sha256
    assert not set(reference_seeds(0, 2)) & set(reference_seeds(1, 2))


def test_batched_references_match_the_one_by_one_recipe() -> None:
    from audit.training.recipes import get_recipe

    case = _case(train_references=2)
    recipe = get_recipe("torch-mlp", TINY_MLP)
    X = case.X("test")
    for i, seed in enumerate(reference_seeds(0, 2)):
        alone = recipe.fit(case.X("retain"), case.y("retain"), 2, seed)
        np.testing.assert_allclose(case.models[f"retrained:{i + 1}"].predict_logits(X),
                                   alone.predict_logits(X), atol=1e-4)


def test_seeds_never_collide_with_the_shadow_models(monkeypatch: pytest.MonkeyPatch) -> None:
    import audit.training.shadows as shadows

    seen: list[int] = []

    def fake_train(recipe, X, y, subsets, seeds, *args, **kwargs):  # noqa: ANN001, ANN202
        seen.extend(seeds)
        return shadows.ShadowSet(np.zeros((len(seeds), len(X), 2)), np.zeros((len(seeds), len(X)), bool), 0)

    monkeypatch.setattr(shadows, "train_shadows", fake_train)
    case = _case(train_references=4, reference_seed=0)
    for run_seed in (0, 1, 2):
        shadows.case_shadows(case, 16, seed=run_seed)
    assert max(seen) < SEED_FLOOR <= min(m.provenance["seed"] for m in
                                         (case.models[r] for r in case.reference_roles[1:]))


def test_trained_on_the_retain_rows_only(monkeypatch: pytest.MonkeyPatch) -> None:
    given: list[tuple[np.ndarray, np.ndarray, int]] = []

    def recording_recipe(X, y, n_classes, seed, **params):  # noqa: ANN001, ANN202, ARG001
        given.append((X.copy(), y.copy(), seed))
        w = np.random.default_rng(seed).normal(size=(X.shape[1], n_classes))
        return lambda Z: Z @ w

    mod = types.ModuleType("_refs_recording_recipe")
    mod.fit = recording_recipe  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    case = _case(recipe="_refs_recording_recipe:fit", recipe_params=None, train_references=3, allow_code=True)
    assert len(given) == 3 and len(case.reference_roles) == 4
    for X, y, _ in given:
        np.testing.assert_array_equal(X, case.X("retain"))
        np.testing.assert_array_equal(y, case.y("retain"))
    assert [s for *_, s in given] == reference_seeds(0, 3)
    assert case.models["retrained:1"].provenance["recipe"] == "_refs_recording_recipe:fit"


def test_a_failing_recipe_names_the_recipe(monkeypatch: pytest.MonkeyPatch) -> None:
    mod = types.ModuleType("_refs_broken_recipe")
    mod.fit = lambda *a, **k: 1 / 0  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    with pytest.raises(BadInput) as err:
        _case(recipe="_refs_broken_recipe:fit", recipe_params=None, train_references=1, allow_code=True)
    assert err.value.field == "training.recipe"


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"train_references": -1}, "references.train"),
    ({"train_references": 65}, "references.train"),
    ({"train_references": 2.0}, "references.train"),
    ({"train_references": "2"}, "references.train"),
    ({"train_references": True}, "references.train"),
    ({"train_references": 2, "recipe": None}, "references.train"),
    ({"train_references": 1, "reference_seed": -3}, "references.seed"),
    ({"train_references": 1, "reference_seed": "x"}, "references.seed"),
])
def test_bad_values_name_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(BadInput) as err:
        _case(**kwargs)
    assert err.value.field == field


def _tiny_case(tiny_dir: Path, dest: Path, extra: str) -> Path:
    shutil.copytree(tiny_dir, dest)
    case = dest / "case.toml"
    case.write_text(case.read_text() + extra)
    return case


@pytest.mark.parametrize(("extra", "field", "says"), [
    ('\n[references]\ntrain = 2\n', "references.train", "needs a [training] recipe"),
    ('\n[references]\ntrain = 0\n', "references.train", "needs a [training] recipe"),
    ('\n[training]\nrecipe = "sklearn"\n[references]\nseed = 1\n', "references.train", "missing"),
    ('\n[training]\nrecipe = "sklearn"\n[references]\ntrain = 99\n', "references.train", "0 to 64"),
    ('\n[training]\nrecipe = "sklearn"\n[references]\ntrain = 1\nseed = -1\n', "references.seed", ""),
    ('\n[training]\nrecipe = "sklearn"\n[references]\ntrain = 1\nseeds = 1\n', "references.seeds", ""),
])
def test_case_file_bad_input(tiny_dir: Path, tmp_path: Path, extra: str, field: str, says: str) -> None:
    case = _tiny_case(tiny_dir, tmp_path / "case", extra)
    with pytest.raises(BadInput) as err:
        load_case(case)
    assert err.value.field == field and says in err.value.message
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["run", str(case), "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert field in res.output and not out.exists()


def test_run_writes_a_valid_pack_that_verifies(tiny_dir: Path, tmp_path: Path) -> None:
    case = _tiny_case(tiny_dir, tmp_path / "case",
                      '\n[training]\nrecipe = "sklearn"\n[references]\ntrain = 3\nseed = 7\n')
    out = tmp_path / "pack"
    _, results = run_cli(case, out)  # validates results.json against the schema
    refs = results["models"]["retrained"]
    assert [r["source"] for r in refs] == ["case", "case", "trained", "trained", "trained"]
    assert [r["seed"] for r in refs[2:]] == reference_seeds(7, 3)
    assert all(r["recipe"] == "sklearn" and r["file"] is None and len(r["sha256"]) == 64 for r in refs[2:])
    assert "trained by the suite" in (out / "report.html").read_text()
    assert "3 trained by the suite" in (out / "report.md").read_text()
    res = CliRunner().invoke(app, ["verify", str(out)])
    assert res.exit_code == 0, res.output
