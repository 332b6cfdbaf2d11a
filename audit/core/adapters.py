"""Model adapters: one protocol over ONNX, scikit-learn (.skops), PyTorch and callables.

Every adapter has ``predict_logits(X) -> ndarray[n, classes]`` (logits or
log-probabilities; the cache normalises; a regressor returns its predictions, ``[n]`` or
``[n, 1]``), ``parameters() -> dict[str, ndarray] | None``,
``sha256`` (of the file(s) it was loaded from, ``None`` for in-memory objects) and
``format``. Untrusted files are treated as untrusted: no pickle unless explicitly
allowed, ``torch.load(weights_only=True)``, skops with a reviewed type list, ONNX
external-data locations confined to the model's directory. The per-format loaders live in
:mod:`audit.core.model_formats` (``OnnxModel`` and ``SKOPS_REVIEWED_TYPES`` are re-exported here).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from audit.core.model_formats import (
    SKOPS_REVIEWED_TYPES,
    OnnxModel,
    file_sha256,
    load_skops,
    load_torch,
)
from audit.core.model_objects import SklearnModel, TorchModule
from audit.shared.errors import BadInput

__all__ = [
    "ModelAdapter",
    "CallableModel",
    "OnnxModel",
    "load_model",
    "SKOPS_REVIEWED_TYPES",
    "PICKLE_SUFFIXES",
    "WidenedClasses",
]

MODEL_KEYS = ("path", "format", "architecture", "kwargs", "features")
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")
TORCH_SUFFIXES = (".pt", ".pth", ".torchscript", ".ts")


@runtime_checkable
class ModelAdapter(Protocol):
    """What the engine needs from a model."""

    format: str
    sha256: str | None

    def predict_logits(self, X: np.ndarray) -> np.ndarray:
        """Scores of every row: logits or log-probabilities (a regressor: its predictions).

        Parameters
        ----------
        X : ndarray or DataFrame, shape (n, features)
            Inputs (a DataFrame for a model that takes its features by name).

        Returns
        -------
        ndarray, shape (n, classes)
            Logits or log-probabilities (a regressor: its predictions, ``[n, 1]``).
        """
        ...


class CallableModel:
    """Adapter over any Python callable ``f(X) -> logits`` (or an object with ``predict_logits``).

    Parameters
    ----------
    fn : callable or object
        ``fn(X) -> [n, classes]``, or an object with ``predict_logits`` (and maybe ``parameters``).
    sha256 : str, optional
        Digest of the file it came from (default: ``fn.sha256`` if any).

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
        """``fn(X)`` (or ``fn.predict_logits(X)``) as a float64 array.

        Parameters
        ----------
        X : ndarray or DataFrame, shape (n, features)
            Inputs (a DataFrame for a model that takes its features by name).

        Returns
        -------
        ndarray, shape (n, classes)
            Logits or log-probabilities (a regressor: its predictions, ``[n, 1]``).
        """
        return np.asarray(self._fn(X), dtype=np.float64)

    def parameters(self) -> dict[str, np.ndarray] | None:
        """The wrapped object's ``parameters()``, if it has one.

        Returns
        -------
        dict of str to ndarray or None
            The model's parameters by name, float64 copies (None when it exposes none).
        """
        getter = getattr(self._obj, "parameters", None)
        return getter() if callable(getter) else None


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
        packages (see :mod:`audit.core.code_import`).
    trusted_types : sequence of str
        Types a reviewer trusts in ``.skops`` files beyond skops' defaults and
        :data:`SKOPS_REVIEWED_TYPES` (the case file's ``[models] trusted_types``).

    Returns
    -------
    adapter
        An object with ``predict_logits``, ``format``, ``sha256`` (and ``source_path`` for a file).
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
        return load_skops(path, field, trusted_types)
    if fmt in ("torchscript", "torch"):
        return load_torch(path, field, table, base_dir, allow_code)
    if fmt == "pickle":
        if not allow_pickle:
            raise BadInput(field, f"{path.name} is a pickle/joblib file; pass --allow-pickle to trust it")
        import joblib

        obj = joblib.load(path)
        model = _wrap_object(obj, field)
        model.sha256 = file_sha256(path)
        return model
    from audit.core.extensions import registered

    loader = registered("adapter").get(fmt)
    if loader is None:
        raise BadInput(field, f"unknown model format {fmt!r} for {path.name}")
    model = _wrap_object(loader(path, dict(table)), field)  # an extension's adapter
    if getattr(model, "format", "callable") == "callable":
        model.format = fmt
    if getattr(model, "sha256", None) is None:
        model.sha256 = file_sha256(path)
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

    Parameters
    ----------
    inner : adapter
        A classifier with a ``classes`` attribute (the labels it knows, a subset of ``classes``).
    classes : ndarray
        The case's full class list.

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
        """The inner model's log-probabilities, ``log(1e-12)`` for the classes it never saw.

        Parameters
        ----------
        X : ndarray or DataFrame, shape (n, features)
            Inputs (a DataFrame for a model that takes its features by name).

        Returns
        -------
        ndarray, shape (n, classes)
            Logits or log-probabilities (a regressor: its predictions, ``[n, 1]``).
        """
        from scipy.special import log_softmax

        inner = log_softmax(np.asarray(self.inner.predict_logits(X), dtype=np.float64), axis=1)
        out = np.full((len(inner), len(self.classes)), self.LOG_EPS)
        out[:, self._cols] = inner
        return out

    def parameters(self) -> dict[str, np.ndarray] | None:
        """The wrapped model's parameters.

        Returns
        -------
        dict of str to ndarray or None
            The model's parameters by name, float64 copies (None when it exposes none).
        """
        getter = getattr(self.inner, "parameters", None)
        return getter() if callable(getter) else None
