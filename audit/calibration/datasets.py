"""Datasets of the calibration grid and the forget sets drawn from them.

Three tables, every feature standardised with the statistics of the test split (rows no
model is trained on, so no forgotten row shapes the features):

* ``digits`` — scikit-learn's handwritten digits (10 classes, 64 pixels). Group column
  ``ink``: the quartile of total ink (sum of raw pixel intensities), ``ink_q1`` … ``ink_q4``;
  a synthetic group, since the data has none.
* ``breast_cancer`` — scikit-learn's Wisconsin breast cancer (2 classes, 30 features).
  Group column ``radius``: the quartile of ``mean radius`` (synthetic, as above).
* ``accent`` — :func:`audit.scenarios.accent.accent_frame` (2 classes, 8 features), with its
  own ``district`` and ``home_language`` columns.

Forget kinds (all drawn from the training rows, i.e. not the test split):
``random1`` / ``random10`` (1 % / 10 % of the training rows at random), ``class`` (every
training row of one class; only for datasets with more than two classes: without one of
two classes a retrain is a constant, not a classifier) and ``group`` (every training row
of one group: ``ink_q4``, ``radius_q4``, ``District A``).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["DATASETS", "KINDS", "Dataset", "load_dataset", "forget_mask", "kind_skip_reason",
           "derive_seed"]

DATASETS: tuple[str, ...] = ("digits", "breast_cancer", "accent")
KINDS: tuple[str, ...] = ("random1", "random10", "class", "group")
_TEST_FRACTION = 0.25


def derive_seed(*parts: object) -> int:
    """A 31-bit seed derived deterministically from any mix of strings and integers.

    Parameters
    ----------
    *parts : str or int
        What the seed is for (cell, role, index ...).

    Returns
    -------
    int
        In ``[0, 2**31)``.

    Examples
    --------
    >>> derive_seed("digits", 3) == derive_seed("digits", 3)
    True
    >>> derive_seed("digits", 3) == derive_seed("digits", 4)
    False
    """
    words = [zlib.crc32(str(p).encode()) if not isinstance(p, int) else int(p) for p in parts]
    return int(np.random.SeedSequence(words).generate_state(1)[0] >> 1)


@dataclass(frozen=True)
class Dataset:
    """One table of the grid: standardised features, labels, test split and groups.

    Attributes
    ----------
    name : str
        Dataset name (one of :data:`DATASETS`).
    X : ndarray of float32, shape (n, d)
        Standardised features.
    y : ndarray of int64
        Class indices ``0 .. n_classes - 1``.
    test : ndarray of bool
        Rows of the test split (never trained on).
    groups : DataFrame
        Subgroup columns (strings), declared as the case's groups; not model inputs.
    forget_group, flip_group : tuple of str
        ``(column, value)`` forgotten by the ``group`` kind, and whose retain labels the
        ``group_flip`` variant flips.
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    test: np.ndarray
    groups: pd.DataFrame
    forget_group: tuple[str, str]
    flip_group: tuple[str, str]

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return int(self.y.max()) + 1

    @property
    def features(self) -> list[str]:
        """Feature column names ``f00``, ``f01``, …"""
        return [f"f{i:02d}" for i in range(self.X.shape[1])]

    def frame(self, forget: np.ndarray) -> pd.DataFrame:
        """The case table: features, ``label``, ``split`` and the group columns.

        Parameters
        ----------
        forget : ndarray of bool
            The forgotten training rows.

        Returns
        -------
        DataFrame
        """
        split = np.where(self.test, "test", np.where(forget, "forget", "retain"))
        df = pd.DataFrame(self.X, columns=self.features)
        df["label"] = self.y
        df["split"] = split
        for col in self.groups.columns:
            df[col] = self.groups[col].to_numpy()
        return df


def _quartile(values: np.ndarray, prefix: str) -> np.ndarray:
    edges = np.quantile(values, [0.25, 0.5, 0.75])
    return np.array([f"{prefix}_q{i + 1}" for i in np.searchsorted(edges, values, side="right")])


def _test_split(y: np.ndarray, seed: int) -> np.ndarray:
    """A stratified test split of :data:`_TEST_FRACTION` of the rows."""
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        test[rng.choice(rows, size=int(round(_TEST_FRACTION * len(rows))), replace=False)] = True
    return test


def _standardise(X: np.ndarray, test: np.ndarray) -> np.ndarray:
    mean, std = X[test].mean(axis=0), X[test].std(axis=0)
    std = np.where(std > 1e-9, std, 1.0)
    return ((X - mean) / std).astype(np.float32)


