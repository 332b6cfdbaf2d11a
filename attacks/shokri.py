"""Shokri-style shadow-model attack classifier (Shokri et al. 2017).

Shadow models trained on known subsets produce outputs on rows they did and did not
train on; an attack classifier learns "in" vs "out" from those outputs and is then
applied to the target model's outputs. As in the paper the attack sees the posterior
(sorted, so that one classifier serves every class) and the true label's confidence;
the paper's per-class attack models are replaced by one gradient-boosted classifier
that also receives the label's probability and the logit-scaled confidence.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

from attacks.population import logit_confidence

__all__ = ["attack_features", "ShadowClassifierAttack"]


def attack_features(logp: np.ndarray, y: np.ndarray, top: int = 3) -> np.ndarray:
    """``[n, top + 2]``: top sorted probabilities, p_y and the logit-scaled confidence.

    Parameters
    ----------
    logp : ndarray, shape (n, classes)
        Log-probabilities.
    y : ndarray of int, shape (n,)
        Labels.
    top : int
        Sorted probabilities kept (padded with zeros for fewer classes).

    Returns
    -------
    ndarray, shape (n, top + 2)
    """
    lp = np.asarray(logp, dtype=np.float64)
    p = np.exp(lp)
    k = min(top, p.shape[1])
    srt = -np.sort(-p, axis=1)[:, :k]
    py = p[np.arange(len(y)), np.asarray(y, dtype=np.int64)]
    return np.column_stack([srt, py, logit_confidence(lp, y)])


class ShadowClassifierAttack:
    """Train on shadow outputs ``[K, n, C]`` with membership ``[K, n]``; score any model.

    Parameters
    ----------
    seed : int
        Seed of the attack classifier.
    max_iter : int
        Its training iterations.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> from scipy.special import log_softmax
    >>> m = rng.integers(0, 2, (4, 200)).astype(bool); z = rng.normal(size=(4, 200, 3))
    >>> y = rng.integers(0, 3, 200); z[:, np.arange(200), y] += 2 + 2 * m
    >>> att = ShadowClassifierAttack().fit(log_softmax(z, -1), y, m)
    >>> att.score(log_softmax(z[0], -1), y).shape
    (200,)
    """

    def __init__(self, seed: int = 0, max_iter: int = 200) -> None:
        self.model = HistGradientBoostingClassifier(max_iter=max_iter, random_state=seed)

    def fit(self, shadow_logp: np.ndarray, y: np.ndarray, member: np.ndarray) -> ShadowClassifierAttack:
        """Fit the attack classifier on the shadows' outputs and membership.

        Parameters
        ----------
        shadow_logp : ndarray, shape (K, n, classes)
            Log-probabilities of ``K`` shadow models on ``n`` rows.
        y : ndarray of int, shape (n,)
            Labels of the rows.
        member : ndarray of bool, shape (K, n)
            Shadow ``k`` trained on row ``i``.

        Returns
        -------
        ShadowClassifierAttack
            ``self``, fitted.
        """
        feats = np.concatenate([attack_features(lp, y) for lp in shadow_logp])
        self.model.fit(feats, np.asarray(member).reshape(-1).astype(int))
        return self

    def score(self, logp: np.ndarray, y: np.ndarray) -> np.ndarray:
        """P(member) per row of the target's outputs (higher = more member-like).

        Parameters
        ----------
        logp : ndarray, shape (n, classes)
            The target model's log-probabilities.
        y : ndarray of int, shape (n,)
            Labels.

        Returns
        -------
        ndarray, shape (n,)
        """
        return self.model.predict_proba(attack_features(logp, y))[:, 1]
