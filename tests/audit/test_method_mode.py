"""Method mode through the one runner and kernel, and the user's own unlearning callable.

Known answers over seeds (fast tier: seeds 0-1; slow tier: 5 seeds, two model families):
``retrain`` passes, ``noop`` fails, a user callable that returns the original unchanged or
only adds noise fails, a user callable that retrains from scratch passes.
"""

from __future__ import annotations

import json
import shutil

import pytest
import typer
from typer.testing import CliRunner

from audit.cli.methods import register
from audit.core.case_file import load_case
from audit.lab.method_audit import run_method_audit
from audit.lab.methods.user import resolve_methods
from audit.shared.errors import BadInput
from reports import validate_results
from tests.conftest import write_digits_method_case

USER_MODULE = '''
import copy

import torch

from audit.core.model_objects import TorchModule


def keep_original(model, forget, retain, *, seed):
    """Broken: forgets nothing."""
    return model


def add_noise(model, forget, retain, *, seed):
    """Broken: perturbs every weight a little, forgets nothing on purpose."""
    module = copy.deepcopy(model.module)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.05 * p.std() * torch.randn(p.shape, generator=gen))
    return TorchModule(module)


def retrain_from_scratch(model, forget, retain, *, seed, recipe):
    """Exact: the recipe on the retain rows only."""
    return recipe.fit(retain[0], retain[1], model.predict_logits(retain[0][:1]).shape[1], seed)


def not_a_model(model, forget, retain, *, seed):
    return "nothing"


def wrong_signature(model, forget):
    return model
'''
MINE = "my_unlearn"
USER = [f"{MINE}:keep_original", f"{MINE}:add_noise", f"{MINE}:retrain_from_scratch"]
POLICY = {"general": {"n_bootstrap": 200}}


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory):
    """Digits with the planted signal; on the tiny 4-feature binary case the retrains' answer to
    the planted column (weights it never trains) spreads so widely that a no-op sits inside the
    retrain band (trigger hit rate 0.32-0.73 over 8 retrains): the audit has no power there."""
    d = tmp_path_factory.mktemp("method_mode")
    write_digits_method_case(d)
    (d / f"{MINE}.py").write_text(USER_MODULE)
    return d


def _audit(case_dir, seeds, methods=("retrain", "noop", *USER)):
    case = load_case(case_dir / "case.toml", allow_code=True)
    return run_method_audit(case, list(methods), list(seeds), seed=0, policy=POLICY)


def _statuses(results):
    return {c["title"].removeprefix("Method: "): c["status"] for c in results["checks"]}


def _assert_known_answers(results):
    st = _statuses(results)
    assert st["retrain"] == "pass", st
    assert st[f"{MINE}:retrain_from_scratch"] == "pass", st
    assert st["noop"] == "fail", st
    assert st[f"{MINE}:keep_original"] == "fail", st
    assert st[f"{MINE}:add_noise"] == "fail", st


@pytest.fixture(scope="module")
def fast(case_dir):
    return _audit(case_dir, [0, 1])


def test_known_answers_two_seeds(fast):
    _assert_known_answers(fast)
    assert fast["verdict"] == "fail"  # the broken user callables are required and fail


def test_every_gated_metric_is_the_kernels_with_both_controls(fast):
    assert validate_results(fast) in (None, [])
    for c in fast["checks"][1:]:
        gated = [m for m in c["metrics"] if m["status"]]
        assert gated and all(m["controls"] and m["null_sd"] is not None for m in gated), c["id"]
        neg, pos = c["controls"]["negative"], c["controls"]["positive"]
        assert neg["total"] == fast["method_audit"]["references"] and neg["failed"] == 0  # retrains posing as it
        assert pos["power"] and pos["status"] == "fail"  # the no-op posing as it is detected
        assert all(m["status"] is None for m in c["metrics"] if m["name"] in
                   ("ulira_auc", "canary_detected", "challenge_epsilon", "challenge_quality"))
    assert fast["controls"]["power"]


def test_user_method_is_recorded(fast):
    rec = {m["name"]: m for m in fast["method_audit"]["methods"]}
    assert rec["noop"] == {"name": "noop", "source": "built-in", "import_path": None, "check_id": "method_noop"}
    assert rec[USER[2]]["source"] == "import" and rec[USER[2]]["import_path"] == USER[2]
    assert rec[USER[2]]["check_id"] == "method_my_unlearn_retrain_from_scratch"
    assert fast["method_audit"]["allow_code"] is True and fast["method_audit"]["seeds"] == [0, 1]
    req = {c["id"]: c["required"] for c in fast["checks"]}
    assert not req["method_retrain"] and not req["method_noop"] and req["method_my_unlearn_keep_original"]


def test_user_method_needs_allow_code_and_the_protocol(case_dir):
    case = load_case(case_dir / "case.toml")
    with pytest.raises(BadInput, match="--method.*--allow-code"):
        resolve_methods([USER[0]], allow_code=False, base_dir=case.base_dir)
    for spec, why in [(f"{MINE}:wrong_signature", "must take"), (f"{MINE}:nope", "cannot import"),
                      ("no_such_mod_xyz:f", "no module"), ("audit.training.recipes:MLP", "not a function"),
                      ("os:system", "must take"), ("retrian", "unknown method")]:
        with pytest.raises(BadInput, match=why) as exc:
            resolve_methods([spec], allow_code=True, base_dir=case.base_dir)
        assert exc.value.field == "--method"
    with pytest.raises(BadInput, match="no predict_logits"):  # the fewest references the lab allows
        run_method_audit(load_case(case_dir / "case.toml", allow_code=True), [f"{MINE}:not_a_model"], [0],
                         seed=0, policy={**POLICY, "method": {"references": 3}})


def _app():
    app = typer.Typer()
    register(app)
    app.command("noop-placeholder")(lambda: None)  # typer needs >1 command to keep the name
    return app


def test_cli_method_option_mixes_builtins_and_user_callables(case_dir, tmp_path):
    out = tmp_path / "pack"
    args = ["methods", "--case", str(case_dir / "case.toml"), "--out", str(out), "--seeds", "0,1",
            "--method", "retrain,noop", "--method", USER[2]]
    refused = CliRunner().invoke(_app(), args)
    assert refused.exit_code == 2 and "--method" in refused.output and not out.exists()
    res = CliRunner().invoke(_app(), [*args, "--allow-code"])
    data = json.loads((out / "results.json").read_text())
    assert [m["name"] for m in data["method_audit"]["methods"]] == ["retrain", "noop", USER[2]]
    assert _statuses(data)[USER[2]] == "pass" and res.exit_code == 0, res.output


@pytest.mark.slow  # ~2-4 min on the shared 2-core machine
def test_known_answers_five_seeds_torch(case_dir):
    _assert_known_answers(_audit(case_dir, [2, 3, 4, 5, 6]))


@pytest.mark.slow  # ~2-4 min on the shared 2-core machine
def test_known_answers_five_seeds_sklearn_mlp(case_dir, tmp_path):
    """A second family: scikit-learn's MLPClassifier through the `sklearn` recipe (clone + random_state)."""
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
    case = load_case(d / "case.toml", allow_code=True)
    res = run_method_audit(case, ["retrain", "noop", USER[0], USER[2]], [0, 1, 2, 3, 4], policy=POLICY)
    st = _statuses(res)
    assert st["retrain"] == "pass" and st[USER[2]] == "pass", st
    assert st["noop"] == "fail" and st[USER[0]] == "fail", st
