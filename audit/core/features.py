"""Features by name: which data columns each model is fed, in which order, and in which form.

A model that knows its input names (``feature_names_in_`` of a scikit-learn estimator or
pipeline fitted on a DataFrame, the inputs of a one-column-per-input ONNX graph, a
``features = [...]`` list declared in its case-file table, a ``feature_names`` attribute
of a callable) is fed exactly those columns, selected **by name**: reordered data columns
are re-ordered, columns it does not use are not passed, a column it needs that the data
lacks is :class:`~audit.shared.errors.BadInput` naming it. A model that knows no names is fed the
case's feature columns by position (``[data] features`` if declared, else the named
models' columns, else every column that has no other role); results.json says which.

Models that take a table (scikit-learn estimators fitted on a DataFrame, multi-input ONNX
graphs, callables with ``takes_frame = True``) get a pandas DataFrame with the column
names and dtypes of the data (strings, categoricals, booleans as they are); every other
model gets a float32 matrix and therefore only numeric columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from audit.shared.errors import BadInput

__all__ = ["model_input_names", "takes_frame", "FeatureBinding", "resolve_features",
           "non_numeric", "is_numeric_column"]


def is_numeric_column(col: pd.Series) -> bool:
    """Whether a column can go into a float matrix (numbers and booleans).

    Parameters
    ----------
    col : Series
        A column.

    Returns
    -------
    bool

    Examples
    --------
    >>> import pandas as pd
    >>> is_numeric_column(pd.Series([1.0])), is_numeric_column(pd.Series(["a"]))
    (True, False)

    Examples
    --------
    >>> is_numeric_column(pd.Series([1, 2])), is_numeric_column(pd.Series(["a", "b"]))
    (True, False)
    """
    return bool(pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col))


def non_numeric(df: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """The columns of ``columns`` that are not numeric (strings, categoricals, objects).

    Parameters
    ----------
    df : DataFrame
        The table.
    columns : sequence of str
        Columns to look at.

    Returns
    -------
    list of str

    Examples
    --------
    >>> non_numeric(pd.DataFrame({"a": [1.0], "b": ["x"]}), ["a", "b"])
    ['b']
    """
    if not df.columns.is_unique:
        return [c for c in columns if not is_numeric_column(df[c])]
    dtypes = df.dtypes  # one lookup, not a Series per column (wide tables, called per role)
    return [c for c in columns
            if not (pd.api.types.is_numeric_dtype(dtypes[c]) or pd.api.types.is_bool_dtype(dtypes[c]))]


def _inner_object(model: Any) -> Any:
    """The user's object behind an adapter (estimator, callable) or the model itself."""
    for attr in ("estimator", "_obj"):
        obj = getattr(model, attr, None)
        if obj is not None:
            return obj
    return model


def model_input_names(model: Any) -> list[str] | None:
    """The model's own input names in its order, or ``None`` when it knows none.

    Sources, first found wins: a declared ``feature_names`` (case-file ``features``), the
    estimator's ``feature_names_in_``, a multi-input ONNX graph's ``input_names``, a
    ``feature_names`` / ``feature_names_in_`` attribute of a wrapped callable.

    Parameters
    ----------
    model : adapter
        A model.

    Returns
    -------
    list of str or None

    Examples
    --------
    >>> from audit.core.adapters import CallableModel
    >>> f = lambda X: np.zeros((len(X), 2))
    >>> model_input_names(CallableModel(f)) is None
    True
    >>> f.feature_names = ["b", "a"]
    >>> model_input_names(CallableModel(f))
    ['b', 'a']
    """
    inner = _inner_object(model)
    for obj, attr in ((model, "feature_names"), (inner, "feature_names_in_"), (model, "input_names"),
                      (inner, "feature_names")):
        names = getattr(obj, attr, None)
        if names is not None and not callable(names):
            return [str(n) for n in names]
    return None


def takes_frame(model: Any) -> bool:
    """Whether the model is fed a DataFrame (with names) rather than a float32 matrix.

    Parameters
    ----------
    model : adapter
        A model.

    Returns
    -------
    bool

    Examples
    --------
    >>> from audit.core.adapters import CallableModel
    >>> f = lambda X: np.zeros((len(X), 2))
    >>> takes_frame(CallableModel(f))
    False
    >>> f.takes_frame = True
    >>> takes_frame(CallableModel(f))
    True
    """
    inner = _inner_object(model)
    if getattr(model, "takes_frame", False) or getattr(inner, "takes_frame", False):
        return True
    return getattr(inner, "feature_names_in_", None) is not None


