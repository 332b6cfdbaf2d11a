"""The differencing attack on an original/unlearned pair (Chen et al. 2021).

"When Machine Unlearning Jeopardizes Privacy": an adversary who can query both the
original model O and the unlearned model U on a row x builds a feature vector from the
two posteriors and trains a binary classifier to tell rows that were *deleted*
(forget, the positive class) from rows that were never trained on. Feature
constructions of the paper:

* ``direct_diff`` — p_O(x) - p_U(x);
* ``sorted_diff`` — sort(p_O(x)) - sort(p_U(x)), each posterior sorted descending
  (label-free and class-order invariant);
* ``l2`` — Euclidean distance ||p_O(x) - p_U(x)||;
* ``direct_concat`` / ``sorted_concat`` — the two posteriors side by side;
* ``logit_diff`` — an addition to the paper's label-free features for an attacker who
  knows the label (as in membership inference): the change of the logit-scaled
  true-class confidence ``phi_O(x) - phi_U(x)`` (:func:`attacks.population.logit_confidence`).

The classifier is trained on held-out rows only: :func:`out_of_fold_scores` cross-fits
over stratified folds, so each row is scored by a classifier that never saw it. Run the
same attack on O->U and on O->R (a retrained reference) with the same folds; a good
unlearner is no easier to attack than a retrain.

Attack models (:data:`ATTACK_MODELS`): ``forest`` is the paper's random forest;
``logistic`` an L2-regularised logistic regression (scikit-learn's default ``C = 1``) on
the features as they are — probabilities and logits, commensurate units; a regressor's
features should be put in units of the targets' spread first. On the audit's few
features and few hundred forget rows it tells a partial unlearning from a retrain more
often than the forest (decision record 0021) at a fraction of the cost (a forest's fixed
cost is its trees: 100 per fold per pair).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn import config_context
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from attacks.population import logit_confidence
from attacks.threads import one_blas_thread

__all__ = ["ATTACK_MODELS", "FEATURES", "difference_features", "regression_difference_features", "make_folds",
           "out_of_fold_scores"]

FEATURES = ("direct_diff", "sorted_diff", "l2", "direct_concat", "sorted_concat", "logit_diff")
ATTACK_MODELS = ("logistic", "forest")


def difference_features(
    logp_o: np.ndarray, logp_u: np.ndarray, kinds: Sequence[str] = ("sorted_diff", "l2"),
    y: np.ndarray | None = None,
) -> np.ndarray:
    """Stack the requested Chen et al. (2021) features: ``[n, d]`` (``logit_diff`` needs ``y``).

    Parameters
    ----------
    logp_o, logp_u : ndarray, shape (n, classes)
        Log-probabilities of the original and of the model after the update.
    kinds : sequence of str
        Features to stack: ``direct_diff``, ``sorted_diff``, ``l2``, ``logit_diff``.
    y : ndarray, optional
        Labels (needed by ``logit_diff``).

    Returns
    -------
    ndarray, shape (n, d)

    Examples
    --------
    >>> lo = np.log(np.array([[0.7, 0.3]])); lu = np.log(np.array([[0.4, 0.6]]))
    >>> difference_features(lo, lu, ["direct_diff", "sorted_diff", "l2"]).round(4).tolist()
    [[0.3, -0.3, 0.1, -0.1, 0.4243]]
    """
    po = np.exp(np.asarray(logp_o, dtype=np.float64))
    pu = np.exp(np.asarray(logp_u, dtype=np.float64))
    if po.shape != pu.shape:
        raise ValueError(f"posteriors differ in shape: {po.shape} vs {pu.shape}")
    so, su = -np.sort(-po, axis=1), -np.sort(-pu, axis=1)
    table = {
        "direct_diff": lambda: po - pu,
        "sorted_diff": lambda: so - su,
        "l2": lambda: np.linalg.norm(po - pu, axis=1, keepdims=True),
        "direct_concat": lambda: np.concatenate([po, pu], axis=1),
        "sorted_concat": lambda: np.concatenate([so, su], axis=1),
        "logit_diff": lambda: _logit_diff(logp_o, logp_u, y),
    }
    unknown = [k for k in kinds if k not in table]
    if unknown or not kinds:
        raise ValueError(f"unknown or no feature kinds {list(kinds)}; known: {list(FEATURES)}")
    return np.concatenate([table[k]() for k in kinds], axis=1)


def regression_difference_features(pred_o: np.ndarray, pred_u: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Chen et al. (2021)'s differencing features for a regressor: ``[n, 3]``.

    The signed change ``f_U(x) - f_O(x)``, its size, and the change of the absolute error
    ``|f_U(x) - y| - |f_O(x) - y|`` (a forgotten row's error grows when it is unlearned).

    Parameters
    ----------
    pred_o, pred_u : ndarray, shape (n,)
        The original's and the updated model's predictions.
    y : ndarray, shape (n,)
        Targets.

    Returns
    -------
    ndarray, shape (n, 3)

    Examples
    --------
    >>> regression_difference_features(np.array([1.0]), np.array([1.5]), np.array([1.0])).tolist()
    [[0.5, 0.5, 0.5]]
    """
    po, pu, y = (np.asarray(a, dtype=np.float64) for a in (pred_o, pred_u, y))
    d = pu - po
    return np.stack([d, np.abs(d), np.abs(pu - y) - np.abs(po - y)], axis=1)


