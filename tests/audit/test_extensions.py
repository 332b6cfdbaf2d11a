"""One extension mechanism (audit.core.extensions.register): a check, a model format and a method.

The extension module below is the worked example of docs/architecture.md.
"""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from audit.cli.app import app
from audit.core import extensions
from audit.core.case_file import load_case
from audit.engine.policy import default_policy
from audit.engine.runner import run_audit
from audit.lab.methods.user import resolve_methods
from audit.shared.errors import BadInput

EXTENSION = '''
import numpy as np

from audit.core.adapters import load_model
from audit.checks import CheckSpec
from audit.checks._paired import finish, model_roles, row_evidence
from audit.core.options import Option, switches
from audit.core.extensions import register

LOADED = []


def run(ctx):
    """Mean top-class confidence on the forget rows, U against the retrains (the kernel decides)."""
    refs, roles = model_roles(ctx)
    conf = {r: ctx.cache.probs(r, "forget").max(axis=1) for r in roles}
    ev = row_evidence(ctx, "forget_confidence", "forget", conf, "two_sided",
                      ctx.policy["margin"], "each retrained reference's confidence on the same rows")
    return finish(ctx, "forget_confidence", SPEC.title, [ev], [],
                  lambda status, metrics: f"forget-row confidence: {status}")


SPEC = register("check")(CheckSpec(
    "forget_confidence", "Forget-row confidence", run=run, kind="forgetting", order=150,
    options={**switches(required=False),
             "margin": Option(float, 0.02, "floor of the confidence band", minimum=0, tighter="lower")}))


@register("adapter", "skops_via_ext")
def load_skops_via_ext(path, table):
    LOADED.append(path.name)
    return load_model(str(path), "models.via_ext")


@register("method", "ext_noop")
def ext_noop(model, forget, retain, *, seed):
    return model
'''


@pytest.fixture()
def ext_case(tiny_dir, tmp_path):
    d = tmp_path / "case"
    shutil.copytree(tiny_dir, d)
    (d / "my_ext.py").write_text(EXTENSION)
    text = (d / "case.toml").read_text().replace(
        'unlearned = "unlearned.skops"', 'unlearned = {path = "unlearned.skops", format = "skops_via_ext"}')
    (d / "case.toml").write_text(text)
    before = {k: set(extensions.registered(k)) for k in extensions.KINDS}
    yield d
    for k in extensions.KINDS:  # leave the process's registry as it was
        for name in set(extensions.registered(k)) - before[k]:
            extensions.unregister(k, name)


def test_extension_adds_a_check_a_format_and_a_method(ext_case):
    with pytest.raises(BadInput, match="--extension.*--allow-code"):
        extensions.load_extensions(["my_ext"], allow_code=False, base_dir=ext_case)
    loaded = extensions.load_extensions(["my_ext"], allow_code=True, base_dir=ext_case)
    assert loaded == [{"module": "my_ext", "registered": {"check": ["forget_confidence"],
                                                          "method": ["ext_noop"],
                                                          "adapter": ["skops_via_ext"]}}]
    assert default_policy()["forget_confidence"] == {"required": False, "enabled": True, "margin": 0.02}
    res = run_audit(load_case(ext_case / "case.toml"), seed=0)
    check = next(c for c in res["checks"] if c["id"] == "forget_confidence")
    assert check["metrics"][0]["controls"]["negative"]["total"] == 2  # decided by the kernel
    assert res["extensions"] == {"check": ["forget_confidence"], "method": ["ext_noop"],
                                 "adapter": ["skops_via_ext"]}
    assert resolve_methods(["ext_noop"])[0].source == "extension"
    with pytest.raises(BadInput, match="policy.forget_confidence.margin"):
        run_audit(load_case(ext_case / "case.toml"), {"forget_confidence": {"margin": -1.0}})


def test_without_the_extension_the_format_is_unknown_and_model_mode_unchanged(ext_case, tiny_dir):
    with pytest.raises(BadInput, match="unknown model format 'skops_via_ext'"):
        load_case(ext_case / "case.toml")
    assert "extensions" not in run_audit(load_case(tiny_dir / "case.toml"), seed=0)
    assert "forget_confidence" not in default_policy()


def test_names_are_checked():
    extensions.register("method", "retrain")(lambda model, forget, retain, *, seed: model)
    try:  # a built-in's name is refused where the built-ins are merged in, before any work
        with pytest.raises(BadInput, match="method 'retrain' is already a built-in"):
            resolve_methods(["noop"])
    finally:
        extensions.unregister("method", "retrain")
    with pytest.raises(BadInput, match="already a built-in"):
        extensions.register("adapter", "onnx")(lambda path, table: None)
    with pytest.raises(BadInput, match=r"must match"):
        extensions.register("method", "Bad-Name")(lambda model, forget, retain, *, seed: model)
    with pytest.raises(BadInput, match="CheckSpec"):
        extensions.register("check")(lambda ctx: None)


def test_cli_extension_needs_allow_code_and_is_recorded(ext_case, tmp_path):
    out = tmp_path / "pack"
    args = ["run", str(ext_case / "case.toml"), "--out", str(out), "--no-pdf", "--extension", "my_ext",
            "--commitment-key", str(tmp_path / "key")]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 2 and "--extension" in refused.output and not out.exists()
    res = CliRunner().invoke(app, [*args, "--allow-code"])
    assert res.exit_code in (0, 1, 3), res.output
    data = json.loads((out / "results.json").read_text())
    assert "forget_confidence" in [c["id"] for c in data["checks"]] and data["extensions"]["check"]
