"""Model families of the calibration grid: how to train, export, load and perturb each.

* ``mlp`` — :class:`audit.training.recipes.MLP` trained by :func:`audit.training.recipes.train_mlp` (torch on
  one thread), exported as safetensors and loaded by :func:`audit.core.adapters.load_model` with
  ``architecture = "audit.training.recipes:MLP"``; the re-export is a ``torch.save`` state dict.
* ``logreg`` — scikit-learn ``LogisticRegression`` (lbfgs: deterministic, so every retrain
  on one retain set is the same model and the seed spread is zero), exported with
  ``skops.io.dump`` and loaded through the reviewed-types skops path of
  :mod:`audit.core.adapters`; the re-export is the same estimator zip-deflated.
* ``forest`` — scikit-learn ``RandomForestClassifier``, exported and loaded like ``logreg``
  (its ``sklearn.tree._tree.Tree`` is among :data:`audit.core.adapters.SKOPS_REVIEWED_TYPES`).

A scikit-learn model fitted without a class (the ``class`` forget kind) is widened to every
class by :class:`audit.core.adapters.WidenedClasses` (log-probability ``log(1e-12)`` for the missing
class), which :class:`audit.core.case.AuditCase` applies to any model whose classes are a strict
subset of the original's.
"""

from __future__ import annotations

import copy
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from audit.core.adapters import WidenedClasses, load_model
from audit.core.model_objects import SklearnModel, TorchModule
from audit.training.recipes import train_mlp

__all__ = ["FAMILIES", "Sizes", "QUICK_SIZES", "FULL_SIZES", "fit", "export",
           "logits", "mean_loss", "linear_epoch", "forest_extend"]

FAMILIES: tuple[str, ...] = ("mlp", "logreg", "forest")


@dataclass(frozen=True)
class Sizes:
    """Model sizes: MLP hidden widths and epochs, trees per forest.

    Parameters
    ----------
    mlp_hidden : tuple of int
        Hidden widths of the MLP family.
    mlp_epochs : int
        Its training epochs.
    forest_trees : int
        Trees of the forest family.
    """

    mlp_hidden: tuple[int, ...] = (128,)
    mlp_epochs: int = 60
    forest_trees: int = 100


FULL_SIZES = Sizes()
QUICK_SIZES = Sizes(mlp_hidden=(64,), mlp_epochs=30, forest_trees=40)


def fit(family: str, X: np.ndarray, y: np.ndarray, n_classes: int, seed: int, sizes: Sizes,
        sample_weight: np.ndarray | None = None) -> Any:
    """Train a fresh model of ``family`` (a torch module or a fitted estimator).

    ``sample_weight`` is honoured by ``forest`` only (see :func:`forest_extend`).

    Parameters
    ----------
    family : str
        ``mlp``, ``logreg`` or ``forest``.
    X, y : ndarray
        Training rows.
    n_classes, seed : int
        Output width and training seed.
    sizes : Sizes
        Model sizes.
    sample_weight : ndarray, optional
        Row weights (forest only).

    Returns
    -------
    torch.nn.Module or estimator

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(40, 3)).astype("float32")
    >>> y = (X[:, 0] > 0).astype(int)
    >>> type(fit("logreg", X, y, 2, 0, QUICK_SIZES)).__name__
    'LogisticRegression'
    """
    if family == "mlp":
        return train_mlp(X, y, n_classes, seed, hidden=sizes.mlp_hidden, epochs=sizes.mlp_epochs,
                         lr=2e-3, batch_size=32)
    if family == "logreg":
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return LogisticRegression(C=1.0, max_iter=500).fit(X, y)
    if family == "forest":
        from sklearn.ensemble import RandomForestClassifier

        est = RandomForestClassifier(n_estimators=sizes.forest_trees, random_state=int(seed), n_jobs=1)
        return est.fit(X, y, sample_weight=sample_weight)
    raise ValueError(f"unknown model family {family!r}; known: {', '.join(FAMILIES)}")


def export(family: str, raw: Any, directory: Path, name: str, n_classes: int, n_features: int,
           sizes: Sizes, alt: bool = False) -> Any:
    """Write ``raw`` to ``directory`` and load it back through :func:`audit.core.adapters.load_model`.

    ``alt`` writes the same function as different bytes (the re-exported no-op).

    Parameters
    ----------
    family : str
        The model family.
    raw : torch.nn.Module or estimator
        The trained model.
    directory : Path
        Where to write it.
    name : str
        File stem.
    n_classes, n_features : int
        Shapes (for the export).
    sizes : Sizes
        Model sizes.
    alt : bool
        Write different bytes of the same function.

    Returns
    -------
    adapter
    """
    directory.mkdir(parents=True, exist_ok=True)
    if family == "mlp":
        import torch
        from safetensors.torch import save_file

        state = {k: v.detach().contiguous() for k, v in raw.state_dict().items()}
        path = directory / f"{name}.{'pt' if alt else 'safetensors'}"
        torch.save(state, path) if alt else save_file(state, str(path))
        kwargs = {"n_features": n_features, "n_classes": n_classes, "hidden": list(sizes.mlp_hidden)}
        return load_model({"path": str(path), "architecture": "audit.training.recipes:MLP", "kwargs": kwargs},
                          f"calibration.{name}")
    import skops.io as sio

    path = directory / f"{name}.skops"
    sio.dump(raw, str(path), compression=zipfile.ZIP_DEFLATED if alt else zipfile.ZIP_STORED)
    # a class-removal retrain keeps fewer classes: AuditCase widens it, as for a user's model
    return load_model(str(path), f"calibration.{name}")


