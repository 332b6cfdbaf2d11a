"""Training recipes: how to train a model on any subset of the case's data.

Used by the built-in scenarios, by shadow / reference models and by method audits.

* ``torch-mlp`` — the built-in :class:`MLP` trained with Adam (deterministic per seed);
* ``bayes-logreg`` — Bayesian logistic regression by variational inference
  (:func:`audit.training.bayes_logreg.fit_bayes_logreg`);
* ``logreg`` — binary L2 logistic regression with an intercept
  (:func:`audit.training.linear.fit_logreg_recipe`), the model ``newton`` / ``influence`` need;
* ``sklearn`` — clone the original's scikit-learn estimator and refit with ``random_state=seed``;
* ``"pkg.mod:function"`` — ``function(X, y, n_classes, seed, **params)`` returning a model
  with ``predict_logits``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from audit.core.model_objects import SklearnModel, TorchModule
from audit.core.torch_threads import one_thread
from audit.shared.errors import BadInput
from audit.training.loop import seeded, train_steps

__all__ = ["MLP", "seeded_mlp", "train_mlp", "Recipe", "get_recipe"]


class MLP(nn.Module):
    """A plain fully connected classifier returning logits.

    Parameters
    ----------
    n_features, n_classes : int
        Input width and number of classes.
    hidden : tuple of int
        Widths of the hidden ReLU layers.
    """

    def __init__(self, n_features: int, n_classes: int, hidden: tuple[int, ...] = (128,)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = int(n_features)
        for h in hidden:
            layers += [nn.Linear(width, int(h)), nn.ReLU()]
            width = int(h)
        layers.append(nn.Linear(width, int(n_classes)))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch.

        Parameters
        ----------
        x : torch.Tensor, shape (n, features)
            Inputs.

        Returns
        -------
        torch.Tensor, shape (n, classes)
            Logits.
        """
        return self.net(x)


def seeded_mlp(n_features: int, n_classes: int, hidden: tuple[int, ...], seed: int) -> MLP:
    """A freshly initialised :class:`MLP` whose weights depend on ``seed`` alone (:func:`seeded`).

    Parameters
    ----------
    n_features, n_classes : int
        Input width and number of classes.
    hidden : tuple of int
        Widths of the hidden layers.
    seed : int
        Initialisation seed.

    Returns
    -------
    MLP
        The untrained network (in training mode, as ``nn.Module`` starts).

    Examples
    --------
    >>> a, b = seeded_mlp(3, 2, (4,), 7), seeded_mlp(3, 2, (4,), 7)
    >>> bool(torch.equal(a.net[0].weight, b.net[0].weight))
    True
    """
    with seeded(seed):
        return MLP(n_features, n_classes, tuple(hidden))


@one_thread()
def train_mlp(
    X: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    seed: int,
    *,
    hidden: tuple[int, ...] = (128,),
    epochs: int = 100,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    batch_size: int = 64,
) -> MLP:
    """Train an :class:`MLP` with Adam and cross-entropy; deterministic for a given seed.

    :func:`seeded_mlp` (initialisation from ``seed``) then :func:`train_steps` (minibatch
    order from ``seed``).

    Parameters
    ----------
    X : ndarray, shape (n, features)
        Training inputs.
    y : ndarray, shape (n,)
        Integer labels in ``0..n_classes-1``.
    n_classes : int
        Width of the output layer.
    seed : int
        Seed of the initialisation and of the minibatch order.
    hidden, epochs, lr, weight_decay, batch_size
        Architecture and optimiser settings (the ``[training] params`` of a case).

    Returns
    -------
    MLP
        The trained network, in eval mode.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(64, 4)).astype("float32"); y = (X[:, 0] > 0).astype(int)
    >>> m = train_mlp(X, y, 2, seed=0, epochs=5)
    >>> TorchModule(m).predict_logits(X).shape
    (64, 2)
    """
    model = seeded_mlp(X.shape[1], n_classes, tuple(hidden), seed)
    return train_steps(model, X, y, epochs=epochs, lr=lr, seed=seed, batch_size=batch_size,
                       weight_decay=weight_decay)