def _raw(name: str, seed: int, accent_students: int) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    if name == "digits":
        from sklearn.datasets import load_digits

        ds = load_digits()
        return ds.data, ds.target, pd.DataFrame({"ink": _quartile(ds.data.sum(axis=1), "ink")})
    if name == "breast_cancer":
        from sklearn.datasets import load_breast_cancer

        ds = load_breast_cancer()
        radius = ds.data[:, list(ds.feature_names).index("mean radius")]
        return ds.data, ds.target, pd.DataFrame({"radius": _quartile(radius, "radius")})
    if name == "accent":
        from audit.scenarios.accent import FEATURES, accent_frame

        df = accent_frame(seed, students_per_district=accent_students)
        return (df[list(FEATURES)].to_numpy(), df["label"].to_numpy(),
                df[["district", "home_language"]].reset_index(drop=True))
    raise ValueError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")


_GROUPS = {
    "digits": (("ink", "ink_q4"), ("ink", "ink_q1")),
    "breast_cancer": (("radius", "radius_q4"), ("radius", "radius_q1")),
    "accent": (("district", "District A"), ("home_language", "Vietnamese")),
}


def load_dataset(name: str, seed: int, accent_students: int = 600) -> Dataset:
    """Load ``name`` with a test split and standardisation that depend on ``seed`` only.

    Parameters
    ----------
    name : str
        One of :data:`DATASETS`.
    seed : int
        Seeds the test split (and the accent table's generation).
    accent_students : int
        Students per district of the accent table (5 districts).

    Returns
    -------
    Dataset

    Examples
    --------
    >>> ds = load_dataset("breast_cancer", 0)
    >>> ds.X.shape, ds.n_classes, ds.forget_group
    ((569, 30), 2, ('radius', 'radius_q4'))
    """
    X, y, groups = _raw(name, seed, accent_students)
    y = np.asarray(y, dtype=np.int64)
    test = _test_split(y, derive_seed("test-split", name, seed))
    forget_group, flip_group = _GROUPS[name]
    return Dataset(name, _standardise(np.asarray(X, dtype=np.float64), test), y, test,
                   groups.astype(str), forget_group, flip_group)


def kind_skip_reason(ds: Dataset, kind: str) -> str | None:
    """Why ``kind`` does not apply to ``ds`` (``None`` when it does).

    Parameters
    ----------
    ds : Dataset
        The dataset.
    kind : str
        A forget kind (:data:`audit.calibration.datasets.KINDS`).

    Returns
    -------
    str or None

    Examples
    --------
    >>> kind_skip_reason(load_dataset("breast_cancer", 0), "class")
    'a binary task without one class leaves a constant, not a classifier'
    """
    if kind not in KINDS:
        raise ValueError(f"unknown forget kind {kind!r}; known: {', '.join(KINDS)}")
    if kind == "class" and ds.n_classes <= 2:
        return "a binary task without one class leaves a constant, not a classifier"
    return None


def forget_mask(ds: Dataset, kind: str, seed: int) -> np.ndarray:
    """Boolean mask of the forgotten training rows for ``kind``.

    The class forgotten by ``class`` is drawn from ``seed``; random fractions are of the
    training rows (at least one row).

    Parameters
    ----------
    ds : Dataset
        The dataset.
    kind : str
        The forget kind.
    seed : int
        The cell's seed.

    Returns
    -------
    ndarray of bool

    Examples
    --------
    >>> ds = load_dataset("digits", 0)
    >>> m = forget_mask(ds, "random10", 0)
    >>> bool((m & ds.test).any()), round(float(m.sum() / (~ds.test).sum()), 2)
    (False, 0.1)
    """
    reason = kind_skip_reason(ds, kind)
    if reason:
        raise ValueError(f"{kind} does not apply to {ds.name}: {reason}")
    train = ~ds.test
    rng = np.random.default_rng(derive_seed("forget", ds.name, kind, seed))
    if kind in ("random1", "random10"):
        frac = 0.01 if kind == "random1" else 0.10
        rows = np.flatnonzero(train)
        chosen = rng.choice(rows, size=max(1, int(round(frac * len(rows)))), replace=False)
        mask = np.zeros(len(ds.y), dtype=bool)
        mask[chosen] = True
        return mask
    if kind == "class":
        return train & (ds.y == int(rng.integers(ds.n_classes)))
    col, value = ds.forget_group
    return train & (ds.groups[col].to_numpy() == value)
