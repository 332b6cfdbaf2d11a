"""Baseline unlearning methods for any model the recipe trains, and torch networks.

* ``retrain`` — exact: the recipe trained from scratch on the retain set;
* ``noop`` — the original itself (the known-bad control);
* ``finetune`` — continue training the original on the retain set (catastrophic forgetting);
* ``gradient_ascent`` — ascend the cross-entropy on the forget set;
* ``random_labels`` — train on the forget rows with random wrong labels, mixed with retain rows;
* ``newton`` — Guo 2020 certified removal for :class:`audit.training.linear.LogReg` models;
* ``influence`` — the influence-function step (Koh & Liang 2017) with the full-data Hessian.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from torch import nn

from audit.core.model_objects import TorchModule
from audit.lab.methods.base import Data, n_classes_of
from audit.shared.errors import BadInput
from audit.training.linear import LogReg, influence_removal, newton_removal
from audit.training.loop import train_steps

# train_steps is re-exported: the one training loop lives in audit.training.recipes
__all__ = ["retrain", "noop", "finetune", "gradient_ascent", "random_labels", "newton", "influence",
           "train_steps"]


def retrain(model: Any, forget: Data, retain: Data, recipe: Any, seed: int) -> Any:
    """Exact unlearning: the recipe trained from scratch on the retain set.

    Parameters
    ----------
    model : adapter
        The original model.
    forget, retain : (X, y)
        The rows to forget and the rows kept.
    recipe : Recipe or None
        The case's training recipe.
    seed : int
        Seed of the method's randomness.

    Returns
    -------
    adapter
        ``recipe.fit`` on the retain rows.
    """
    if recipe is None:
        raise BadInput("training.recipe", "exact retrain needs a training recipe")
    return recipe.fit(retain[0], retain[1], n_classes_of(model, retain[0]), seed)


def noop(model: Any, forget: Data, retain: Data, recipe: Any, seed: int) -> Any:
    """The control that forgets nothing: returns the original unchanged.

    Parameters
    ----------
    model : adapter
        The original model.
    forget, retain : (X, y)
        The rows to forget and the rows kept.
    recipe : Recipe or None
        The case's training recipe.
    seed : int
        Seed of the method's randomness.

    Returns
    -------
    adapter
        ``model`` itself.
    """
    return model


def _module(model: Any, method: str) -> nn.Module:
    module = getattr(model, "module", None)
    if not isinstance(module, nn.Module):
        raise BadInput("method", f"{method!r} needs a torch model (TorchModule); got {type(model).__name__}")
    return copy.deepcopy(module)


def finetune(model: Any, forget: Data, retain: Data, recipe: Any, seed: int,
             epochs: int = 5, lr: float = 1e-3) -> TorchModule:
    """Fine-tune the original on the retain set for a few epochs.

    Parameters
    ----------
    model : adapter
        The original model.
    forget, retain : (X, y)
        The rows to forget and the rows kept.
    recipe : Recipe or None
        The case's training recipe.
    seed : int
        Seed of the method's randomness.
    epochs : int
        Epochs over the retain rows.
    lr : float
        Adam's learning rate.

    Returns
    -------
    TorchModule
    """
    return TorchModule(train_steps(_module(model, "finetune"), *retain, epochs=epochs, lr=lr, seed=seed))


def gradient_ascent(model: Any, forget: Data, retain: Data, recipe: Any, seed: int,
                    steps: int = 5, lr: float = 5e-4) -> TorchModule:
    """Gradient ascent on the forget set's cross-entropy for a few steps (easily overshoots).

    Parameters
    ----------
    model : adapter
        The original model.
    forget, retain : (X, y)
        The rows to forget and the rows kept.
    recipe : Recipe or None
        The case's training recipe.
    seed : int
        Seed of the method's randomness.
    steps : int
        Minibatch steps of ascent.
    lr : float
        Adam's learning rate.

    Returns
    -------
    TorchModule
    """
    return TorchModule(train_steps(_module(model, "gradient_ascent"), *forget, epochs=steps, lr=lr,
                                   seed=seed, ascent=True, max_steps=steps))


def random_labels(model: Any, forget: Data, retain: Data, recipe: Any, seed: int,
                  epochs: int = 3, lr: float = 1e-3) -> TorchModule:
    """Relabel the forget rows at random (never their true label) and train on them with retain.

    Parameters
    ----------
    model : adapter
        The original model.
    forget, retain : (X, y)
        The rows to forget and the rows kept.
    recipe : Recipe or None
        The case's training recipe.
    seed : int
        Seed of the method's randomness.
    epochs : int
        Epochs over the relabelled forget rows and the retain rows.
    lr : float
        Adam's learning rate.

    Returns
    -------
    TorchModule
    """
    module = _module(model, "random_labels")
    k = n_classes_of(model, forget[0])
    rng = np.random.default_rng(seed)
    wrong = (forget[1] + rng.integers(1, k, size=len(forget[1]))) % k
    X = np.concatenate([forget[0], retain[0]])
    y = np.concatenate([wrong, retain[1]])
    return TorchModule(train_steps(module, X, y, epochs=epochs, lr=lr, seed=seed))


def newton(model: Any, forget: Data, retain: Data, recipe: Any, seed: int) -> LogReg:
    """Guo 2020 certified removal (one Newton step on the retained objective).

    Parameters
    ----------
    model : adapter
        The original model.
    forget, retain : (X, y)
        The rows to forget and the rows kept.
    recipe : Recipe or None
        The case's training recipe.
    seed : int
        Seed of the method's randomness.

    Returns
    -------
    LogReg
    """
    if not isinstance(model, LogReg):
        raise BadInput("method", f"'newton' needs an L2 logistic model (LogReg); got {type(model).__name__}")
    return newton_removal(model, retain[0], retain[1])


def influence(model: Any, forget: Data, retain: Data, recipe: Any, seed: int) -> LogReg:
    """Influence-function removal (Koh & Liang 2017): a Newton step with the full-data Hessian.

    The baseline Izzo et al. (2021) compare against: the curvature the forgotten rows
    contributed stays in the Hessian.

    Parameters
    ----------
    model : adapter
        The original model; must be a :class:`audit.training.linear.LogReg`.
    forget, retain : (X, y)
        The rows to forget and the rows kept; together they are the training data the
        Hessian is taken over.
    recipe : Recipe or None
        Not used (the step needs no retraining).
    seed : int
        Not used (the step is deterministic).

    Returns
    -------
    LogReg
        :func:`audit.training.linear.influence_removal` of the forget rows.

    Raises
    ------
    BadInput
        ``method``: the model is not a ``LogReg``.
    """
    if not isinstance(model, LogReg):
        raise BadInput("method", f"'influence' needs an L2 logistic model (LogReg); got {type(model).__name__}")
    X = np.concatenate([forget[0], retain[0]])
    y = np.concatenate([forget[1], retain[1]])
    mask = np.r_[np.ones(len(forget[1]), bool), np.zeros(len(retain[1]), bool)]
    return influence_removal(model, X, y, mask)
