"""Slices of a table: rows selected by ``{"column": "value", ...}``, up to depth 2."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations

import numpy as np
import pandas as pd

from audit.shared.errors import BadInput

__all__ = ["Slice", "enumerate_slices", "iter_slices", "slice_moments", "string_codes", "bin_features", "slice_label", "slice_mask"]

Slice = dict[str, str]


def slice_label(sl: Slice) -> str:
    """Human-readable name of a slice.

    Parameters
    ----------
    sl : dict
        ``{column: value}``.

    Returns
    -------
    str

    Examples
    --------
    >>> slice_label({"home_language": "Vietnamese", "district": "District B"})
    'home_language=Vietnamese & district=District B'
    """
    return " & ".join(f"{k}={v}" for k, v in sl.items()) if sl else "(all rows)"


def slice_mask(frame: pd.DataFrame, sl: Slice) -> np.ndarray:
    """Boolean mask of the rows of ``frame`` in slice ``sl`` (values compared as strings).

    Parameters
    ----------
    frame : DataFrame
        Rows.
    sl : dict
        The slice.

    Returns
    -------
    ndarray of bool

    Examples
    --------
    >>> import pandas as pd
    >>> slice_mask(pd.DataFrame({"g": ["a", "b"]}), {"g": "a"}).tolist()
    [True, False]
    """
    mask = np.ones(len(frame), dtype=bool)
    for col, val in sl.items():
        if col not in frame.columns:
            raise BadInput(f"slice.{col}", f"column {col!r} does not exist")
        mask &= frame[col].astype(str).to_numpy() == str(val)
    return mask


def enumerate_slices(
    frame: pd.DataFrame, columns: list[str], max_depth: int = 2, min_size: int = 1
) -> list[tuple[Slice, np.ndarray]]:
    """Every slice of one column value, and (``max_depth`` 2) of two columns' value pairs.

    Slices with fewer than ``min_size`` rows are left out; the order is deterministic
    (columns in the given order, values sorted). Holds every mask at once; a search that
    looks at one slice at a time uses :func:`iter_slices`.

    Parameters
    ----------
    frame : DataFrame
        Rows.
    columns : list of str
        Group columns.
    max_depth : int
        1 or 2.
    min_size : int
        Least rows.

    Returns
    -------
    list of (dict, ndarray)

    Examples
    --------
    >>> df = pd.DataFrame({"a": ["x", "y", "x"], "b": ["u", "u", "v"]})
    >>> [slice_label(s) for s, _ in enumerate_slices(df, ["a", "b"])]
    ['a=x', 'a=y', 'b=u', 'b=v', 'a=x & b=u', 'a=x & b=v', 'a=y & b=u']
    """
    return list(iter_slices(frame, columns, max_depth, min_size))


def iter_slices(
    frame: pd.DataFrame, columns: list[str], max_depth: int = 2, min_size: int = 1
) -> Iterator[tuple[Slice, np.ndarray]]:
    """The slices of :func:`enumerate_slices`, in its order, made one at a time.

    Only the depth-1 masks are kept; a depth-2 mask exists while the caller looks at it
    (at 1 M rows and 21 binned columns the lattice's ~3 400 depth-2 masks are 1.7 GB).

    Parameters
    ----------
    frame, columns, max_depth, min_size
        As :func:`enumerate_slices`.

    Returns
    -------
    iterator of (dict, ndarray)

    Examples
    --------
    >>> df = pd.DataFrame({"a": ["x", "y", "x"], "b": ["u", "u", "v"]})
    >>> [slice_label(s) for s, _ in iter_slices(df, ["a", "b"], min_size=2)]
    ['a=x', 'b=u']
    """
    if max_depth not in (1, 2):
        raise BadInput("max_depth", "slice lattice depth must be 1 or 2")
    for c in columns:
        if c not in frame.columns:
            raise BadInput(f"groups.{c}", f"group column {c!r} does not exist")
    singles: dict[tuple[str, str], np.ndarray] = {}
    values: dict[str, list[str]] = {}
    for c in columns:
        codes, values[c] = string_codes(frame[c])
        singles.update({(c, v): codes == k for k, v in enumerate(values[c])})
    for c in columns:
        for v in values[c]:
            m = singles[(c, v)]
            if m.sum() >= min_size:
                yield {c: v}, m
    if max_depth == 2:
        for c1, c2 in combinations(columns, 2):
            for v1 in values[c1]:
                for v2 in values[c2]:
                    m = singles[(c1, v1)] & singles[(c2, v2)]
                    if m.sum() >= min_size and m.any():
                        yield {c1: v1, c2: v2}, m


def slice_moments(
    frame: pd.DataFrame, columns: list[str], values: np.ndarray, max_depth: int = 2, min_size: int = 1
) -> Iterator[tuple[Slice, int, float, float]]:
    """``(slice, rows, sum, sum of squares)`` of ``values`` in each slice of :func:`iter_slices`.

    Same slices in the same order, without a mask per slice: one ``np.bincount`` per column
    (depth 1) and per column pair (depth 2) gives every cell's moments at once.

    Parameters
    ----------
    frame, columns, max_depth, min_size
        As :func:`iter_slices`.
    values : ndarray, shape (len(frame),)
        Per-row values.

    Returns
    -------
    iterator of (dict, int, float, float)

    Examples
    --------
    >>> df = pd.DataFrame({"a": ["x", "y", "x"], "b": ["u", "u", "v"]})
    >>> [(slice_label(s), n, t) for s, n, t, _ in slice_moments(df, ["a", "b"], np.array([1.0, 2.0, 4.0]), min_size=2)]
    [('a=x', 2, 5.0), ('b=u', 2, 3.0)]
    """
    if max_depth not in (1, 2):
        raise BadInput("max_depth", "slice lattice depth must be 1 or 2")
    for c in columns:
        if c not in frame.columns:
            raise BadInput(f"groups.{c}", f"group column {c!r} does not exist")
    x = np.asarray(values, dtype=np.float64)
    codes: dict[str, np.ndarray] = {}
    names: dict[str, list[str]] = {}
    for c in columns:
        codes[c], names[c] = string_codes(frame[c])

    def cells(code: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (np.bincount(code, minlength=size), np.bincount(code, x, size), np.bincount(code, x * x, size))

    for c in columns:
        n, t, q = cells(codes[c], len(names[c]))
        for k, v in enumerate(names[c]):
            if n[k] >= min_size:
                yield {c: v}, int(n[k]), float(t[k]), float(q[k])
    if max_depth == 2:
        for c1, c2 in combinations(columns, 2):
            w = len(names[c2])
            n, t, q = cells(codes[c1].astype(np.int64) * w + codes[c2], len(names[c1]) * w)
            for k1, v1 in enumerate(names[c1]):
                for k2, v2 in enumerate(names[c2]):
                    k = k1 * w + k2
                    if n[k] >= min_size and n[k] > 0:
                        yield {c1: v1, c2: v2}, int(n[k]), float(t[k]), float(q[k])


def string_codes(col: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Each row's index into the column's sorted distinct values as strings (``astype(str)``).

    The strings are made once per distinct value, not once per row (at 1 M rows a per-row
    string column is ~60 MB).

    Parameters
    ----------
    col : Series
        A column.

    Returns
    -------
    codes : ndarray of int
    values : list of str

    Examples
    --------
    >>> import pandas as pd
    >>> c, v = string_codes(pd.Series([2, 1, 2]))
    >>> c.tolist(), v
    ([1, 0, 1], ['1', '2'])

    >>> string_codes(pd.Series([2, 10, 2]))
    (array([1, 0, 1], dtype=int32), ['10', '2'])
    """
    codes, uniques = pd.factorize(col, use_na_sentinel=False)
    names = pd.Series(uniques, copy=False).astype(str).tolist()
    values = sorted(set(names))
    pos = {v: i for i, v in enumerate(values)}
    return np.array([pos[n] for n in names], dtype=np.int32)[codes], values


def bin_features(frame: pd.DataFrame, features: list[str], n_bins: int = 4) -> pd.DataFrame:
    """Quantile bins of numeric features as string labels (``"[lo, hi)"``, a categorical
    column); text and categorical features keep their values (as strings).

    Constant or near-constant features give fewer bins. The bins depend only on the
    feature values, never on labels or model outputs.

    Parameters
    ----------
    frame : DataFrame
        Rows.
    features : list of str
        Columns to bin.
    n_bins : int
        Quantile bins.

    Returns
    -------
    DataFrame

    Examples
    --------
    >>> df = pd.DataFrame({"f": np.arange(8.0)})
    >>> bin_features(df, ["f"], 2)["f"].tolist()[:2]
    ['[0, 3.5)', '[0, 3.5)']
    """
    out = {}
    for f in features:
        if not (pd.api.types.is_numeric_dtype(frame[f]) or pd.api.types.is_bool_dtype(frame[f])):
            out[f] = frame[f].astype(str).to_numpy(dtype=object)
            continue
        x = frame[f].to_numpy(dtype=np.float64)
        edges = np.unique(np.quantile(x, np.linspace(0, 1, n_bins + 1)))
        if len(edges) < 2:
            out[f] = np.full(len(x), f"{edges[0]:.4g}" if len(edges) else "nan", dtype=object)
            continue
        idx = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
        names = [
            f"[{edges[i]:.4g}, {edges[i + 1]:.4g}{']' if i == len(edges) - 2 else ')'}"
            for i in range(len(edges) - 1)
        ]
        if len(set(names)) == len(names):  # a categorical holds one code per row, not a string
            out[f] = pd.Categorical.from_codes(idx, categories=names)
        else:  # two bins print alike: plain strings
            out[f] = np.array(names, dtype=object)[idx]
    return pd.DataFrame(out, index=frame.index)
