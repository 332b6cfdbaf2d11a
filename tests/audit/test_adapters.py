"""Every adapter returns the same predictions as the model it wraps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.special import log_softmax

from audit.core.adapters import CallableModel, load_model
from audit.core.model_objects import TorchModule
from audit.core.outputs import normalise_logits
from audit.shared.errors import BadInput
from audit.training.recipes import MLP

X = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32)


def _onnx_linear(path: Path, W: np.ndarray, softmax: bool) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes = [helper.make_node("MatMul", ["X", "W"], ["Z"])]
    out = "Z"
    if softmax:
        nodes.append(helper.make_node("Softmax", ["Z"], ["P"], axis=1))
        out = "P"
    graph = helper.make_graph(
        nodes, "linear",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, [None, 3])],
        [numpy_helper.from_array(W, "W")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


@pytest.mark.parametrize("softmax", [False, True])
def test_onnx_logits_and_probabilities(tmp_path: Path, softmax: bool) -> None:
    W = np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32)
    _onnx_linear(tmp_path / "m.onnx", W, softmax)
    m = load_model("m.onnx", "models.original", tmp_path)
    got = normalise_logits(m.predict_logits(X))
    np.testing.assert_allclose(got, log_softmax(X @ W, axis=1), atol=1e-4)
    assert m.format == "onnx" and len(m.sha256) == 64
    assert set(m.parameters()) == {"W"}


def test_torchscript_and_state_dicts(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = MLP(4, 3, (8,)).eval()
    expected = TorchModule(net).predict_logits(X)
    torch.jit.save(torch.jit.script(net), str(tmp_path / "m.pt"))
    torch.save(net.state_dict(), tmp_path / "w.pth")
    from safetensors.torch import save_file

    save_file(net.state_dict(), str(tmp_path / "w.safetensors"))
    arch = {"architecture": "audit.training.recipes:MLP", "kwargs": {"n_features": 4, "n_classes": 3, "hidden": [8]}}
    for spec in ("m.pt", {"path": "w.pth", **arch}, {"path": "w.safetensors", **arch}):
        m = load_model(spec, "models.x", tmp_path)
        np.testing.assert_allclose(m.predict_logits(X), expected, atol=1e-5)
        assert set(m.parameters()) == set(net.state_dict())


def test_state_dict_with_wrong_architecture_is_bad_input(tmp_path: Path) -> None:
    torch.save(MLP(4, 3, (8,)).state_dict(), tmp_path / "w.pth")
    spec = {"path": "w.pth", "architecture": "audit.training.recipes:MLP",
            "kwargs": {"n_features": 4, "n_classes": 3, "hidden": [16]}}
    with pytest.raises(BadInput, match="models.x"):
        load_model(spec, "models.x", tmp_path)
    with pytest.raises(BadInput, match="models.x.architecture"):
        load_model({"path": "w.pth", "architecture": "nowhere.module:Net"}, "models.x", tmp_path)


def test_torch_load_refuses_pickled_code(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"x": Evil()}, tmp_path / "w.pth")
    with pytest.raises(BadInput):
        load_model({"path": "w.pth", "architecture": "audit.training.recipes:MLP",
                    "kwargs": {"n_features": 4, "n_classes": 3}}, "models.x", tmp_path)


def test_skops_sklearn_round_trip(tmp_path: Path) -> None:
    import skops.io as sio
    from sklearn.neural_network import MLPClassifier

    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
    clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=50, random_state=0).fit(X, y)
    sio.dump(clf, tmp_path / "m.skops")
    m = load_model("m.skops", "models.x", tmp_path)
    np.testing.assert_allclose(np.exp(m.predict_logits(X)), clf.predict_proba(X), atol=1e-9)
    assert "coefs.0" in m.parameters()


def test_callable_and_in_memory_objects() -> None:
    from sklearn.linear_model import LogisticRegression

    fn = CallableModel(lambda A: A[:, :3])
    np.testing.assert_allclose(fn.predict_logits(X), X[:, :3])
    lr = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    assert load_model(lr, "models.x").format == "sklearn"
    assert load_model(MLP(4, 2), "models.x").format == "torch-module"
    with pytest.raises(BadInput, match="not a model"):
        load_model(42, "models.x")


def test_onnx_garbage_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "m.onnx").write_bytes(b"\x00garbage")
    with pytest.raises(BadInput, match="models.original"):
        load_model("m.onnx", "models.original", tmp_path)


def test_class_removal_retrain_is_widened_to_the_originals_classes() -> None:
    """A scikit-learn retrain fitted without a removed class is audited, not refused."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from audit.core.adapters import WidenedClasses
    from audit.core.case import AuditCase

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = rng.integers(0, 3, 300)
    X[:, 0] += y
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    df["label"] = y
    held = rng.random(300) < 0.3
    df["split"] = np.where(held, "test", np.where(y == 2, "forget", "retain"))
    train, retain = (df["split"] != "test").to_numpy(), (df["split"] == "retain").to_numpy()
    original = LogisticRegression().fit(X[train], y[train])
    refs = [LogisticRegression(C=c).fit(X[retain], y[retain]) for c in (1.0, 0.5)]
    case = AuditCase(original=original, unlearned=refs[0], retrained=refs[1:], data=df)
    assert case.n_classes == 3
    widened = case.models["retrained:0"]
    assert isinstance(widened, WidenedClasses)
    lp = widened.predict_logits(X[:5].astype(np.float32))
    assert lp.shape == (5, 3) and np.all(lp[:, 2] < -27)
    assert np.allclose(np.exp(lp).sum(axis=1), 1.0, atol=1e-9)
