"""The model file formats: ONNX, scikit-learn ``.skops`` and PyTorch (TorchScript / state dicts).

:mod:`audit.core.adapters` is the protocol and the dispatch (``load_model``: a case-file entry or an
in-memory object to an adapter); this module is what each file format needs to load safely:
onnxruntime on the CPU with external data confined to the model's directory; skops with only
its defaults, :data:`SKOPS_REVIEWED_TYPES` and the case's reviewed ``trusted_types``;
TorchScript archives, or a state dict (``weights_only=True`` / safetensors) into an
``architecture`` that must be a ``torch.nn.Module`` subclass, imported under the
``--allow-code`` rule. Every loaded model carries the SHA-256 of its file(s)
(:func:`audit.shared.digest.file_sha256`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from audit.core.code_import import import_object
from audit.core.model_objects import SklearnModel, TorchModule
from audit.shared.digest import file_sha256
from audit.shared.errors import BadInput, one_line

__all__ = ["OnnxModel", "SKOPS_REVIEWED_TYPES", "load_skops", "load_torch"]

# Types skops does not trust by default that we reviewed: optimiser state of
# MLPClassifier and the tree structure of tree ensembles (plain data, no code).
SKOPS_REVIEWED_TYPES: tuple[str, ...] = (
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "sklearn.tree._tree.Tree",
)


class OnnxModel:
    """Adapter over an ONNX classifier or regressor run with onnxruntime on the CPU.

    The first input is fed the features; the first 2-D float output is taken as the
    scores (a 1-D float output as a regressor's one column). Rows of two or more columns
    that are non-negative and sum to 1 are treated as probabilities.

    Parameters
    ----------
    path : Path
        The ``.onnx`` file (external data, if any, must lie in its directory).
    field : str
        The case-file field named in error messages.
    """

    format = "onnx"

    def __init__(self, path: Path, field: str) -> None:
        import onnx
        import onnxruntime as ort

        try:
            proto = onnx.load(str(path), load_external_data=False)
        except Exception as exc:  # noqa: BLE001 - any parse failure is bad input
            raise BadInput(field, f"not a readable ONNX model: {exc}") from exc
        _check_external_data(proto, path, field)
        try:
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1
            self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001
            raise BadInput(field, f"onnxruntime cannot load the model: {exc}") from exc
        inputs = self._session.get_inputs()
        self._input = inputs[0].name
        self._input_types = {i.name: i.type for i in inputs}
        # one input per column (skl2onnx's export of a DataFrame pipeline): fed by name
        self.input_names = [i.name for i in inputs] if len(inputs) > 1 else None
        self.takes_frame = self.input_names is not None
        self._outputs = [o.name for o in self._session.get_outputs()]
        self._path = path
        self.sha256 = file_sha256(path)

    def _feed(self, X: Any) -> dict[str, np.ndarray]:
        if self.input_names is None:
            return {self._input: np.asarray(X, dtype=np.float32)}
        cols = [X[n].to_numpy() for n in self.input_names] if hasattr(X, "columns") else list(np.asarray(X).T)
        return {n: _onnx_column(c, self._input_types[n]) for n, c in zip(self.input_names, cols, strict=True)}

    def predict_logits(self, X: Any) -> np.ndarray:
        """The first 2-D float output (probabilities as their logs; a 1-D output as one column).

        Parameters
        ----------
        X : ndarray or DataFrame, shape (n, features)
            Inputs (a DataFrame for a model that takes its features by name).

        Returns
        -------
        ndarray, shape (n, classes)
            Logits or log-probabilities (a regressor: its predictions, ``[n, 1]``).
        """
        outs = self._session.run(None, self._feed(X))
        for out in outs:
            arr = np.asarray(out) if not isinstance(out, list) else None
            if arr is not None and arr.ndim == 1 and np.issubdtype(arr.dtype, np.floating):
                arr = arr[:, None]  # a regressor's predictions as one column
            if arr is not None and arr.ndim == 2 and np.issubdtype(arr.dtype, np.floating):
                arr = arr.astype(np.float64)
                if arr.shape[1] >= 2 and np.all(arr >= 0) and np.allclose(arr.sum(axis=1), 1.0, atol=1e-4):
                    return np.log(np.clip(arr, 1e-12, 1.0))
                return arr
        raise BadInput("models", f"{self._path.name}: no 2-D float output among {self._outputs}")

    def parameters(self) -> dict[str, np.ndarray]:
        """The float initializers of the graph, by name.

        Returns
        -------
        dict of str to ndarray or None
            The model's parameters by name, float64 copies (None when it exposes none).
        """
        import onnx
        from onnx import numpy_helper

        proto = onnx.load(str(self._path))
        return {
            t.name: numpy_helper.to_array(t).astype(np.float64)
            for t in proto.graph.initializer
            if t.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE)
        }


_ONNX_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
               "tensor(int32)": np.int32, "tensor(bool)": np.bool_, "tensor(string)": np.str_}


def _onnx_column(values: np.ndarray, onnx_type: str) -> np.ndarray:
    """One data column as an ONNX input of shape [n, 1] and the input's element type."""
    dtype = _ONNX_TYPES.get(onnx_type, np.float32)
    col = values.astype(str).astype(object) if dtype is np.str_ else values.astype(dtype)
    return col.reshape(-1, 1)


def _check_external_data(proto: Any, path: Path, field: str) -> None:
    """Reject external-data locations that leave the model's directory."""
    import onnx

    base = path.parent.resolve()
    for tensor in proto.graph.initializer:
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        location = next((e.value for e in tensor.external_data if e.key == "location"), "")
        target = (base / location).resolve()
        if Path(location).is_absolute() or base not in target.parents:
            raise BadInput(field, f"external data location {location!r} escapes the model directory")
        if not target.is_file():
            raise BadInput(field, f"external data file {location!r} is missing")


def load_skops(path: Path, field: str, trusted_types: Sequence[str] = ()) -> SklearnModel:
    """Load a .skops file trusting only skops' defaults, the reviewed list and ``trusted_types``.

    Parameters
    ----------
    path : Path
        The ``.skops`` file.
    field : str
        The case-file field named in error messages.
    trusted_types : sequence of str
        Types the case's reviewer trusts beyond skops' defaults and :data:`SKOPS_REVIEWED_TYPES`.

    Returns
    -------
    SklearnModel
        The estimator's adapter, ``trusted_types`` set to the non-default types it holds.

    Raises
    ------
    BadInput
        Unreadable, holding unreviewed types (the message gives the line to add once
        reviewed), or neither a classifier nor a regressor.
    """
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=str(path))
    except Exception as exc:  # noqa: BLE001
        raise BadInput(field, f"not a readable .skops file: {exc}") from exc
    unknown = sorted(set(untrusted) - set(SKOPS_REVIEWED_TYPES) - set(trusted_types))
    if unknown:
        line = "trusted_types = [" + ", ".join(f'"{t}"' for t in sorted({*trusted_types, *unknown})) + "]"
        raise BadInput(field, f"{path.name} contains unreviewed types {unknown}; refusing to load (loading "
                       "runs their code). If you have reviewed them, add this line to the case file's "
                       f"[models] table: {line}")
    try:
        est = sio.load(str(path), trusted=list(untrusted))
    except Exception as exc:  # noqa: BLE001
        raise BadInput(field, f"cannot load .skops file: {exc}") from exc
    if not (hasattr(est, "predict_proba") or hasattr(est, "decision_function") or hasattr(est, "predict")):
        raise BadInput(field, f"{type(est).__name__} is neither a classifier nor a regressor")
    model = SklearnModel(est, sha256=file_sha256(path))
    model.trusted_types = sorted(untrusted)
    return model


