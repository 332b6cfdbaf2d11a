"""Model adapters: one protocol over ONNX, scikit-learn (.skops), PyTorch and callables.

Every adapter has ``predict_logits(X) -> ndarray[n, classes]`` (logits or
log-probabilities; the cache normalises; a regressor returns its predictions, ``[n]`` or
``[n, 1]``), ``parameters() -> dict[str, ndarray] | None``,
``sha256`` (of the file(s) it was loaded from, ``None`` for in-memory objects) and
``format``. Untrusted files are treated as untrusted: no pickle unless explicitly
allowed, ``torch.load(weights_only=True)``, skops with a reviewed type list, ONNX
external-data locations confined to the model's directory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from audit.code_import import import_object
from audit.errors import BadInput, one_line
from audit.recipes import SklearnModel, TorchModule

__all__ = [
    "ModelAdapter",
    "CallableModel",
    "OnnxModel",
    "load_model",
    "SKOPS_REVIEWED_TYPES",
    "PICKLE_SUFFIXES",
    "WidenedClasses",
]

# Types skops does not trust by default that we reviewed: optimiser state of
# MLPClassifier and the tree structure of tree ensembles (plain data, no code).
SKOPS_REVIEWED_TYPES: tuple[str, ...] = (
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "sklearn.tree._tree.Tree",
)
MODEL_KEYS = ("path", "format", "architecture", "kwargs", "features")
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
TORCH_SUFFIXES = (".pt", ".pth", ".torchscript", ".ts")


@runtime_checkable
class ModelAdapter(Protocol):
    """What the engine needs from a model."""

    format: str
    sha256: str | None

    def predict_logits(self, X: np.ndarray) -> np.ndarray: ...


def _sha256(*paths: Path, extra: str = "") -> str:
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    h.update(extra.encode())
    return h.hexdigest()


class CallableModel:
    """Adapter over any Python callable ``f(X) -> logits`` (or an object with ``predict_logits``).

    Examples
    --------
    >>> m = CallableModel(lambda X: np.zeros((len(X), 3)))
    >>> m.predict_logits(np.ones((2, 4))).shape
    (2, 3)
    """

    format = "callable"

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray] | Any, sha256: str | None = None):
        self._obj = fn
        self._fn = fn.predict_logits if hasattr(fn, "predict_logits") else fn
        self.sha256 = sha256 or getattr(fn, "sha256", None)

    def predict_logits(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self._fn(X), dtype=np.float64)

    def parameters(self) -> dict[str, np.ndarray] | None:
        getter = getattr(self._obj, "parameters", None)
        return getter() if callable(getter) else None


class OnnxModel:
    """Adapter over an ONNX classifier or regressor run with onnxruntime on the CPU.

    The first input is fed the features; the first 2-D float output is taken as the
    scores (a 1-D float output as a regressor's one column). Rows of two or more columns
    that are non-negative and sum to 1 are treated as probabilities.
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
        self.sha256 = _sha256(path)

    def _feed(self, X: Any) -> dict[str, np.ndarray]:
        if self.input_names is None:
            return {self._input: np.asarray(X, dtype=np.float32)}
        cols = [X[n].to_numpy() for n in self.input_names] if hasattr(X, "columns") else list(np.asarray(X).T)
        return {n: _onnx_column(c, self._input_types[n]) for n, c in zip(self.input_names, cols, strict=True)}

    def predict_logits(self, X: Any) -> np.ndarray:
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


def _load_skops(path: Path, field: str, trusted_types: Sequence[str] = ()) -> SklearnModel:
    """Load a .skops file trusting only skops' defaults, the reviewed list and ``trusted_types``."""
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
    model = SklearnModel(est, sha256=_sha256(path))
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


def _load_torch(path: Path, field: str, table: Mapping[str, Any], base_dir: Path | None,
                allow_code: bool) -> TorchModule:
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
        return TorchModule(module, sha256=_sha256(path))
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
    return TorchModule(module, sha256=_sha256(path, extra=extra))


def load_model(
    spec: str | Mapping[str, Any] | Any,
    field: str,
    base_dir: Path | None = None,
    allow_pickle: bool = False,
    allow_code: bool = False,
    trusted_types: Sequence[str] = (),
) -> Any:
    """Load a model from a case-file entry or wrap an in-memory object.

    Parameters
    ----------
    spec : str, mapping or object
        A path; a table ``{path, format?, architecture?, kwargs?, features?}``; an adapter;
        a fitted scikit-learn estimator; a ``torch.nn.Module``; or a callable. ``features``
        declares the model's input names in order (checked against names the model knows).
    field : str
        Name used in error messages, e.g. ``"models.retrained[1]"``.
    base_dir : Path, optional
        Relative paths are resolved against it (the case file's directory).
    allow_pickle : bool
        Permit ``.pkl`` / ``.pickle`` / ``.joblib`` files (arbitrary code execution).
    allow_code : bool
        Permit an ``architecture`` module from the case directory or outside the installed
        packages (see :mod:`audit.code_import`).
    trusted_types : sequence of str
        Types a reviewer trusts in ``.skops`` files beyond skops' defaults and
        :data:`SKOPS_REVIEWED_TYPES` (the case file's ``[models] trusted_types``).
    """
    if not isinstance(spec, (str, Path, Mapping)):
        return _wrap_object(spec, field)
    table = {"path": spec} if isinstance(spec, (str, Path)) else dict(spec)
    unknown = set(table) - set(MODEL_KEYS)
    if unknown:
        raise BadInput(field, f"unknown keys {sorted(unknown)}; allowed: {', '.join(MODEL_KEYS)}")
    if "path" not in table:
        raise BadInput(f"{field}.path", "missing")
    path = Path(table["path"])
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    if not path.is_file():
        raise BadInput(field, f"file not found: {path}")
    fmt = table.get("format") or _format_from_suffix(path, table.get("architecture"))
    model = _load_file(path, fmt, table, field, allow_pickle, allow_code, base_dir, trusted_types)
    model.source_path = path
    if "features" in table:
        _declare_features(model, table["features"], f"{field}.features")
    return model


def _declare_features(model: Any, names: Any, field: str) -> None:
    """Attach a declared input-name list, refusing one that contradicts the model's own."""
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise BadInput(field, "must be a non-empty list of column names")
    if len(set(names)) != len(names):
        raise BadInput(field, f"lists a column twice: {sorted({n for n in names if names.count(n) > 1})}")
    own = getattr(getattr(model, "estimator", None), "feature_names_in_", None)
    own = own if own is not None else getattr(model, "input_names", None)
    if own is not None and [str(n) for n in own] != names:
        raise BadInput(field, f"{names} differ from the model's own input names {[str(n) for n in own]}")
    model.feature_names = list(names)


def _load_file(path: Path, fmt: str, table: dict[str, Any], field: str, allow_pickle: bool,
               allow_code: bool = False, base_dir: Path | None = None,
               trusted_types: Sequence[str] = ()) -> Any:
    if fmt == "onnx":
        return OnnxModel(path, field)
    if fmt == "skops":
        return _load_skops(path, field, trusted_types)
    if fmt in ("torchscript", "torch"):
        return _load_torch(path, field, table, base_dir, allow_code)
    if fmt == "pickle":
        if not allow_pickle:
            raise BadInput(field, f"{path.name} is a pickle/joblib file; pass --allow-pickle to trust it")
        import joblib

        obj = joblib.load(path)
        model = _wrap_object(obj, field)
        model.sha256 = _sha256(path)
        return model
    from audit.extensions import registered

    loader = registered("adapter").get(fmt)
    if loader is None:
        raise BadInput(field, f"unknown model format {fmt!r} for {path.name}")
    model = _wrap_object(loader(path, dict(table)), field)  # an extension's adapter
    if getattr(model, "format", "callable") == "callable":
        model.format = fmt
    if getattr(model, "sha256", None) is None:
        model.sha256 = _sha256(path)
    return model


def _format_from_suffix(path: Path, architecture: str | None) -> str:
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return "onnx"
    if suffix == ".skops":
        return "skops"
    if suffix == ".safetensors" or (suffix in TORCH_SUFFIXES and architecture):
        return "torch"
    if suffix in TORCH_SUFFIXES:
        return "torchscript"
    if suffix in PICKLE_SUFFIXES:
        return "pickle"
    return suffix.lstrip(".") or "unknown"


def _wrap_object(obj: Any, field: str) -> Any:
    if hasattr(obj, "predict_logits"):
        return obj if hasattr(obj, "format") else CallableModel(obj)
    try:
        import torch

        if isinstance(obj, torch.nn.Module):
            return TorchModule(obj)
    except ImportError:  # pragma: no cover
        pass
    if hasattr(obj, "predict_proba") or hasattr(obj, "decision_function"):
        return SklearnModel(obj)
    if hasattr(obj, "predict") and hasattr(obj, "get_params"):  # a scikit-learn regressor
        return SklearnModel(obj)
    if callable(obj):
        return CallableModel(obj)
    raise BadInput(field, f"{type(obj).__name__} is not a model (no predict_logits / predict_proba)")


class WidenedClasses:
    """A model that never saw some classes, widened to the case's full class list.

    A retrain after a whole-class removal (a scikit-learn model fitted without the class)
    predicts over fewer classes than the original; its log-probability for an absent class
    is ``log(1e-12)``. Digest, format and file stay the wrapped model's; ``parameters()`` is
    the wrapped model's own.

    Examples
    --------
    >>> inner = CallableModel(lambda X: np.zeros((len(X), 2)), "m")
    >>> inner.classes = np.array([0, 2])
    >>> w = WidenedClasses(inner, np.array([0, 1, 2]))
    >>> w.predict_logits(np.zeros((1, 3))).round(2).tolist()
    [[-0.69, -27.63, -0.69]]
    """

    LOG_EPS = float(np.log(1e-12))

    def __init__(self, inner: Any, classes: np.ndarray) -> None:
        self.inner = inner
        self.classes = np.asarray(classes)
        lookup = {v.item() if hasattr(v, "item") else v: i for i, v in enumerate(self.classes)}
        self._cols = np.array([lookup[v.item() if hasattr(v, "item") else v] for v in inner.classes])
        self.sha256 = getattr(inner, "sha256", None)
        self.format = getattr(inner, "format", "unknown")
        self.source_path = getattr(inner, "source_path", None)

    def predict_logits(self, X: np.ndarray) -> np.ndarray:
        from scipy.special import log_softmax

        inner = log_softmax(np.asarray(self.inner.predict_logits(X), dtype=np.float64), axis=1)
        out = np.full((len(inner), len(self.classes)), self.LOG_EPS)
        out[:, self._cols] = inner
        return out

    def parameters(self) -> dict[str, np.ndarray] | None:
        getter = getattr(self.inner, "parameters", None)
        return getter() if callable(getter) else None