@dataclass
class Recipe:
    """A named way to train a model: ``fit(X, y, n_classes, seed) -> adapter``.

    Parameters
    ----------
    name : str
        The recipe spec (``torch-mlp``, ``sklearn``, ``bayes-logreg`` or ``pkg.mod:function``).
    fit_fn : callable
        ``fit_fn(X, y, n_classes, seed, **params) -> adapter``.
    params : dict
        The case's ``[training] params``.
    """

    name: str
    fit_fn: Callable[..., Any]
    params: dict[str, Any] = field(default_factory=dict)

    def fit(self, X: np.ndarray, y: np.ndarray, n_classes: int, seed: int) -> Any:
        """Train a model on ``(X, y)`` with ``seed``.

        Parameters
        ----------
        X : ndarray, shape (n, features)
            Training inputs.
        y : ndarray, shape (n,)
            Labels (or targets).
        n_classes : int
            Number of classes of the case.
        seed : int
            Training seed.

        Returns
        -------
        adapter
            The trained model (``predict_logits``).
        """
        return self.fit_fn(X, y, n_classes, seed, **self.params)


def _fit_torch_mlp(X, y, n_classes, seed, **params):  # noqa: ANN001, ANN202
    if "hidden" in params:
        params = {**params, "hidden": tuple(params["hidden"])}
    return TorchModule(train_mlp(X, y, n_classes, seed, **params))


def _sklearn_fit_fn(original: Any) -> Callable[..., Any]:
    from sklearn.base import clone

    est = getattr(original, "estimator", original)

    def fit(X, y, n_classes, seed, **params):  # noqa: ANN001, ANN202
        model = clone(est)
        if "random_state" in model.get_params():
            model.set_params(random_state=int(seed))
        if params:
            model.set_params(**params)
        return SklearnModel(model.fit(X, y))

    return fit


def get_recipe(spec: str, params: dict[str, Any] | None = None, original: Any = None) -> Recipe:
    """Resolve a recipe spec from the case file's ``[training]`` table.

    Parameters
    ----------
    spec : str
        ``"torch-mlp"``, ``"sklearn"`` or ``"package.module:function"``.
    params : dict, optional
        Keyword arguments passed to the training function.
    original : adapter, optional
        The original model; ``sklearn`` clones its estimator.

    Returns
    -------
    Recipe

    Examples
    --------
    >>> get_recipe("torch-mlp", {"epochs": 2}).params
    {'epochs': 2}
    """
    params = dict(params or {})
    if spec == "torch-mlp":
        return Recipe(spec, _fit_torch_mlp, params)
    if spec == "bayes-logreg":  # Bayesian logistic regression by VI (audit.training.bayes_logreg)
        from audit.training.bayes_logreg import fit_bayes_logreg

        return Recipe(spec, fit_bayes_logreg, params)
    if spec == "logreg":  # binary L2 logistic regression, the model Newton / influence removal need
        from audit.training.linear import fit_logreg_recipe

        return Recipe(spec, fit_logreg_recipe, params)
    if spec == "sklearn":
        if original is None or not hasattr(original, "estimator"):
            raise BadInput("training.recipe", "'sklearn' needs a scikit-learn original model to clone")
        return Recipe(spec, _sklearn_fit_fn(original), params)
    if ":" in spec:
        mod_name, _, fn_name = spec.partition(":")
        try:
            fn = getattr(importlib.import_module(mod_name), fn_name)
        except (ImportError, AttributeError) as exc:
            raise BadInput("training.recipe", f"cannot import {spec!r}: {exc}") from exc
        return Recipe(spec, fn, params)
    raise BadInput("training.recipe", f"unknown recipe {spec!r}; use torch-mlp, sklearn, bayes-logreg, logreg or "
                                        "pkg.mod:function")
