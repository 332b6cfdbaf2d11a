"""Slice discovery: where does U diverge from R? Searched on one half, confirmed on the other.

The signal is a per-row number saying how much worse U is than the references on that row
(default: loss difference ``loss_U − mean loss_R``; or the disagreement rate of U's
prediction with the references' predictions). The test rows are split at random into a
*search* half and a *confirm* half:

1. search: every slice of the lattice (group columns and binned features, depth ≤ 2) with
   enough rows is scored by a one-sided Welch t statistic of the signal inside vs outside
   the slice; as in SliceFinder (Chung et al. 2019) a depth-2 slice is only considered when
   neither of its depth-1 parents is already significant, so simple slices are preferred to
   their overfit refinements; the ``max_candidates`` best with a positive effect are kept;
2. confirm: on the other half, each candidate's one-sided Welch p-value is computed afresh;
   p-values are Holm-adjusted across the candidates. Only slices with adjusted p < α (and,
   optionally, a mean per-row harm of at least ``min_harm`` on the confirmation rows) become
   findings, so the search cannot inflate the error rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import stdtr

from audit.checks.subgroups.slices import Slice, slice_moments, string_codes
from audit.core.stats import holm

__all__ = ["Discovered", "discover_slices", "split_halves"]


@dataclass
class Discovered:
    """A candidate slice with its search and confirmation statistics.

    Parameters
    ----------
    slice : dict
        The slice.
    n_search, n_confirm : int
        Rows in each half.
    effect_search, effect_confirm : float
        Mean signal in each half.
    p_search, p_confirm : float
        One-sided p-values.
    p_adjusted : float, optional
        Holm over the candidates.
    confirmed : bool
        Confirmed on the held-out half.
    mask, harm
        Its test rows and mean harm (see the attributes).
    """

    slice: Slice
    n_search: int
    n_confirm: int
    effect_search: float
    effect_confirm: float
    p_search: float
    p_confirm: float
    p_adjusted: float | None = None
    confirmed: bool = False
    mask: np.ndarray | None = None
    harm: float | None = None


def split_halves(n: int, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of the search half (the rest confirms), a random half of ``n`` rows.

    Parameters
    ----------
    n : int
        Rows.
    rng : numpy.random.Generator
        Source of the split.

    Returns
    -------
    ndarray of bool

    Examples
    --------
    >>> int(split_halves(10, np.random.default_rng(0)).sum())
    5
    """
    half = np.zeros(n, dtype=bool)
    half[rng.permutation(n)[: n // 2]] = True
    return half


def _totals(signal: np.ndarray) -> tuple[np.ndarray, float, float]:
    """The signal centred on its mean, with its sum and sum of squares (for :func:`_welch`)."""
    c = signal - signal.mean() if len(signal) else signal
    return c, float(c.sum()), float(c @ c)


def _welch_moments(na: int, sa: float, qa: float, n: int, s: float, q: float) -> tuple[float, float, float]:
    """One-sided Welch test from moments: the inside's rows, sum and sum of squares, and the
    totals (all of the centred signal); ``(difference, t, p)``."""
    nb = n - na
    if na < 2 or nb < 2:
        return 0.0, 0.0, 1.0
    sb, qb = s - sa, q - qa
    va = max(qa - sa * sa / na, 0.0) / (na - 1) / na
    vb = max(qb - sb * sb / nb, 0.0) / (nb - 1) / nb
    diff = sa / na - sb / nb
    se2 = va + vb
    if not se2 > 0:
        return diff, 0.0, 1.0
    t = diff / np.sqrt(se2)
    df = se2**2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
    return diff, float(t), float(stdtr(df, -t))


def _welch(signal: np.ndarray, inside: np.ndarray,
           totals: tuple[np.ndarray, float, float] | None = None) -> tuple[float, float, float]:
    """One-sided Welch test (inside mean > outside mean): ``(difference, t, p)``.

    Same as ``scipy.stats.ttest_ind(a, b, equal_var=False, alternative="greater")``,
    written out to avoid its per-call overhead inside the lattice search: the moments of
    the centred signal inside the slice, the outside's as the totals (``totals``, from
    :func:`_totals`) minus the inside's; the p-value is ``scipy.special.stdtr`` (what
    ``scipy.stats.t.sf`` evaluates).
    """
    c, s, q = totals if totals is not None else _totals(np.asarray(signal, dtype=np.float64))
    a = c[inside]
    return _welch_moments(len(a), float(a.sum()), float(a @ a), len(c), s, q)


def discover_slices(
    frame: pd.DataFrame,
    columns: list[str],
    signal: np.ndarray,
    rng: np.random.Generator,
    alpha: float = 0.05,
    min_slice_size: int = 30,
    max_candidates: int = 5,
    max_depth: int = 2,
    harm: np.ndarray | None = None,
    min_harm: float = 0.0,
    clip_quantile: float = 0.02,
) -> list[Discovered]:
    """Search slices of ``frame`` (columns already discrete) where ``signal`` is high.

    Returns the candidates (best first), each marked ``confirmed`` or not. A candidate is
    confirmed when its Holm-adjusted confirmation p-value is below ``alpha`` and, if ``harm``
    is given (per-row, larger = worse, e.g. ``correct_R − correct_U``), the mean harm of its
    confirmation rows is at least ``min_harm`` — a practically relevant effect, not only a
    statistically detectable one (two retrains differ a little everywhere). The signal is
    winsorised at the ``clip_quantile`` / ``1 − clip_quantile`` quantiles of the search half
    (bounds from the search half only, applied to both halves).

    Parameters
    ----------
    frame : DataFrame
        Discrete columns.
    columns : list of str
        Columns searched.
    signal : ndarray
        Per-row signal (larger = worse under U).
    rng : numpy.random.Generator
        Source of the halves.
    alpha, min_slice_size, max_candidates, max_depth
        Search settings.
    harm : ndarray, optional
        Per-row harm (larger = worse).
    min_harm : float
        Least mean harm of a confirmed slice's confirmation rows.
    clip_quantile : float
        Winsorising quantile of the signal (search half).

    Returns
    -------
    list of Discovered

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"g": rng.choice(["a", "b", "c"], 2000)})
    >>> sig = rng.normal(size=2000) + (df["g"] == "b").to_numpy() * 0.5
    >>> [(d.slice, d.confirmed) for d in discover_slices(df, ["g"], sig, rng)][0]
    ({'g': 'b'}, True)
    """
    signal = np.asarray(signal, dtype=np.float64)
    search = split_halves(len(signal), rng)
    confirm = ~search
    fs, fc = frame[search], frame[confirm]
    sig_s, sig_c = signal[search], signal[confirm]
    if clip_quantile > 0:  # heavy tails (a few huge losses) make t-tests overfit the search half
        lo, hi = np.quantile(sig_s, [clip_quantile, 1.0 - clip_quantile])
        sig_s, sig_c = np.clip(sig_s, lo, hi), np.clip(sig_c, lo, hi)
    scored = []
    tot_s, tot_c = _totals(sig_s), _totals(sig_c)
    flagged: set[tuple[str, str]] = set()  # depth-1 slices already significant on the search half
    c_s, s_s, q_s = tot_s
    for sl, n_in, s_in, q_in in slice_moments(fs, columns, c_s, max_depth=max_depth,
                                              min_size=max(2, min_slice_size // 2)):
        if n_in == len(c_s) or (len(sl) > 1 and any(cond in flagged for cond in sl.items())):
            continue  # lattice search: only refine slices whose parents are not problematic yet
        eff, t, p = _welch_moments(n_in, s_in, q_in, len(c_s), s_s, q_s)
        if eff > 0:
            scored.append((t, sl, n_in, eff, p))
            if len(sl) == 1 and p < alpha:
                flagged.add(next(iter(sl.items())))
    scored.sort(key=lambda x: (-x[0], len(x[1])))
    out: list[Discovered] = []
    for _, sl, n_s, eff_s, p_s in scored[:max_candidates]:
        mc = np.ones(len(fc), dtype=bool)
        for col, val in sl.items():
            codes, values = string_codes(fc[col])
            mc &= codes == values.index(val) if val in values else False
        eff_c, _, p_c = _welch(sig_c, mc, tot_c)
        full = np.zeros(len(signal), dtype=bool)
        full[np.flatnonzero(confirm)[mc]] = True
        d = Discovered(sl, n_s, int(mc.sum()), eff_s, eff_c, p_s, p_c, mask=full)
        d.harm = float(np.mean(harm[full])) if (harm is not None and full.any()) else None
        out.append(d)
    if out:
        adj = holm(np.array([d.p_confirm for d in out]))
        for d, pa in zip(out, adj, strict=True):
            d.p_adjusted = float(pa)
            big_enough = d.harm is None or d.harm >= min_harm
            d.confirmed = bool(pa < alpha and d.n_confirm >= min_slice_size // 2 and d.effect_confirm > 0
                               and big_enough)
    return out