class FeatureBinding:
    """A model fed its own columns, by name, from the case's feature table.

    ``predict_logits`` accepts a DataFrame holding (at least) the model's columns, or a
    matrix whose columns are the case's features in order; it selects the model's columns
    and hands them over as a DataFrame (``frame=True``) or a float32 matrix. Every other
    attribute is the wrapped adapter's.

    Parameters
    ----------
    inner : adapter
        The model.
    columns : sequence of str
        Its input columns, in its order.
    case_features : sequence of str
        The case's features, in order.
    frame : bool
        Hand the model a DataFrame.
    by_name : bool
        The columns were matched by name.

    Examples
    --------
    >>> from audit.core.adapters import CallableModel
    >>> m = FeatureBinding(CallableModel(lambda X: np.c_[X[:, 0], X[:, 1]]), ["b", "a"],
    ...                    ["a", "b"], frame=False, by_name=True)
    >>> m.predict_logits(np.array([[1.0, 2.0]])).tolist()
    [[2.0, 1.0]]
    >>> m.predict_logits(pd.DataFrame({"a": [1.0], "b": [2.0], "c": [9.0]})).tolist()
    [[2.0, 1.0]]
    """

    def __init__(self, inner: Any, columns: Sequence[str], case_features: Sequence[str], *,
                 frame: bool, by_name: bool) -> None:
        self.inner = inner
        self.feature_columns = list(columns)
        self.input_kind = "frame" if frame else "matrix"
        self.matched_by = "name" if by_name else "position"
        pos = {c: i for i, c in enumerate(case_features)}
        self._idx = np.array([pos[c] for c in self.feature_columns], dtype=np.int64)
        self._identity = list(self.feature_columns) == list(case_features)

    def __getattr__(self, name: str) -> Any:
        if name == "inner" or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.inner, name)

    def select(self, X: Any) -> Any:
        """The model's own input built from the case's feature table ``X``.

        Parameters
        ----------
        X : DataFrame or ndarray
            The case's feature table.

        Returns
        -------
        DataFrame or ndarray
        """
        if isinstance(X, pd.DataFrame):
            sub = X[self.feature_columns]
            return sub if self.input_kind == "frame" else sub.to_numpy(dtype=np.float32)
        arr = np.asarray(X)
        sub = arr if self._identity else arr[:, self._idx]
        if self.input_kind == "frame":
            return pd.DataFrame(sub, columns=self.feature_columns)
        return sub

    def predict_logits(self, X: Any) -> np.ndarray:
        """The wrapped model's outputs on its own columns of ``X``.

        Parameters
        ----------
        X : ndarray or DataFrame, shape (n, features)
            Inputs (a DataFrame for a model that takes its features by name).

        Returns
        -------
        ndarray, shape (n, classes)
            Logits or log-probabilities (a regressor: its predictions, ``[n, 1]``).
        """
        return self.inner.predict_logits(self.select(X))

    def feature_entry(self) -> dict[str, Any]:
        """results.json record of what this model was fed.

        Returns
        -------
        dict
            ``columns``, ``matched_by`` and ``input`` (matrix or frame).
        """
        return {"columns": list(self.feature_columns), "matched_by": self.matched_by,
                "input": self.input_kind}


def _field(role: str) -> str:
    return f"models.retrained[{role.split(':')[1]}]" if role.startswith("retrained:") else f"models.{role}"


def _named_columns(data: pd.DataFrame, models: Mapping[str, Any], reserved: set[str],
                   declared: list[str] | None) -> dict[str, list[str]]:
    named: dict[str, list[str]] = {}
    for role, model in models.items():
        names = model_input_names(model)
        if names is None:
            continue
        missing = [n for n in names if n not in data.columns]
        if missing:
            raise BadInput(_field(role), f"needs column(s) {missing} that the data lacks "
                           f"(data columns: {list(map(str, data.columns))[:20]})")
        clash = sorted(set(names) & reserved)
        if clash:
            raise BadInput(_field(role), f"takes {clash} as input, but the case uses it as label, split or id")
        if declared is not None and (extra := [n for n in names if n not in declared]):
            raise BadInput("data.features", f"{_field(role)} needs column(s) {extra} not listed in data.features")
        named[role] = names
    return named


def resolve_features(data: pd.DataFrame, models: Mapping[str, Any], default: list[str],
                     declared: list[str] | None, reserved: set[str]) -> tuple[list[str], str, dict[str, Any]]:
    """Decide the case's feature columns and bind every model to its own columns by name.

    Parameters
    ----------
    data : DataFrame
        The case's table.
    models : mapping role -> adapter
    default : list of str
        Every column without another role (used when nothing names the features).
    declared : list of str or None
        ``[data] features``: the columns, in order, fed by position to models without names.
    reserved : set of str
        Label, split and id columns: never features.

    Returns
    -------
    features, source, bound
        The case's feature columns; where they came from (``"case"``, ``"models"`` or
        ``"data"``); each role's :class:`FeatureBinding`.

    Examples
    --------
    >>> from audit.core.adapters import CallableModel
    >>> f = lambda X: X[["a", "b"]].to_numpy()
    >>> f.feature_names, f.takes_frame = ["a", "b"], True
    >>> df = pd.DataFrame({"b": [1.0], "a": [0.0], "unused": [5.0]})
    >>> feats, source, bound = resolve_features(df, {"original": CallableModel(f)}, ["b", "a", "unused"],
    ...                                         None, set())
    >>> feats, source, bound["original"].predict_logits(df).tolist()
    (['a', 'b'], 'models', [[0.0, 1.0]])
    """
    named = _named_columns(data, models, reserved, declared)
    if declared is not None:
        features, source = list(declared), "case"
    elif named:
        features, source = [], "models"
        for names in named.values():
            features += [n for n in names if n not in features]
    else:
        features, source = list(default), "data"
    if not features:
        raise BadInput("data.features", "no feature columns left")
    bound: dict[str, Any] = {}
    for role, model in models.items():
        columns = named.get(role, features)
        frame = takes_frame(model)
        if not frame and (text := non_numeric(data, columns)):
            raise BadInput(f"data.features[{text[0]!r}]", f"column(s) {text} are not numeric, but "
                           f"{_field(role)} is fed a numeric matrix; a scikit-learn pipeline fitted on "
                           "a DataFrame (or a callable with takes_frame = True) takes them as they are")
        bound[role] = FeatureBinding(model, columns, features, frame=frame, by_name=role in named)
    return features, source, bound
