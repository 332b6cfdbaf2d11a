"""The field's point scores, computed for comparison with the audit's verdicts (not gated).

* **forget quality** (TOFU, Maini et al. 2024): the p-value of a two-sample
  Kolmogorov-Smirnov test (``scipy.stats.ks_2samp``) between the truth ratios of the
  unlearned model and of a retrained model on the forget questions; TOFU calls a method
  forgotten when it is large (commonly above 0.05);
* **privleak** (MUSE, Shi et al. 2024): ``(AUC_U - AUC_R) / AUC_R x 100`` where AUC is that
  of a Min-K% Prob attack (Shi et al. 2024, k = 40 %) separating the forget texts from
  held-out texts, with MUSE's orientation — the score is the negative Min-K% log-probability,
  so a model that still fits the forget texts has AUC near 0 and privleak near -100, a
  retrain about 0, and an over-unlearned model a positive value.

Neither has a confidence interval or a retrain-to-retrain noise floor; the README shows
them next to the audit's verdicts on the same models.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from attacks.metrics import auc
from attacks.sequence import lowest_share_mean

__all__ = ["forget_quality", "min_k_logprob", "muse_auc", "privleak"]

MUSE_K = 0.4  # MUSE's Min-K% share


def forget_quality(truth_ratio_unlearned: np.ndarray, truth_ratio_retrained: np.ndarray) -> float:
    """TOFU's forget quality: the KS-test p-value between two samples of truth ratios.

    Parameters
    ----------
    truth_ratio_unlearned : array, shape (n,)
        The unlearned model's per-question truth ratios on the forget split.
    truth_ratio_retrained : array, shape (m,)
        A retrained model's truth ratios on the same questions.

    Returns
    -------
    float
        The two-sided ``scipy.stats.ks_2samp`` p-value (large = the two distributions are
        alike); NaN when a sample is empty (scipy warns) or holds NaN.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.uniform(size=200), rng.uniform(size=200)
    >>> forget_quality(a, b) > 0.05, forget_quality(a, b / 10) < 1e-6
    (True, True)
    """
    from scipy.stats import ks_2samp

    return float(ks_2samp(np.asarray(truth_ratio_unlearned), np.asarray(truth_ratio_retrained)).pvalue)


def min_k_logprob(ragged: Any, k: float = MUSE_K) -> np.ndarray:
    """Per text, the mean of its lowest ``k`` share of token log-probabilities (Min-K% Prob).

    The lowest share is :func:`attacks.sequence.lowest_share_mean` (the membership check's
    Min-K%): the ``max(1, floor(k n))`` smallest of a text's ``n`` values.

    Parameters
    ----------
    ragged : Ragged
        An :class:`audit.lm.ragged.Ragged` of token log-probabilities, one row per text
        (e.g. ``TokenCache.token_logprobs(role, split)``).
    k : float
        Share of each text's tokens averaged (default :data:`MUSE_K`, 0.4).

    Returns
    -------
    numpy.ndarray
        One float per text; NaN for a text with no token.

    Examples
    --------
    >>> from audit.lm.ragged import Ragged
    >>> min_k_logprob(Ragged.from_rows([np.array([-1.0, -3.0, -0.5, -2.0, -0.1])])).tolist()
    [-2.5]
    """
    return lowest_share_mean(np.asarray(ragged.values), np.asarray(ragged.offsets), k)


def muse_auc(forget_scores: np.ndarray, holdout_scores: np.ndarray) -> float:
    """AUC of the score ``-MinK`` with the forget texts as the positive class (MUSE's orientation).

    Parameters
    ----------
    forget_scores : array, shape (n,)
        :func:`min_k_logprob` of the forget texts.
    holdout_scores : array, shape (m,)
        :func:`min_k_logprob` of held-out (never trained on) texts.

    Returns
    -------
    float
        ``sklearn.metrics.roc_auc_score`` of ``-score`` with forget = 1: near 0 when the
        model fits the forget texts better than the held-out ones, about 0.5 when it cannot
        tell them apart; NaN, with sklearn's warning, when one of the two is empty.

    Raises
    ------
    ValueError
        When a score is NaN (e.g. a text with no token).

    Examples
    --------
    >>> muse_auc(np.array([-0.1, -0.2]), np.array([-3.0, -2.0]))   # members fit better: AUC 0
    0.0
    """
    y = np.r_[np.ones(len(forget_scores)), np.zeros(len(holdout_scores))]
    return auc(-np.r_[forget_scores, holdout_scores], y)


def privleak(auc_unlearned: float, auc_retrained: float) -> float:
    """MUSE's privleak in percent: the relative AUC gap to the retrained model.

    Parameters
    ----------
    auc_unlearned : float
        :func:`muse_auc` of the unlearned model.
    auc_retrained : float
        :func:`muse_auc` of a retrained model, on the same texts.

    Returns
    -------
    float
        ``(auc_unlearned - auc_retrained) / auc_retrained * 100``: about 0 for a retrain,
        near -100 for a model that still fits the forget texts, positive when over-unlearned.

    Raises
    ------
    ZeroDivisionError
        When ``auc_retrained`` is 0.

    Examples
    --------
    >>> privleak(0.0, 0.5), privleak(0.5, 0.5), round(privleak(0.6, 0.5), 6)
    (-100.0, 0.0, 20.0)
    """
    return (float(auc_unlearned) - float(auc_retrained)) / float(auc_retrained) * 100.0
