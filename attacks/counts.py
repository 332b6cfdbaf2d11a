"""Bootstrap resamples drawn as row counts, from about one random byte per row.

A bootstrap resample of ``m`` rows is a vector of counts ``c ~ Multinomial(m, 1/m, ...)``.
Drawing it as ``m`` uniform row indices costs a bounded-integer draw per row (17+ random
bits, ~4 ns here) and a scatter. This module draws the same distribution from the
classical identity *independent Poisson counts, conditioned on their sum, are
multinomial*:

1. every row gets ``C_i ~ Poisson(lam)`` with ``lam = 1 - 6 / sqrt(m)``, so that the sum
   ``S`` is below ``m`` except with probability ~1e-9;
2. given ``S = s`` the counts are ``Multinomial(s)``; adding ``m - s`` uniform row draws
   makes them ``Multinomial(m)`` — exactly, whatever ``s`` was;
3. a resample whose ``S`` exceeds ``m`` is redrawn from ``m`` uniform row indices (the
   same law again, so the mixture is still exact).

A Poisson count comes from one random byte: ~99 % of the byte values stand for a count
exactly (four vectorised comparisons), the ~1 % left over draw the remaining mass with a
float64 uniform (:func:`poisson_table`). The law is therefore the multinomial up to the
float64 rounding of the Poisson probabilities (~1e-16 each), as for any inverse-CDF sampler.
Same generator state, same counts.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["multinomial_counts", "poisson_table", "POISSON_FROM"]

POISSON_FROM = 1024  # below this many rows per cell the counts come from uniform row indices
_Z = 6.0  # lam = 1 - _Z / sqrt(m): P(S > m) ~ Phi(-6) ~ 1e-9


def poisson_table(lam: float) -> tuple[np.ndarray, int, np.ndarray]:
    """``(thresholds, first_residual, residual_cdf)`` of Poisson(``lam``) for one byte per count.

    The byte values are dealt out to counts in order: count ``k`` gets
    ``floor(256 * P(C = k))`` consecutive values, so a byte below ``first_residual`` is
    its count exactly (``sum(u >= thresholds)``). The few values left over (the
    *residual*, ~1 %) stand for the rest of the mass: a residual byte's count is drawn
    from ``P(C = k) - floor(256 P(C = k)) / 256`` (normalised; ``residual_cdf``) with a
    float64 uniform. The mixture is the Poisson law exactly.

    Parameters
    ----------
    lam : float
        The Poisson rate.

    Returns
    -------
    thresholds : ndarray of int
        Byte values at which the exact count steps up.
    first_residual : int
        The first byte value of the residual.
    residual_cdf : ndarray of float64
        Cumulative law of a residual byte's count.

    Examples
    --------
    >>> thr, first, cdf = poisson_table(1.0)
    >>> thr.tolist(), first, round(float(cdf[-1]), 12)
    ([94, 188, 235, 250], 253, 1.0)
    """
    pmf = [math.exp(-lam)]
    while len(pmf) < 40 and pmf[-1] > 1e-300:
        pmf.append(pmf[-1] * lam / len(pmf))
    p = np.asarray(pmf)
    whole = np.floor(p * 256.0)
    edges = np.cumsum(whole).astype(np.int64)  # count k owns bytes [edges[k-1], edges[k])
    thresholds = edges[:-1][(edges[:-1] < edges[-1]) & (whole[1:] > 0)].astype(np.uint8)
    rest = p - whole / 256.0
    cdf = np.cumsum(rest) / rest.sum()
    cdf[-1] = 1.0
    return thresholds, int(edges[-1]), cdf


def _poisson_bytes(shape: tuple[int, int], lam: float, rng: np.random.Generator) -> np.ndarray:
    """Poisson(``lam``) counts (uint8) of ``shape``, from one random byte per count."""
    thresholds, first, cdf = poisson_table(lam)
    u = np.frombuffer(rng.bytes(shape[0] * shape[1]), dtype=np.uint8).reshape(shape)
    c = (u >= thresholds[0]).view(np.uint8)
    for t in thresholds[1:]:
        c += u >= t
    at = np.flatnonzero(u >= first)
    if len(at):  # the float64 tail tops out near count 30 for lam <= 1: a uint8 holds it
        c.ravel()[at] = np.searchsorted(cdf, rng.random(len(at)), side="right").astype(np.uint8)
    return c


def multinomial_counts(m: int, b: int, rng: np.random.Generator, rows_first: bool = False,
                       dtype: type = np.uint16) -> np.ndarray:
    """Row counts of ``b`` bootstrap resamples of ``m`` rows: ``[b, m]`` (``[m, b]`` if ``rows_first``).

    Each resample's counts are ``Multinomial(m; 1/m, ..., 1/m)`` — the law of resampling
    ``m`` rows with replacement — drawn as conditioned Poisson counts (module docstring)
    from ``m >= POISSON_FROM`` rows on, from ``m`` uniform row indices below. The dtype is
    ``dtype``; every resample sums to ``m``.

    Parameters
    ----------
    m : int
        Rows per resample (the cell's size).
    b : int
        Number of resamples.
    rng : numpy.random.Generator
        The only source of randomness.
    rows_first : bool
        Return ``[m, b]`` (a row's counts across resamples contiguous) instead of ``[b, m]``.
    dtype : numpy dtype
        Of the counts: ``uint16`` (widened to ``uint32`` from ~1e8 rows on) or a float
        type for a matrix product (saves a conversion).

    Returns
    -------
    ndarray

    Examples
    --------
    >>> w = multinomial_counts(5000, 3, np.random.default_rng(0))
    >>> w.shape, w.sum(axis=1).tolist()
    ((3, 5000), [5000, 5000, 5000])
    """
    if m <= 0 or b <= 0:
        return np.zeros((m, b) if rows_first else (b, m), dtype=dtype)
    axis = 0 if rows_first else 1
    if m < POISSON_FROM:
        return _index_counts(m, b, rng, rows_first).astype(dtype, copy=False)
    lam = 1.0 - _Z / math.sqrt(m)
    c8 = _poisson_bytes((m, b) if rows_first else (b, m), lam, rng)
    # extra uniform draws each resample needs; the sum of uint8 counts (<= 30 each) fits a
    # uint32 below ~1e8 rows and adds up fastest there
    total = c8.sum(axis=axis, dtype=np.uint32 if m < 10**8 else np.int64)
    short = m - total.astype(np.int64)
    c = c8.astype(dtype)
    over = np.flatnonzero(short < 0)
    if len(over):  # S > m (~1e-9 per resample): redraw those resamples from row indices
        redo = _index_counts(m, len(over), rng, rows_first)
        if rows_first:
            c[:, over] = redo
        else:
            c[over] = redo
        short[over] = 0
    if np.dtype(dtype) == np.uint16 and int(short.max(initial=0)) + 64 > np.iinfo(np.uint16).max:  # ~1e8 rows
        c = c.astype(np.uint32)
    extra = rng.integers(0, m, size=int(short.sum()), dtype=np.int64)
    which = np.repeat(np.arange(b, dtype=np.int64), short)
    flat = extra * b + which if rows_first else which * m + extra
    np.add.at(c.reshape(-1), flat, c.dtype.type(1))  # a count is at most ~18 + short: it fits
    return c


def _index_counts(m: int, b: int, rng: np.random.Generator, rows_first: bool) -> np.ndarray:
    """Counts from ``m`` uniform row indices per resample (one ``bincount``)."""
    draws = rng.integers(0, m, size=(b, m), dtype=np.int64) + (np.arange(b, dtype=np.int64) * m)[:, None]
    c = np.bincount(draws.ravel(), minlength=b * m).reshape(b, m).astype(np.uint16)
    return np.ascontiguousarray(c.T) if rows_first else c
