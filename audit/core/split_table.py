"""One table read by split: the row masks, feature matrices, model inputs, targets and frames of a case.

A case holds one table whose split column marks each row ``forget``, ``retain`` or ``test``;
:class:`SplitTable` is how everything downstream reads it (the output cache, the checks, the
shadow models, the method lab): a split's rows as a boolean mask, as a float32 feature matrix,
as what the models are fed (a DataFrame when a feature is text), as targets or as a frame.
:class:`audit.core.case.AuditCase` is one (and :class:`audit.lm.case.LanguageModelCase`,
which feeds texts instead).
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd

from audit.core.features import non_numeric
from audit.shared.errors import BadInput

__all__ = ["SplitTable"]


class SplitTable:
    """A case's table read by split (base class of :class:`audit.core.case.AuditCase`).

    The subclass sets the attributes when it has validated them; nothing here validates.

    Attributes
    ----------
    data : DataFrame
        The one table (index reset).
    split_col : str
        Its split column (``forget``, ``retain``, ``test``).
    features : list of str
        The feature columns, in the order models fed by position get them.
    _y : ndarray
        The targets of every row: int64 class indices, or float64 for regression.

    Examples
    --------
    >>> class Table(SplitTable):
    ...     def __init__(self, data):
    ...         self.data, self.split_col, self.features = data, "split", ["x"]
    ...         self._y = data["label"].to_numpy()
    >>> t = Table(pd.DataFrame({"x": [0.5, 1.5, 2.5], "label": [0, 1, 1],
    ...                         "split": ["forget", "retain", "forget"]}))
    >>> t.n, t.X("forget").tolist(), t.y("forget").tolist(), t.frame("retain").shape
    ({'forget': 2, 'retain': 1, 'test': 0}, [[0.5], [2.5]], [0, 1], (1, 3))
    """

    def mask(self, split: str) -> np.ndarray:
        """Boolean mask of the rows of ``split`` in the case's table.

        Parameters
        ----------
        split : str
            ``forget``, ``retain`` or ``test``.

        Returns
        -------
        ndarray of bool, shape (rows,)
        """
        return (self.data[self.split_col] == split).to_numpy()

    @cached_property
    def _X(self) -> np.ndarray:
        text = non_numeric(self.data, self.features)
        if text:
            raise BadInput("data.features", f"column(s) {text} are not numeric, and this step (shadow "
                           "models, a method audit, a torch recipe) needs a numeric matrix")
        return self.data[self.features].to_numpy(dtype=np.float32)

    def X(self, split: str) -> np.ndarray:
        """Float32 feature matrix of a split, columns in :attr:`features` order.

        A non-numeric feature column raises :class:`BadInput` naming ``data.features``.

        Parameters
        ----------
        split : str
            ``forget``, ``retain`` or ``test``.

        Returns
        -------
        ndarray of float32, shape (rows, features)
        """
        return self._X[self.mask(split)]

    @cached_property
    def has_text_features(self) -> bool:
        """Whether some feature column is not numeric (strings, categoricals)."""
        return bool(non_numeric(self.data, self.features))

    def inputs_of(self, rows: np.ndarray) -> np.ndarray | pd.DataFrame:
        """Model input of some rows: the float32 matrix, or a DataFrame when a feature is text.

        Parameters
        ----------
        rows : ndarray of int
            Row positions in the case's table.

        Returns
        -------
        ndarray or DataFrame
            ``[len(rows), features]`` float32, or the feature columns of those rows (index reset).
        """
        if self.has_text_features:
            return self.data[self.features].iloc[rows].reset_index(drop=True)
        return self._X[rows]

    def inputs(self, split: str) -> np.ndarray | pd.DataFrame:
        """What models are fed for a split (each model picks its own columns by name).

        Parameters
        ----------
        split : str
            ``forget``, ``retain`` or ``test``.

        Returns
        -------
        ndarray or DataFrame
            :meth:`inputs_of` the split's rows.
        """
        return self.inputs_of(np.flatnonzero(self.mask(split)))

    def encoded_X(self, split: str) -> np.ndarray:
        """Numeric encoding of a split's features (text columns one-hot), for similarity models.

        The one-hot columns come from the whole table, so every split has the same columns;
        with no text feature this is :meth:`X`.

        Parameters
        ----------
        split : str
            ``forget``, ``retain`` or ``test``.

        Returns
        -------
        ndarray of float32, shape (rows, encoded columns)
        """
        if not self.has_text_features:
            return self.X(split)
        text = non_numeric(self.data, self.features)
        enc = pd.get_dummies(self.data[self.features], columns=text, dtype=np.float32)
        return enc.to_numpy(dtype=np.float32)[self.mask(split)]

    def y(self, split: str) -> np.ndarray:
        """Integer class indices of a split (float targets for regression).

        Labels given as the models' ``classes_`` values are their positions in ``classes_``.

        Parameters
        ----------
        split : str
            ``forget``, ``retain`` or ``test``.

        Returns
        -------
        ndarray, shape (rows,)
            int64 class indices, or float64 targets for a regression case.
        """
        return self._y[self.mask(split)]

    def frame(self, split: str) -> pd.DataFrame:
        """The split's rows (all columns), index reset.

        Parameters
        ----------
        split : str
            ``forget``, ``retain`` or ``test``.

        Returns
        -------
        DataFrame
        """
        return self.data.loc[self.mask(split)].reset_index(drop=True)

    @property
    def n(self) -> dict[str, int]:
        return {s: int(self.mask(s).sum()) for s in ("forget", "retain", "test")}
