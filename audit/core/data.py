"""Reading the case's data table (Parquet, CSV, NPZ) and validating its columns."""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from audit.core.limits import limits_of
from audit.shared.errors import BadInput

__all__ = ["read_table", "frame_sha256", "SPLITS", "validate_table", "check_rows", "check_feature_values"]

SPLITS = ("forget", "retain", "test")


_MB = 1 << 20


def _too_big(path: Path, what: str, size: int, limits: Mapping[str, int]) -> BadInput:
    return BadInput("data.path", f"{path.name}: {what} is {size / _MB:.1f} MB, over the limit "
                    f"general.max_data_mb = {limits['max_data_mb']} MB")


def _check_sizes(path: Path, suffix: str, limits: Mapping[str, int]) -> None:
    """Refuse a data file whose size on disk or once decompressed is over the limit."""
    cap = limits["max_data_mb"] * _MB
    if path.stat().st_size > cap:
        raise _too_big(path, "the file", path.stat().st_size, limits)
    if suffix == ".npz":
        try:
            with zipfile.ZipFile(path) as z:
                infos = z.infolist()
        except (zipfile.BadZipFile, OSError) as exc:
            raise BadInput("data.path", f"cannot read {path.name}: not a valid .npz archive ({exc})") from exc
        for info in infos:
            if info.file_size > cap:
                raise _too_big(path, f"member {info.filename!r} decompressed", info.file_size, limits)
        total = sum(i.file_size for i in infos)
        if total > cap:
            raise _too_big(path, "the archive decompressed", total, limits)
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            meta = pq.ParquetFile(path).metadata
        except Exception as exc:  # noqa: BLE001 - any reader failure is bad input
            raise BadInput("data.path", f"cannot read {path.name}: {exc}") from exc
        total = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        if total > cap:
            raise _too_big(path, "the table uncompressed", total, limits)
        _check_shape(meta.num_rows, meta.num_columns, limits)


def _check_shape(rows: int, columns: int, limits: Mapping[str, int]) -> None:
    if rows > limits["max_rows"]:
        raise BadInput("data.path", f"the data table has {rows} rows, over the limit "
                       f"general.max_rows = {limits['max_rows']}")
    if columns > limits["max_columns"]:
        raise BadInput("data.path", f"the data table has {columns} columns, over the limit "
                       f"general.max_columns = {limits['max_columns']}")


def read_table(path: Path, limits: Mapping[str, int] | None = None) -> pd.DataFrame:
    """Read ``.parquet``, ``.csv``, ``.jsonl`` (one JSON object per line) or ``.npz`` into a DataFrame.

    NPZ: every 1-D array becomes a column of that name; a 2-D array ``name`` becomes
    columns ``name[0]``, ``name[1]``, ... ``limits`` (default :func:`audit.core.limits.limits_of`)
    are checked on the file's size and decompressed size before it is parsed.

    Parameters
    ----------
    path : Path
        The data file.
    limits : mapping, optional
        Data limits.

    Returns
    -------
    DataFrame
    """
    if not path.is_file():
        raise BadInput("data.path", f"file not found: {path}")
    suffix = path.suffix.lower()
    limits = limits or limits_of()
    if suffix in (".parquet", ".csv", ".npz", ".jsonl"):
        _check_sizes(path, suffix, limits)
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix == ".csv":  # read at most one row past the limit: bounded memory
            df = pd.read_csv(path, nrows=limits["max_rows"] + 1)
            if len(df) > limits["max_rows"]:
                raise BadInput("data.path", f"{path.name} has more than {limits['max_rows']} rows, over "
                               f"the limit general.max_rows = {limits['max_rows']}")
            return df
        if suffix == ".jsonl":  # one JSON object per line; at most one row past the limit
            df = pd.read_json(path, lines=True, nrows=limits["max_rows"] + 1, dtype=False)
            if len(df) > limits["max_rows"]:
                raise BadInput("data.path", f"{path.name} has more than {limits['max_rows']} rows, over "
                               f"the limit general.max_rows = {limits['max_rows']}")
            return df
        if suffix == ".npz":
            cols: dict[str, np.ndarray] = {}
            with np.load(path, allow_pickle=False) as z:
                for key in z.files:
                    arr = z[key]
                    if arr.ndim == 1:
                        cols[key] = arr
                    elif arr.ndim == 2:
                        for j in range(arr.shape[1]):
                            cols[f"{key}[{j}]"] = arr[:, j]
                    else:
                        raise BadInput("data.path", f"NPZ array {key!r} has {arr.ndim} dimensions")
            lengths = {len(v) for v in cols.values()}
            if len(lengths) > 1:
                raise BadInput("data.path", f"NPZ arrays have different lengths {sorted(lengths)}")
            return pd.DataFrame(cols)
    except BadInput:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader failure is bad input
        raise BadInput("data.path", f"cannot read {path.name}: {exc}") from exc
    raise BadInput("data.path", f"unsupported data format {suffix!r}; use .parquet, .csv, .jsonl or .npz")


