"""Bootstrap resamples drawn as row counts, from about one random byte per row, in parallel blocks.

A bootstrap resample of ``m`` rows is a vector of counts ``c ~ Multinomial(m, 1/m, ...)``.
Drawing it as ``m`` uniform row indices costs a bounded-integer draw per row (17+ random
bits, ~4 ns here) and a scatter. This module draws the same distribution from the
classical identity *independent Poisson counts, conditioned on their sum, are
multinomial*:

1. every row gets ``C_i ~ Poisson(lam)`` with ``lam = 1 - 3 / sqrt(m)``, so that the sum
   ``S`` is below ``m`` except with probability ~1.3e-3;
2. given ``S = s`` the counts are ``Multinomial(s)``; adding ``m - s`` uniform row draws
   makes them ``Multinomial(m)`` — exactly, whatever ``s`` was;
3. a resample whose ``S`` exceeds ``m`` is redrawn from ``m`` uniform row indices (the
   same law again, so the mixture is still exact). ``3`` balances the two: ~``3 sqrt(m)``
   extra draws per resample against a redraw of ``m`` indices once in ~740 resamples.

A Poisson count comes from one random byte: ~99 % of the byte values stand for a count
exactly (four vectorised comparisons), the ~1 % left over draw the remaining mass with a
float64 uniform (:func:`poisson_table`). The law is therefore the multinomial up to the
float64 rounding of the Poisson probabilities (~1e-16 each), as for any inverse-CDF sampler.

Many resamples are drawn in blocks with their own seeds on a thread pool (:mod:`attacks.blocks`,
``docs/decisions/0019-parallel-bootstrap-blocks.md``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np

from attacks.blocks import Scratch

__all__ = ["POISSON_FROM", "cell_counts", "multinomial_counts", "poisson_block", "poisson_cells", "poisson_table",
           "stratified_counts", "poisson_counts"]

POISSON_FROM = 1024  # below this many rows per cell the counts come from uniform row indices
_Z = 3.0  # lam = 1 - _Z / sqrt(m): P(S > m) ~ Phi(-3) ~ 1.3e-3


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


@functools.lru_cache(maxsize=32)
def _table(m: int, z: float) -> tuple[np.ndarray, int, np.ndarray]:
    return poisson_table(1.0 - z / math.sqrt(m))


@functools.lru_cache(maxsize=8)
def _column_thresholds(sizes: tuple[int, ...], z: float) -> tuple[list, np.ndarray | int]:
    """Byte thresholds (and residual starts) of cells drawn together: scalars when every
    cell's table agrees, else one uint8 per column (a cell with fewer thresholds padded
    with its residual start: those bytes are redrawn anyway)."""
    tables = [_table(k, z) for k in sizes]
    t0, f0 = tables[0][0], tables[0][1]
    if all(len(t) == len(t0) and (t == t0).all() and f == f0 for t, f, _ in tables):
        return list(t0), f0
    K = max(len(t) for t, _, _ in tables)
    thr = [np.repeat(np.array([t[k] if k < len(t) else f for t, f, _ in tables], dtype=np.uint8), sizes)
           for k in range(K)]
    return thr, np.repeat(np.array([f for _, f, _ in tables], dtype=np.uint8), sizes)


def poisson_block(m: int, b: int, rng: np.random.Generator, out: np.ndarray | None = None,
                  scratch: Scratch | None = None) -> np.ndarray:
    """Row counts ``[b, m]`` (uint8) of ``b`` bootstrap resamples of ``m >= POISSON_FROM`` rows.

    Conditioned Poisson counts (module docstring): one random byte per count, mapped by
    :func:`poisson_table`; the residual bytes' counts from float64 uniforms; each
    resample's shortfall ``m - S`` added as uniform row draws. One cell of
    :func:`poisson_cells`.

    Parameters
    ----------
    m : int
        Rows per resample.
    b : int
        Number of resamples.
    rng : numpy.random.Generator
        The only source of randomness.
    out : ndarray of uint8, shape (b, m), optional
        Where to write the counts (C-contiguous).
    scratch : Scratch, optional
        Reusable work arrays of this thread.

    Returns
    -------
    ndarray of uint8, shape (b, m)
        Every row sums to ``m``.

    Examples
    --------
    >>> c = poisson_block(2000, 3, np.random.default_rng(0))
    >>> c.dtype.name, c.sum(axis=1).tolist()
    ('uint8', [2000, 2000, 2000])
    """
    return poisson_cells([m], b, rng, out, scratch)


def poisson_cells(sizes: Sequence[int], b: int, rng: np.random.Generator, out: np.ndarray | None = None,
                  scratch: Scratch | None = None) -> np.ndarray:
    """Counts ``[b, sum(sizes)]`` (uint8) of ``b`` resamples drawn within each cell (all ``>= POISSON_FROM`` rows).

    Cell ``s`` holds columns ``[sum(sizes[:s]), sum(sizes[:s + 1]))`` and each resample's
    counts in it are ``Multinomial(sizes[s])`` (a stratified resample). One random byte
    per count for every cell at once: per-column thresholds when the cells' Poisson
    tables differ, the residual and shortfall draws per (resample, cell). A count above
    255 would need a row drawn 256 times out of ``m`` (probability below ``m / 256!``):
    uint8 holds every count.

    Parameters
    ----------
    sizes : sequence of int
        Rows of each cell.
    b : int
        Number of resamples.
    rng : numpy.random.Generator
        The only source of randomness.
    out : ndarray of uint8, shape (b, sum(sizes)), optional
        Where to write the counts (C-contiguous).
    scratch : Scratch, optional
        Reusable work arrays of this thread.

    Returns
    -------
    ndarray of uint8, shape (b, sum(sizes))

    Examples
    --------
    >>> c = poisson_cells([1500, 2500], 2, np.random.default_rng(0))
    >>> c[:, :1500].sum(axis=1).tolist(), c[:, 1500:].sum(axis=1).tolist()
    ([1500, 1500], [2500, 2500])
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    if (sizes < POISSON_FROM).any():
        raise ValueError(f"Poisson counts need cells of at least {POISSON_FROM} rows")
    m, starts = int(sizes.sum()), np.cumsum(np.r_[0, sizes[:-1]])
    tables = [_table(int(k), _Z) for k in sizes]
    thr, first = _column_thresholds(tuple(sizes.tolist()), _Z)
    scratch = scratch if scratch is not None else Scratch()
    n = m * b
    u = rng.bit_generator.random_raw(-(-n // 8)).view(np.uint8)[:n].reshape(b, m)
    c = out if out is not None else np.empty((b, m), dtype=np.uint8)
    if not c.flags.c_contiguous:
        raise ValueError("poisson_cells writes into a C-contiguous array")
    hit = scratch.array("poisson_hit", (b, m), bool)
    np.greater_equal(u, thr[0], out=c.view(bool))
    for t in thr[1:]:
        np.greater_equal(u, t, out=hit)
        np.add(c, hit.view(np.uint8), out=c)
    np.greater_equal(u, first, out=hit)
    at = np.flatnonzero(hit)
    if len(at):
        c.reshape(-1)[at] = _residual_counts(tables, starts, at % m, rng)
    S = (c.sum(axis=1, dtype=np.uint32)[:, None] if len(tables) == 1
         else np.add.reduceat(c, starts, axis=1, dtype=np.uint32))
    short = sizes[None, :] - S.astype(np.int64)  # [b, cells]
    for i, s in zip(*np.nonzero(short < 0), strict=True):  # S > m (~1.3e-3 per cell): redraw from row indices
        c[i, starts[s]:starts[s] + sizes[s]] = _index_counts(int(sizes[s]), 1, rng)[0]
        short[i, s] = 0
    short = short.ravel()  # (resample, cell) pairs
    offsets = (np.arange(b, dtype=np.int64)[:, None] * m + starts[None, :]).ravel()
    if len(sizes) == 1:
        extra = rng.integers(0, m, size=int(short.sum()), dtype=np.int64)
    else:  # floor(u * m_s): uniform up to float64 rounding (bounded integers per draw: measured 4x slower)
        extra = (rng.random(int(short.sum())) * np.repeat(np.tile(sizes, b), short)).astype(np.int64)
    extra += np.repeat(offsets, short)
    np.add.at(c.reshape(-1), extra, np.uint8(1))
    return c


_EXACT_EDGES = 8  # residual counts: comparisons with the first edges, a search beyond (~1e-6 of them)


def _residual_counts(tables: list, starts: np.ndarray, cols: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Counts of the residual bytes at columns ``cols``: the inverse residual CDF of each one's cell.

    Comparisons with the first edges (a binary search mispredicts: measured 4x slower),
    ``searchsorted`` for the rare uniforms beyond them (the float64 tail tops out near
    count 30 for lam <= 1)."""
    x = rng.random(len(cols))
    cdfs = [t[2] for t in tables]
    if len(tables) == 1:
        cell, table = None, cdfs[0][None, :_EXACT_EDGES]
    else:
        cell = np.searchsorted(starts, cols, side="right") - 1
        table = np.stack([cdf[:_EXACT_EDGES] for cdf in cdfs])
    r = np.zeros(len(cols), dtype=np.uint8)
    for k in range(table.shape[1]):
        r += x >= (table[0, k] if cell is None else table[cell, k])
    far = np.flatnonzero(r == table.shape[1])
    for i in far:
        r[i] = np.searchsorted(cdfs[0 if cell is None else cell[i]], x[i], side="right")
    return r


def multinomial_counts(m: int, b: int, rng: np.random.Generator, rows_first: bool = False,
                       dtype: type = np.uint16) -> np.ndarray:
    """Row counts of ``b`` bootstrap resamples of ``m`` rows: ``[b, m]`` (``[m, b]`` if ``rows_first``).

    Each resample's counts are ``Multinomial(m; 1/m, ..., 1/m)`` — the law of resampling
    ``m`` rows with replacement — drawn as conditioned Poisson counts
    (:func:`poisson_block`) from ``m >= POISSON_FROM`` rows on, from ``m`` uniform row
    indices below. Drawn from ``rng`` directly, on this thread; many resamples go through
    :func:`attacks.blocks.map_blocks`.

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
        Of the counts (an integer or float type).

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
    if m < POISSON_FROM:
        c = _index_counts(m, b, rng)
    else:
        c = poisson_block(m, b, rng)
    return np.ascontiguousarray(c.T, dtype=dtype) if rows_first else c.astype(dtype, copy=False)


def _index_counts(m: int, b: int, rng: np.random.Generator) -> np.ndarray:
    """Counts ``[b, m]`` (uint16) from ``m`` uniform row indices per resample (one ``bincount``)."""
    draws = rng.integers(0, m, size=(b, m), dtype=np.int64) + (np.arange(b, dtype=np.int64) * m)[:, None]
    return np.bincount(draws.ravel(), minlength=b * m).reshape(b, m).astype(np.uint16)


def cell_counts(m: int, b: int, rng: np.random.Generator, out: np.ndarray,
                scratch: Scratch | None = None) -> np.ndarray:
    """Counts ``[b, m]`` (uint8, into ``out``) of one cell of a block: row indices below ``POISSON_FROM``, else Poisson.

    A count above 255 out of fewer than 1 024 rows has probability below ``m / 256!``.

    Parameters
    ----------
    m : int
        Rows of the cell.
    b : int
        Number of resamples.
    rng : numpy.random.Generator
        The block's generator.
    out : ndarray of uint8, shape (b, m)
        Where the counts go (C-contiguous).
    scratch : Scratch, optional
        Reusable work arrays of this thread.

    Returns
    -------
    ndarray of uint8
        ``out``.

    Examples
    --------
    >>> cell_counts(5, 2, np.random.default_rng(0), np.empty((2, 5), np.uint8)).sum(axis=1).tolist()
    [5, 5]
    """
    if m < POISSON_FROM:
        np.copyto(out, _index_counts(m, b, rng), casting="unsafe")
        return out
    return poisson_block(m, b, rng, out, scratch)


def stratified_counts(cells: Sequence[np.ndarray], b: int, rng: np.random.Generator, ws: Scratch,
                      name: str) -> np.ndarray:
    """Counts ``[b, rows]`` (uint8) of ``b`` resamples drawn within each cell, cells in order.

    The cells of ``POISSON_FROM`` rows or more must come first (callers order them so)
    and are drawn together (:func:`poisson_cells`); the smaller ones from row indices
    (:func:`cell_counts`). The array is ``ws``'s work array ``name``.

    Parameters
    ----------
    cells : sequence of ndarray
        The cells' rows (only their sizes are read), large cells first.
    b : int
        Number of resamples.
    rng : numpy.random.Generator
        Source of the counts.
    ws : Scratch
        Work arrays of this thread.
    name : str
        Name of the work array that holds the counts.

    Returns
    -------
    ndarray, shape (b, sum of cell sizes), uint8

    Examples
    --------
    >>> X = stratified_counts([np.arange(3), np.arange(2)], 4, np.random.default_rng(0), Scratch(), "X")
    >>> X[:, :3].sum(axis=1).tolist(), X[:, 3:].sum(axis=1).tolist()
    ([3, 3, 3, 3], [2, 2, 2, 2])
    """
    sizes = [len(c) for c in cells]
    X = ws.array(name, (b, sum(sizes)), np.uint8)
    big = [k for k in sizes if k >= POISSON_FROM]
    start = sum(big)
    if big:
        if start == X.shape[1]:
            return poisson_cells(big, b, rng, X, ws)
        X[:, :start] = poisson_cells(big, b, rng, ws.array("cells", (b, start), np.uint8), ws)
    for k in sizes[len(big):]:
        X[:, start:start + k] = cell_counts(k, b, rng, ws.array("cell", (b, k), np.uint8), ws)
        start += k
    return X


def poisson_counts(b: int, m: int, rng: np.random.Generator, lam: float = 1.0) -> np.ndarray:
    """Independent Poisson(``lam``) counts ``[b, m]`` (uint8), one random byte each (:func:`poisson_table`).

    The Poisson bootstrap's row counts (no conditioning on their sum), for the few rows
    a statistic reads out of many (the top non-members of a low-FPR threshold,
    :mod:`attacks.linearised`).

    Parameters
    ----------
    b : int
        Number of resamples.
    m : int
        Rows.
    rng : numpy.random.Generator
        The only source of randomness.
    lam : float
        The rate (at most about 30: a count must fit a byte).

    Returns
    -------
    ndarray of uint8, shape (b, m)

    Examples
    --------
    >>> c = poisson_counts(1000, 10_000, np.random.default_rng(9))
    >>> c.dtype.name, round(float(c.mean()), 3), round(float(c.var()), 3)
    ('uint8', 1.0, 1.0)
    """
    table = poisson_table(lam)
    thr, first = table[0], table[1]
    n = int(b) * int(m)
    u = rng.bit_generator.random_raw(-(-n // 8)).view(np.uint8)[:n].reshape(b, m)
    c = (u >= thr[0]).view(np.uint8).copy() if len(thr) else np.zeros((b, m), dtype=np.uint8)
    for t in thr[1:]:
        c += (u >= t).view(np.uint8)
    at = np.flatnonzero(u >= first)
    if len(at):
        c.reshape(-1)[at] = _residual_counts([table], np.zeros(1, dtype=np.int64), at % max(1, m), rng)
    return c