def _architecture(spec: Any, field: str, base_dir: Path | None, allow_code: bool) -> type:
    """The ``torch.nn.Module`` subclass ``spec`` names, checked before anything calls it."""
    import torch

    obj = import_object(spec, f"{field}.architecture", base_dir, allow_code)
    if not (isinstance(obj, type) and issubclass(obj, torch.nn.Module)):
        what = f"class {obj.__name__}" if isinstance(obj, type) else type(obj).__name__
        raise BadInput(f"{field}.architecture",
                       f"{spec!r} is a {what}, not a torch.nn.Module subclass; refusing to call it")
    return obj


def load_torch(path: Path, field: str, table: Mapping[str, Any], base_dir: Path | None,
               allow_code: bool) -> TorchModule:
    """Load a TorchScript archive, or a state dict into the table's ``architecture``.

    Parameters
    ----------
    path : Path
        ``.pt`` / ``.pth`` / ``.torchscript`` / ``.ts`` / ``.safetensors`` file.
    field : str
        The case-file field named in error messages.
    table : mapping
        The model's case-file table: ``architecture = "pkg.mod:Class"`` and ``kwargs`` for a
        state dict (without them the file must be TorchScript).
    base_dir : Path, optional
        The case directory (searched first for the architecture's module).
    allow_code : bool
        Permit an architecture module outside the standard library / site-packages.

    Returns
    -------
    TorchModule
        The module's adapter; its digest covers the file, the architecture and kwargs.
    """
    import torch

    architecture, kwargs = table.get("architecture"), table.get("kwargs") or {}

    if architecture is None:
        if path.suffix == ".safetensors":
            raise BadInput(field, "safetensors weights need `architecture = \"pkg.mod:Class\"`")
        try:
            module = torch.jit.load(str(path), map_location="cpu")
        except Exception as exc:  # noqa: BLE001
            raise BadInput(field, f"{path.name} is not a loadable TorchScript archive ({one_line(exc)}); "
                           "a state dict needs `architecture`") from exc
        return TorchModule(module, sha256=file_sha256(path))
    cls = _architecture(architecture, field, base_dir, allow_code)
    if not isinstance(kwargs, Mapping):
        raise BadInput(f"{field}.kwargs", f"must be a table of keyword arguments, got {kwargs!r}")
    try:
        module = cls(**dict(kwargs))
    except Exception as exc:  # noqa: BLE001
        raise BadInput(f"{field}.kwargs", f"cannot build {architecture}: {exc}") from exc
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
        module.load_state_dict(state, strict=True)
    except Exception as exc:  # noqa: BLE001
        raise BadInput(field, f"{path.name}: weights do not load into {architecture}: {one_line(exc)}") from exc
    extra = architecture + repr(sorted(dict(kwargs).items()))
    return TorchModule(module, sha256=file_sha256(path, extra=extra))
