"""No code runs unless asked: ``architecture`` and recipes named by import path."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from audit.cli.app import app
from audit.core.adapters import load_model
from audit.core.case import AuditCase
from audit.core.code_import import import_object, module_origin
from audit.shared.errors import BadInput

runner = CliRunner()

NET_PY = '''
import pathlib, torch
pathlib.Path(__file__).with_name("{marker}").write_text("imported")
class Net(torch.nn.Module):
    def __init__(self, n_features=4, n_classes=2):
        super().__init__()
        self.lin = torch.nn.Linear(n_features, n_classes)
    def forward(self, x):
        return self.lin(x)
'''


def _case_dir(tmp_path: Path, name: str = "case", marker: str = "ran.txt") -> Path:
    """A case directory holding its own architecture module ``casenet.py`` and its weights."""
    d = tmp_path / name
    d.mkdir()
    (d / "casenet.py").write_text(NET_PY.format(marker=marker))
    torch.manual_seed(0)
    torch.save(torch.nn.Linear(4, 2).state_dict(), d / "w.pt")
    torch.save({"lin." + k: v for k, v in torch.nn.Linear(4, 2).state_dict().items()}, d / "net.pt")
    return d


def test_a_callable_that_is_not_a_module_class_is_never_called(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    torch.save({}, tmp_path / "w.pt")
    spec = {"path": "w.pt", "architecture": "os:system", "kwargs": {"command": f"touch {marker}"}}
    with pytest.raises(BadInput) as err:
        load_model(spec, "models.original", tmp_path)
    assert err.value.field == "models.original.architecture"
    assert "not a torch.nn.Module subclass" in err.value.message
    assert not marker.exists()


@pytest.mark.parametrize("arch", ["torch.nn:functional", "torch:zeros", "torch.nn:Module.__init__",
                                  "builtins:eval", "collections:OrderedDict"])
def test_only_module_subclasses(arch: str, tmp_path: Path) -> None:
    torch.save({}, tmp_path / "w.pt")
    with pytest.raises(BadInput, match="models.x.architecture"):
        load_model({"path": "w.pt", "architecture": arch}, "models.x", tmp_path)


def test_installed_module_class_needs_no_flag(tmp_path: Path) -> None:
    torch.save(torch.nn.Linear(4, 2).state_dict(), tmp_path / "w.pt")
    m = load_model({"path": "w.pt", "architecture": "torch.nn:Linear",
                    "kwargs": {"in_features": 4, "out_features": 2}}, "models.x", tmp_path)
    assert m.predict_logits(np.zeros((3, 4), np.float32)).shape == (3, 2)


def test_case_directory_module_needs_allow_code_and_is_not_imported_without(tmp_path: Path) -> None:
    d = _case_dir(tmp_path)
    with pytest.raises(BadInput) as err:
        load_model({"path": "net.pt", "architecture": "casenet:Net"}, "models.unlearned", d)
    assert err.value.field == "models.unlearned.architecture"
    assert "--allow-code" in err.value.message and "case directory" in err.value.message
    assert not (d / "ran.txt").exists()  # refused before import: its top-level code never ran


def test_case_directory_module_with_allow_code_resolves_there_and_leaves_no_trace(tmp_path: Path) -> None:
    d = _case_dir(tmp_path)
    path_before = list(sys.path)
    m = load_model({"path": "net.pt", "architecture": "casenet:Net"}, "models.x", d, allow_code=True)
    assert (d / "ran.txt").read_text() == "imported"
    assert m.predict_logits(np.zeros((2, 4), np.float32)).shape == (2, 2)
    assert sys.path == path_before
    assert not [name for name in sys.modules if name.split(".")[0] == "casenet"]


def test_two_cases_with_same_module_name_get_their_own(tmp_path: Path) -> None:
    a, b = _case_dir(tmp_path, "a"), _case_dir(tmp_path, "b")
    (b / "casenet.py").write_text((b / "casenet.py").read_text().replace("Linear(n_features, n_classes)",
                                                                          "Linear(n_features, 3)"))
    ca = import_object("casenet:Net", "f", a, allow_code=True)
    cb = import_object("casenet:Net", "f", b, allow_code=True)
    assert ca().lin.out_features == 2 and cb().lin.out_features == 3


def test_module_outside_installed_packages_needs_allow_code(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "straynet.py").write_text(NET_PY.format(marker="stray.txt"))
    monkeypatch.syspath_prepend(str(elsewhere))
    assert module_origin("straynet", tmp_path / "case")[0] == "other"
    with pytest.raises(BadInput, match="outside the installed packages.*--allow-code"):
        import_object("straynet:Net", "models.x.architecture", tmp_path / "case")
    assert not (elsewhere / "stray.txt").exists()
    assert import_object("straynet:Net", "models.x.architecture", tmp_path, allow_code=True).__name__ == "Net"


@pytest.mark.parametrize("spec", ["casenet", ":Net", "casenet:", "a b:Net", "casenet:Net()", 7])
def test_malformed_spec_names_the_field(spec: object, tmp_path: Path) -> None:
    with pytest.raises(BadInput) as err:
        import_object(spec, "models.x.architecture", tmp_path)  # type: ignore[arg-type]
    assert err.value.field == "models.x.architecture"


def test_module_whose_import_fails_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "brokennet.py").write_text("raise RuntimeError('half written')\n")
    with pytest.raises(BadInput, match="importing 'brokennet' failed: RuntimeError: half written"):
        import_object("brokennet:Net", "models.x.architecture", tmp_path, allow_code=True)
    assert "brokennet" not in sys.modules


def test_recipe_function_needs_allow_code() -> None:
    df = pd.DataFrame({"a": np.arange(30.0), "label": np.arange(30) % 2,
                       "split": ["forget"] * 5 + ["retain"] * 15 + ["test"] * 10})
    f = lambda X: np.c_[np.zeros(len(X)), X[:, 0]]  # noqa: E731
    with pytest.raises(BadInput) as err:
        AuditCase(original=f, unlearned=f, retrained=[f], data=df, recipe="os:system")
    assert err.value.field == "training.recipe" and "--allow-code" in err.value.message


def test_cli_refuses_then_records_allow_code(tiny_dir: Path, tmp_path: Path) -> None:
    d = tmp_path / "case"
    shutil.copytree(tiny_dir, d)
    (d / "casenet.py").write_text(NET_PY.format(marker="ran.txt"))
    lin = torch.nn.Linear(4, 2)
    torch.save({"lin." + k: v for k, v in lin.state_dict().items()}, d / "net.pt")
    case = d / "case.toml"
    case.write_text(case.read_text().replace('unlearned = "unlearned.skops"',
                                             'unlearned = { path = "net.pt", architecture = "casenet:Net" }'))
    res = runner.invoke(app, ["run", str(case), "--out", str(tmp_path / "p")])
    assert res.exit_code == 2 and "models.unlearned.architecture" in res.output and "--allow-code" in res.output
    assert not (d / "ran.txt").exists() and not (tmp_path / "p").exists()
    res = runner.invoke(app, ["run", str(case), "--out", str(tmp_path / "p"), "--allow-code", "--format", "json"])
    assert res.exit_code in (0, 1, 3), res.output
    results = json.loads((tmp_path / "p" / "results.json").read_text())
    assert results["allow_code"] is True and results["allow_pickle"] is False