def logits(family: str, raw: Any, X: np.ndarray, n_classes: int) -> np.ndarray:
    """Logits (log-probabilities for scikit-learn) of an in-memory model, every class wide.

    Parameters
    ----------
    family : str
        The model family.
    raw : torch.nn.Module or estimator
        The model.
    X : ndarray
        Rows.
    n_classes : int
        Output width.

    Returns
    -------
    ndarray, shape (n, n_classes)
    """
    if family == "mlp":
        return TorchModule(raw).predict_logits(X)
    model = SklearnModel(raw)
    if len(model.classes) < n_classes:
        return WidenedClasses(model, np.arange(n_classes)).predict_logits(X)
    return model.predict_logits(X)


def mean_loss(family: str, raw: Any, X: np.ndarray, y: np.ndarray, n_classes: int) -> float:
    """Mean cross-entropy of ``raw`` on ``(X, y)`` in nats.

    Parameters
    ----------
    family : str
        The model family.
    raw : torch.nn.Module or estimator
        The model.
    X, y : ndarray
        Rows and labels.
    n_classes : int
        Output width.

    Returns
    -------
    float
    """
    z = logits(family, raw, X, n_classes)
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(y)), y].mean())


def linear_epoch(est: Any, X: np.ndarray, y: np.ndarray, *, lr: float, seed: int,
                 ascent: bool = False, batch_size: int = 32) -> Any:
    """One epoch of minibatch SGD on a fitted logistic regression's log-loss (a copy).

    The linear analogue of a torch fine-tuning epoch (``ascent``: gradient ascent). Every
    label of ``y`` must be among ``est.classes_``.

    Parameters
    ----------
    est : LogisticRegression
        A fitted model (copied, not changed).
    X, y : ndarray
        Rows and labels.
    lr : float
        Step size.
    seed : int
        Seed of the minibatch order.
    ascent : bool
        Ascend the loss.
    batch_size : int
        Rows per step.

    Returns
    -------
    LogisticRegression

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.random.default_rng(0).normal(size=(50, 2)); y = (X[:, 0] > 0).astype(int)
    >>> est = LogisticRegression().fit(X, y)
    >>> bool(np.allclose(linear_epoch(est, X, y, lr=0.0, seed=0).coef_, est.coef_))
    True
    """
    est = copy.deepcopy(est)
    W, b = est.coef_.astype(np.float64), est.intercept_.astype(np.float64)
    idx = np.searchsorted(est.classes_, y)
    sign = -1.0 if ascent else 1.0
    order = np.random.default_rng(seed).permutation(len(y))
    for start in range(0, len(y), batch_size):
        rows = order[start:start + batch_size]
        Xb, z = X[rows].astype(np.float64), X[rows] @ W.T + b
        if W.shape[0] == 1:
            g = (1.0 / (1.0 + np.exp(-z[:, 0])) - idx[rows])[:, None]
        else:
            g = np.exp(z - z.max(axis=1, keepdims=True))
            g /= g.sum(axis=1, keepdims=True)
            g[np.arange(len(rows)), idx[rows]] -= 1.0
        W -= sign * lr * (g.T @ Xb) / len(rows)
        b -= sign * lr * g.mean(axis=0)
    est.coef_, est.intercept_ = W, b
    return est


def forest_extend(est: Any, X: np.ndarray, y: np.ndarray, weight: np.ndarray, seed: int,
                  extra: float = 0.1) -> Any:
    """Grow ``extra`` x more trees on the rows of non-zero ``weight`` (a copy): a forest "fine-tune".

    All training rows are passed, the forgotten ones with weight 0, so the new trees know
    every class (a warm start refuses a narrower class set) but learn nothing from them.

    Parameters
    ----------
    est : RandomForestClassifier
        A fitted forest (copied).
    X, y : ndarray
        Every training row.
    weight : ndarray
        Row weights (0 for the forgotten rows).
    seed : int
        Seed of the new trees.
    extra : float
        Share of trees added.

    Returns
    -------
    RandomForestClassifier
    """
    est = copy.deepcopy(est)
    n = len(est.estimators_)
    est.set_params(warm_start=True, n_estimators=n + max(1, int(round(extra * n))),
                   random_state=int(seed))
    return est.fit(X, y, sample_weight=weight)
