"""Per-sequence membership scores of a causal language model (higher = more member-like).

Each score reads a sequence's per-token log-probabilities ``log p(x_t | x_<t)`` (flat values
with row offsets):

* ``loss`` — the mean token log-probability, i.e. minus the mean negative log-likelihood
  (the LOSS attack, Yeom et al. 2018, as used for LMs by Carlini et al. 2021);
* ``zlib`` — minus the mean NLL divided by the zlib-compressed length of the text in bytes
  (Carlini et al. 2021, "Extracting training data from large language models": the model's
  log-perplexity against a reference-free measure of how compressible the text is);
* ``min_k`` — the mean of the lowest ``k`` share of the token log-probabilities (Min-K% Prob,
  Shi et al. 2024): a member has few very unlikely tokens;
* ``min_k_plus_plus`` — per token ``(log p(x_t) - mu_t) / sigma_t`` with ``mu_t`` and
  ``sigma_t`` the mean and standard deviation of ``log p`` under the model's own next-token
  distribution, then the mean of the lowest ``k`` share (Min-K%++, Zhang et al. 2024); sigma
  is floored at 1e-3 (a near-deterministic position), as in OpenUnlearning.

The lowest ``k`` share of ``n`` tokens is ``max(1, floor(k n))`` tokens.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

__all__ = ["SEQUENCE_ATTACKS", "sequence_scores", "lowest_share_mean", "zlib_length"]

SEQUENCE_ATTACKS = ("loss", "zlib", "min_k", "min_k_plus_plus")
_SIGMA_FLOOR = 1e-3


def zlib_length(text: str) -> int:
    """Bytes of the zlib-compressed UTF-8 text.

    >>> zlib_length("aaaa" * 50) < zlib_length("the quick brown fox jumps over the lazy dog")
    True
    """
    return len(zlib.compress(text.encode("utf-8")))


def lowest_share_mean(values: np.ndarray, offsets: np.ndarray, k: float) -> np.ndarray:
    """Per row, the mean of its ``max(1, floor(k n))`` smallest values (NaN for an empty row).

    >>> lowest_share_mean(np.array([-1.0, -5.0, -2.0, -3.0, -0.5]), np.array([0, 4, 5]), 0.5).tolist()
    [-4.0, -0.5]
    """
    out = np.full(len(offsets) - 1, np.nan)
    for i in range(len(out)):
        row = np.asarray(values[offsets[i]:offsets[i + 1]], dtype=np.float64)
        if row.size:
            m = max(1, int(np.floor(k * row.size)))
            out[i] = np.partition(row, m - 1)[:m].mean()
    return out


def sequence_scores(logp: np.ndarray, offsets: np.ndarray, texts: Sequence[str], attacks: Sequence[str],
                    k: float = 0.2, mu: np.ndarray | None = None,
                    sigma: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Membership scores per sequence for each named attack (see the module docstring).

    Parameters
    ----------
    logp : ndarray
        Flat per-token log-probabilities of all sequences.
    offsets : ndarray
        Row offsets into ``logp`` (length = sequences + 1).
    texts : sequence of str
        The sequences' texts (for ``zlib``).
    attacks : sequence of str
        Names among :data:`SEQUENCE_ATTACKS`.
    k : float
        The share of lowest tokens for ``min_k`` and ``min_k_plus_plus``.
    mu, sigma : ndarray, optional
        Flat per-token mean and standard deviation of ``log p`` under the model (Min-K%++).

    Returns
    -------
    dict
        ``{attack: [sequences]}``, higher = more member-like.

    Examples
    --------
    >>> lp, off = np.log(np.array([0.9, 0.8, 0.1, 0.2])), np.array([0, 2, 4])
    >>> s = sequence_scores(lp, off, ["a b c", "a b d"], ["loss", "min_k"], k=0.5)
    >>> bool(s["loss"][0] > s["loss"][1]), s["min_k"].round(3).tolist()
    (True, [-0.223, -2.303])
    """
    lp = np.asarray(logp, dtype=np.float64)
    n = np.diff(offsets)
    cum = np.r_[0.0, np.cumsum(lp)]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_lp = np.where(n > 0, (cum[offsets[1:]] - cum[offsets[:-1]]) / np.maximum(n, 1), np.nan)
    out: dict[str, np.ndarray] = {}
    for attack in attacks:
        if attack == "loss":
            out[attack] = mean_lp
        elif attack == "zlib":
            out[attack] = mean_lp / np.array([zlib_length(t) for t in texts], dtype=np.float64)
        elif attack == "min_k":
            out[attack] = lowest_share_mean(lp, offsets, k)
        elif attack == "min_k_plus_plus":
            if mu is None or sigma is None:
                raise ValueError("min_k_plus_plus needs the per-token mu and sigma")
            z = (lp - np.asarray(mu, np.float64)) / np.maximum(np.asarray(sigma, np.float64), _SIGMA_FLOOR)
            out[attack] = lowest_share_mean(z, offsets, k)
        else:
            raise ValueError(f"unknown sequence attack {attack!r}; known: {SEQUENCE_ATTACKS}")
    return out
