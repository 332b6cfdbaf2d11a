"""Ragged per-sequence arrays: variable-length rows (one per text) as one flat float32 array.

Every per-token output of a language-model case — log-probabilities, Min-K%++ moments, token
divergences, conditional log-probabilities — has one row per text, of that text's length;
:class:`Ragged` holds them without padding, as the values of all rows concatenated and the
offsets where each row starts (:class:`audit.lm.cache.TokenCache` returns them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Ragged"]


@dataclass(frozen=True)
class Ragged:
    """Variable-length rows as one flat float32 array and row offsets.

    Attributes
    ----------
    values : ndarray
        The rows' values, concatenated (float32 when built by :meth:`from_rows`).
    offsets : ndarray
        ``len(rows) + 1`` int64 offsets: row ``i`` is ``values[offsets[i]:offsets[i + 1]]``.

    Examples
    --------
    >>> r = Ragged.from_rows([np.array([1.0, 2.0]), np.array([3.0])])
    >>> len(r), r.row(1).tolist(), r.lengths.tolist(), r.means().tolist()
    (2, [3.0], [2, 1], [1.5, 3.0])
    """

    values: np.ndarray
    offsets: np.ndarray

    @classmethod
    def from_rows(cls, rows: Sequence[np.ndarray]) -> Ragged:
        """Concatenate ``rows`` (cast to float32) and record their offsets; no rows = empty."""
        lengths = np.array([len(r) for r in rows], dtype=np.int64)
        offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64)
        values = np.concatenate(rows).astype(np.float32) if len(rows) else np.zeros(0, np.float32)
        return cls(values, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def row(self, i: int) -> np.ndarray:
        """Row ``i`` (a view into :attr:`values`).

        Parameters
        ----------
        i : int
            Row index, ``0 <= i < len(self)``.

        Returns
        -------
        ndarray
            ``values[offsets[i]:offsets[i + 1]]``.
        """
        return self.values[self.offsets[i]:self.offsets[i + 1]]

    @property
    def lengths(self) -> np.ndarray:
        """Values per row (``np.diff(offsets)``)."""
        return np.diff(self.offsets)

    def sums(self) -> np.ndarray:
        """Per-row sums (float64; 0 for an empty row).

        Returns
        -------
        ndarray
            One float64 sum per row, from a float64 cumulative sum of :attr:`values`.
        """
        cum = np.r_[0.0, np.cumsum(self.values, dtype=np.float64)]
        return cum[self.offsets[1:]] - cum[self.offsets[:-1]]

    def means(self) -> np.ndarray:
        """Per-row means (float64; NaN for an empty row).

        Returns
        -------
        ndarray
            One float64 mean per row: :meth:`sums` over :attr:`lengths`.
        """
        n = self.lengths
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, self.sums() / np.maximum(n, 1), np.nan)