def _logit_diff(logp_o: np.ndarray, logp_u: np.ndarray, y: np.ndarray | None) -> np.ndarray:
    if y is None:
        raise ValueError("the logit_diff feature needs the labels y")
    return (logit_confidence(logp_o, y) - logit_confidence(logp_u, y))[:, None]


def make_folds(member: np.ndarray, n_splits: int, seed: int) -> np.ndarray:
    """Fold id per row from stratified K-fold (the same folds serve O->U and O->R).

    Parameters
    ----------
    member : ndarray of bool, shape (n,)
        Row deleted (True) or kept.
    n_splits : int
        Number of folds.
    seed : int
        Shuffling seed.

    Returns
    -------
    ndarray of int, shape (n,)

    Examples
    --------
    >>> make_folds(np.array([1, 0, 1, 0]), 2, 0).tolist().count(0)
    2
    """
    m = np.asarray(member).astype(int)
    k = int(min(n_splits, np.bincount(m, minlength=2).min()))
    if k < 2:
        raise ValueError("need at least 2 members and 2 non-members to cross-fit")
    fold = np.empty(len(m), dtype=np.int64)
    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=int(seed))
    for i, (_, test) in enumerate(skf.split(np.zeros(len(m)), m)):
        fold[test] = i
    return fold


def _attack_model(model: str, seed: int, n_estimators: int):  # noqa: ANN202 - a scikit-learn classifier
    if model == "forest":
        return RandomForestClassifier(n_estimators=n_estimators, min_samples_leaf=3, random_state=seed, n_jobs=1)
    if model == "logistic":
        return LogisticRegression(max_iter=1000)
    raise ValueError(f"unknown attack model {model!r}; known: {', '.join(ATTACK_MODELS)}")


def out_of_fold_scores(
    features: np.ndarray,
    member: np.ndarray,
    folds: np.ndarray,
    seed: int = 0,
    n_estimators: int = 100,
    model: str = "logistic",
) -> np.ndarray:
    """P(deleted) for every row from an attack model trained on the other folds.

    Chen et al. (2021) use a random forest as the attack model (``model="forest"``;
    ``min_samples_leaf=3`` keeps the probabilities from collapsing to 0/1 on small
    audits); ``model="logistic"`` (the default) is a logistic regression on the features
    as given (``C = 1``: the features should be in commensurate units). Features that are the same on every row (the original compared
    with itself) carry nothing: every row scores 1/2 without fitting.

    Parameters
    ----------
    features : ndarray, shape (n, d)
        Differencing features (:func:`difference_features`).
    member : ndarray of bool, shape (n,)
        Deleted rows (the positives).
    folds : ndarray of int, shape (n,)
        Fold of each row (:func:`make_folds`).
    seed : int
        Forest seed.
    n_estimators : int
        Trees per forest (``model="forest"``).
    model : str
        One of :data:`ATTACK_MODELS`.

    Returns
    -------
    ndarray, shape (n,)
        Out-of-fold P(deleted).

    Examples
    --------
    >>> out_of_fold_scores(np.zeros((4, 2)), np.array([1, 0, 1, 0]), np.array([0, 0, 1, 1]))
    array([0.5, 0.5, 0.5, 0.5])
    >>> x = np.r_[np.arange(6.0) + 3, np.arange(6.0)][:, None]; m = np.r_[np.ones(6), np.zeros(6)]
    >>> s = out_of_fold_scores(x, m, np.arange(12) % 2)  # the deleted rows' outputs moved more
    >>> bool(s[m == 1].mean() > s[m == 0].mean())
    True
    """
    X = np.asarray(features, dtype=np.float64)
    m = np.asarray(member).astype(int)
    _attack_model(model, 0, 1)  # an unknown model fails before the constant-feature shortcut
    if X.size == 0 or np.all(np.ptp(X, axis=0) == 0):
        return np.full(len(m), 0.5)
    out = np.empty(len(m), dtype=np.float64)
    # the forest validates its own parameters once; without this every one of its trees
    # re-validates too (~a third of a small forest's fit, measured) — same trees either way.
    # one BLAS thread (attacks.threads): the same fits, without threads spinning on a busy machine
    with config_context(skip_parameter_validation=True), one_blas_thread():
        for f in np.unique(folds):
            test = folds == f
            clf = _attack_model(model, int(seed) + int(f), n_estimators)
            clf.fit(X[~test], m[~test])
            out[test] = clf.predict_proba(X[test])[:, list(clf.classes_).index(1)]
    return out