def frame_sha256(df: pd.DataFrame) -> str:
    """Content hash of a DataFrame (column names, dtypes and values, order-sensitive).

    Parameters
    ----------
    df : DataFrame
        A table.

    Returns
    -------
    str

    Examples
    --------
    >>> import pandas as pd
    >>> frame_sha256(pd.DataFrame({"a": [1]})) == frame_sha256(pd.DataFrame({"a": [1]}))
    True
    """
    h = hashlib.sha256()
    h.update(repr([(str(c), str(t)) for c, t in df.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return h.hexdigest()


def _require_column(df: pd.DataFrame, name: str, field: str) -> None:
    if not isinstance(name, str) or name not in df.columns:
        raise BadInput(field, f"column {name!r} not in the data (columns: {list(df.columns)[:20]})")


def check_rows(df: pd.DataFrame, split: str, groups: list[str], id_col: str | None,
               limits: Mapping[str, int]) -> None:
    """The checks every case table shares: rows, size limits, the split, group and id columns.

    Parameters
    ----------
    df : DataFrame
        The table.
    split : str
        The split column.
    groups : list of str
        Group columns.
    id_col : str or None
        Row-id column.
    limits : mapping
        Data limits (rows, columns, group values).

    Raises
    ------
    BadInput
        Naming the field at fault.

    Examples
    --------
    >>> check_rows(pd.DataFrame({"split": ["forget", "retain"]}), "split", [], None, limits_of())
    Traceback (most recent call last):
    ...
    audit.shared.errors.BadInput: data.split: the test split is empty
    """
    if len(df) == 0:
        raise BadInput("data.path", "the data table has no rows")
    _check_shape(len(df), len(df.columns), limits)
    _require_column(df, split, "data.split")
    for i, g in enumerate(groups):
        _require_column(df, g, f"data.groups[{i}]")
        distinct = df[g].nunique(dropna=False)
        if distinct > limits["max_group_values"]:
            raise BadInput(f"data.groups[{i}]", f"group column {g!r} has {distinct} distinct values, over "
                           f"the limit general.max_group_values = {limits['max_group_values']}; "
                           "group coarser values or raise the limit")
    if id_col is not None:
        _require_column(df, id_col, "data.id")
    s = df[split]
    if s.isna().any():
        raise BadInput("data.split", f"{int(s.isna().sum())} rows have no split value")
    bad = sorted(set(map(str, s.unique())) - set(SPLITS))
    if bad:
        raise BadInput("data.split", f"unknown split values {bad[:5]}; use forget, retain, test")
    for name in ("forget", "test"):
        if not (s == name).any():
            raise BadInput("data.split", f"the {name} split is empty")
    if id_col is not None:
        _check_ids(df, split, id_col)


def validate_table(
    df: pd.DataFrame,
    label: str,
    split: str,
    groups: list[str],
    id_col: str | None,
    features: list[str] | None,
    limits: Mapping[str, int] | None = None,
) -> list[str]:
    """Check the table against the case's column roles; return the candidate feature columns.

    The declared ``features`` or, by default, every column without another role. Which of
    them the models use, and their values, are settled once the models are known
    (:func:`audit.core.features.resolve_features`, :func:`check_feature_values`).
    Limits (rows, columns, group values) are checked against ``limits``.

    Parameters
    ----------
    df : DataFrame
        The table.
    label, split : str
        Column roles.
    groups : list of str
        Group columns.
    id_col : str or None
        Row-id column.
    features : list of str, optional
        Declared features.
    limits : mapping, optional
        Data limits.

    Returns
    -------
    list of str
        The candidate feature columns.
    """
    limits = limits or limits_of()
    check_rows(df, split, groups, id_col, limits)
    _require_column(df, label, "data.label")
    if df[label].isna().any():
        raise BadInput("data.label", f"{int(df[label].isna().sum())} rows have no label")
    roles = {label, split, *groups} | ({id_col} if id_col else set())
    if features is None:
        features = [c for c in df.columns if c not in roles]
    else:
        for i, f in enumerate(features):
            _require_column(df, f, f"data.features[{i}]")
        clash = sorted(set(features) & ({label, split} | ({id_col} if id_col else set())))
        if clash:
            raise BadInput("data.features", f"{clash} cannot be features (label, split or id)")
    if not features:
        raise BadInput("data.features", "no feature columns left")
    return list(features)


def _check_ids(df: pd.DataFrame, split: str, id_col: str) -> None:
    ids = df[id_col]
    if ids.isna().any():
        raise BadInput("data.id", f"{int(ids.isna().sum())} rows have no id")
    forget = set(ids[df[split] == "forget"])
    for other in ("test", "retain"):
        both = forget & set(ids[df[split] == other])
        if both:
            raise BadInput(
                "data.id",
                f"{len(both)} id(s) are marked both forget and {other}; every row of a forgotten "
                "id must be in the forget split",
            )


def check_feature_values(df: pd.DataFrame, features: list[str]) -> None:
    """Refuse NaN/inf in numeric feature columns and missing values in the others.

    Parameters
    ----------
    df : DataFrame
        The table.
    features : list of str
        Feature columns.

    Returns
    -------
    None

    Examples
    --------
    >>> check_feature_values(pd.DataFrame({"a": [1.0, 2.0], "city": ["x", "y"]}), ["a", "city"])
    >>> check_feature_values(pd.DataFrame({"city": ["x", None]}), ["city"])
    Traceback (most recent call last):
    audit.shared.errors.BadInput: data.features['city']: 1 missing value(s)
    """
    for f in features:
        col = df[f]
        if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            values = col.to_numpy(dtype=np.float64, na_value=np.nan)
            bad = ~np.isfinite(values)
            if bad.any():
                raise BadInput(f"data.features[{f!r}]", f"{int(bad.sum())} NaN/inf value(s)")
        elif col.isna().any():
            raise BadInput(f"data.features[{f!r}]", f"{int(col.isna().sum())} missing value(s)")
