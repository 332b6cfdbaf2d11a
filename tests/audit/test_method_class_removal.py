"""Class removal as a forget kind of method mode: known answers over seeds, two families.

``unlearn-audit methods --forget-kind class --forget-class 3`` on digits: the lab trains the
retrains without class 3, the originals with it, and the kernel judges each method against
the retrains (decision record 0017). Fast tier (CLI, seeds 0-1, the small test MLP):
``retrain`` passes, ``noop`` fails. Slow tier: seeds 2-4 of the same; a second family
(scikit-learn's MLPClassifier through the ``sklearn`` recipe, whose retrain never sees the
class and is widened to every class); UNSIR / GKT and their broken variants on the 128-unit
MLP of their model-audit tests (``tests/audit/_class_removal``), rates in the README.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from audit.cli.methods import register
from audit.core.case_file import load_case
from audit.lab.method_audit import run_method_audit
from audit.shared.errors import BadInput
from reports import validate_results
from tests.conftest import write_digits_method_case

POLICY = {"general": {"n_bootstrap": 200}}
CLASS = 3
BROKEN = '''
from audit.lab.methods import unlearn


def unsir_repair_only(model, forget, retain, *, seed, recipe):
    """UNSIR without its impair epoch (broken: repair alone keeps the class)."""
    return unlearn("unsir", model, forget, retain, recipe, seed, impair_epochs=0).model


def gkt_gate_off(model, forget, retain, *, seed, recipe):
    """GKT without the band-pass gate (broken: the class is transferred too)."""
    return unlearn("gkt", model, forget, retain, recipe, seed, gate=None).model
'''
STRONG_MLP = "params = { hidden = [128], epochs = 40, lr = 0.002, batch_size = 32 }"


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("method_class")
    write_digits_method_case(d)
    (d / "broken_cr.py").write_text(BROKEN)
    return d


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    app.command("noop-placeholder")(lambda: None)  # typer needs >1 command to keep the name
    return app


def _status(results: dict[str, Any], name: str) -> str:
    return next(c["status"] for c in results["checks"] if c["id"] == f"method_{name}")


def _seed_status(results: dict[str, Any], name: str) -> dict[int, str]:
    """Worst gated status per seed of one method (the kernel's per-seed decisions)."""
    check = next(c for c in results["checks"] if c["id"] == f"method_{name}")
    order = ["pass", "warn", "inconclusive", "fail"]
    out: dict[int, str] = {}
    for m in check["metrics"]:
        if m["status"] and "[seed=" in m["name"]:
            s = int(m["name"].split("[seed=")[1].rstrip("]"))
            out[s] = max(out.get(s, "pass"), m["status"], key=order.index)
    return out


@pytest.fixture(scope="module")
def fast(case_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("packs") / "pack"
    res = CliRunner().invoke(_app(), ["methods", "--case", str(case_dir / "case.toml"), "--out", str(out),
                                      "--method", "retrain,noop", "--seeds", "0,1", "--forget-kind", "class",
                                      "--forget-class", str(CLASS)], env={"COLUMNS": "250"})
    results = json.loads((out / "results.json").read_text())
    assert res.exit_code == results["exit_code"], res.output
    return {"results": results, "output": res.output}


def test_class_removal_known_answers_fast(fast: dict[str, Any]) -> None:
    r = fast["results"]
    assert validate_results(r) in (None, [])
    assert r["method_audit"]["forget_kind"] == "class" and r["method_audit"]["forget_class"] == CLASS
    assert _status(r, "retrain") == "pass" and _status(r, "noop") == "fail"
    noop = next(c for c in r["checks"] if c["id"] == "method_noop")
    failed = {m["name"].split("[")[0] for m in noop["metrics"] if m["status"] == "fail"}
    assert {"forget_accuracy", "dropped_class_mass"} <= failed  # the no-op keeps the class
    assert not {"injection_ratio", "trigger_hit_rate", "loss_gap"} & {m["name"].split("[")[0] for m in
                                                                       noop["metrics"]}  # nothing planted
    assert noop["controls"]["negative"]["failed"] == 0 and noop["controls"]["positive"]["power"]


def test_comparison_table_columns_and_cli_output(fast: dict[str, Any]) -> None:
    table = fast["results"]["checks"][0]["tables"][0]
    cols = table["columns"]
    for col in ("power", "utility kept", "forget-class accuracy", "dropped-class mass", "kept-class agreement",
                "forgetting status", "deciding metric", "deciding delta", "deciding band",
                "unlearn/retrain time", "storage bytes"):
        assert col in cols, col
    assert "requests survived" not in cols  # only when a stream audit supplies it
    rows = {r[0]: dict(zip(cols, r, strict=True)) for r in table["rows"]}
    assert rows["noop"]["forgetting status"] == "fail"
    assert rows["noop"]["deciding metric"].split("[")[0] in ("forget_accuracy", "dropped_class_mass")
    assert rows["noop"]["deciding delta"] > rows["noop"]["deciding band"] > 0
    assert rows["retrain"]["forget-class accuracy"] == 0.0
    assert rows["noop"]["utility kept"] == pytest.approx(1.0)
    assert rows["noop"]["power"] is True and rows["retrain"]["power"] is True
    assert "methods side by side" in fast["output"] and "dropped-class mass" in fast["output"]


def test_class_removal_bad_input(case_dir: Path) -> None:
    case = load_case(case_dir / "case.toml")
    for kwargs, field in [({"forget_kind": "group"}, "--forget-kind"), ({"forget_kind": "class", "forget_class": 42},
                          "--forget-class"), ({"forget_kind": "class"}, "--forget-class"),
                          ({"forget_class": 3}, "--forget-class")]:
        with pytest.raises(BadInput) as exc:
            run_method_audit(case, ["noop"], [0], **kwargs)
        assert exc.value.field == field, kwargs
    res = CliRunner().invoke(_app(), ["methods", "--case", str(case_dir / "case.toml"), "--out",
                                      str(case_dir / "never"), "--forget-kind", "feature"])
    assert res.exit_code == 2 and "--forget-kind" in res.output and not (case_dir / "never").exists()


@pytest.mark.slow  # ~1-2 min on the shared 2-core machine
def test_class_removal_known_answers_three_more_seeds_torch(case_dir: Path) -> None:
    res = run_method_audit(load_case(case_dir / "case.toml"), ["retrain", "noop"], [2, 3, 4], policy=POLICY,
                           forget_kind="class", forget_class=CLASS)
    assert _status(res, "retrain") == "pass" and _status(res, "noop") == "fail"
    assert set(_seed_status(res, "noop").values()) == {"fail"}


@pytest.mark.slow  # ~2-4 min on the shared 2-core machine
def test_class_removal_known_answers_five_seeds_sklearn_mlp(case_dir: Path, tmp_path: Path) -> None:
    """A second family: MLPClassifier via `sklearn`; a retrain never sees the class (9 outputs, widened)."""
    import pandas as pd
    import skops.io as sio
    from sklearn.neural_network import MLPClassifier

    d = tmp_path / "case"
    shutil.copytree(case_dir, d)
    df = pd.read_csv(d / "data.csv")
    feats = [c for c in df.columns if c.startswith("px")]
    keep = df["split"] == "retain"
    est = MLPClassifier(hidden_layer_sizes=(16,), max_iter=60, random_state=0)
    sio.dump(est.fit(df.loc[keep, feats].to_numpy(), df.loc[keep, "label"]), d / "original.skops")
    text = (d / "case.toml").read_text()
    (d / "case.toml").write_text(text[:text.index("[training]")] + '[training]\nrecipe = "sklearn"\n')
    res = run_method_audit(load_case(d / "case.toml"), ["retrain", "noop", "unsir"], [0, 1, 2, 3, 4],
                           policy=POLICY, forget_kind="class", forget_class=CLASS)
    assert set(_seed_status(res, "retrain").values()) == {"pass"}
    assert set(_seed_status(res, "noop").values()) == {"fail"}
    assert _status(res, "unsir") == "skipped"  # a torch method on a scikit-learn model


@pytest.fixture(scope="module")
def strong(case_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """UNSIR / GKT where their papers say they work: the 128-unit MLP, seeds 0-4."""
    d = tmp_path_factory.mktemp("strong")
    shutil.copytree(case_dir, d, dirs_exist_ok=True)
    text = (d / "case.toml").read_text()
    (d / "case.toml").write_text(text[:text.index("[training]")] + f'[training]\nrecipe = "torch-mlp"\n{STRONG_MLP}\n')
    methods = ["retrain", "noop", "unsir", "gkt", "broken_cr:unsir_repair_only", "broken_cr:gkt_gate_off"]
    return run_method_audit(load_case(d / "case.toml", allow_code=True), methods, [0, 1, 2, 3, 4], policy=POLICY,
                            forget_kind="class", forget_class=CLASS)


def _metric_statuses(results: dict[str, Any], name: str, metric: str) -> list[str]:
    check = next(c for c in results["checks"] if c["id"] == f"method_{name}")
    return [m["status"] for m in check["metrics"] if m["name"].split("[")[0] == metric and m["status"]]


@pytest.mark.slow  # ~5-8 min on the shared 2-core machine (GKT trains a generator per seed)
def test_retrain_passes_and_noop_fails_five_seeds_strong_mlp(strong: dict[str, Any]) -> None:
    assert set(_seed_status(strong, "retrain").values()) == {"pass"}
    assert set(_seed_status(strong, "noop").values()) == {"fail"}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["unsir", "gkt"])
def test_unsir_and_gkt_meet_their_papers_claims_but_not_the_retrain(strong: dict[str, Any], name: str) -> None:
    """Measured (seeds 0-4, README): the removed class's accuracy and probability are a retrain's on
    5/5 seeds — what the papers claim — but the rows of the removed class go to other kept classes
    than a retrain sends them to (kept-class agreement ~0.5-0.7 against 0.87 between retrains),
    which fails 5/5: neither method is indistinguishable from retraining."""
    assert set(_metric_statuses(strong, name, "forget_accuracy")) == {"pass"}
    assert set(_metric_statuses(strong, name, "dropped_class_mass")) == {"pass"}
    assert _metric_statuses(strong, name, "kept_class_agreement").count("fail") >= 4
    assert _status(strong, name) == "fail"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["broken_cr_unsir_repair_only", "broken_cr_gkt_gate_off"])
def test_broken_variants_keep_the_class_and_fail(strong: dict[str, Any], name: str) -> None:
    assert set(_metric_statuses(strong, name, "forget_accuracy")) == {"fail"}
    assert set(_seed_status(strong, name).values()) == {"fail"}


def test_requests_survived_column_only_with_stream_data(fast: dict[str, Any]) -> None:
    from audit.lab.method_comparison import method_comparison

    checks = [c for c in fast["results"]["checks"] if c["id"] in ("method_retrain", "method_noop")]
    table = method_comparison(["retrain", "noop"], checks, "digits", [0, 1], CLASS, "class",
                              survived={"retrain": 10, "noop": 0})["tables"][0]
    rows = {r[0]: dict(zip(table["columns"], r, strict=True)) for r in table["rows"]}
    assert rows["retrain"]["requests survived"] == 10 and rows["noop"]["requests survived"] == 0
    assert table["columns"][:-1] == fast["results"]["checks"][0]["tables"][0]["columns"]
