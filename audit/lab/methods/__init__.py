"""Baseline unlearning methods behind one interface.

Every method is ``fn(model, forget, retain, recipe, seed) -> model`` (``forget`` and
``retain`` are ``(X, y)`` pairs). :data:`METHODS` maps names to functions and
:func:`unlearn` runs one by name and reports its wall time (and the retrain's). The user's
own method (``--method pkg.mod:function``) follows the protocol of :mod:`audit.lab.methods.user`
and is wrapped into this convention.

Examples
--------
>>> import numpy as np
>>> from audit.training.recipes import get_recipe
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(80, 3)).astype("float32"); y = (X[:, 0] > 0).astype(int)
>>> recipe = get_recipe("torch-mlp", {"epochs": 3, "hidden": [8]})
>>> original = recipe.fit(X, y, 2, seed=0)
>>> res = unlearn("finetune", original, (X[:10], y[:10]), (X[10:], y[10:]), recipe, seed=0)
>>> res.model.predict_logits(X).shape
(80, 2)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from audit.lab.methods.base import Data, MethodResult, run_method
from audit.lab.methods.baselines import (
    finetune,
    gradient_ascent,
    influence,
    newton,
    noop,
    random_labels,
    retrain,
)
from audit.lab.methods.fedavg import FedModel, fedavg_recover, fedavg_retrain, train_fedavg
from audit.lab.methods.gkt import gkt
from audit.lab.methods.sisa import Sisa, sisa_unlearn, train_sisa
from audit.lab.methods.unsir import unsir
from audit.lab.methods.vbu import vbu
from audit.shared.errors import BadInput
from audit.training.bayes_logreg import BayesLogReg, fit_bayes_logreg
from audit.training.linear import LogReg, fit_logreg

__all__ = [
    "METHODS",
    "unlearn",
    "MethodResult",
    "Data",
    "retrain",
    "noop",
    "finetune",
    "gradient_ascent",
    "random_labels",
    "newton",
    "influence",
    "sisa_unlearn",
    "fedavg_retrain",
    "fedavg_recover",
    "Sisa",
    "train_sisa",
    "FedModel",
    "train_fedavg",
    "LogReg",
    "fit_logreg",
    "unsir",
    "gkt",
    "vbu",
    "BayesLogReg",
    "fit_bayes_logreg",
]

METHODS: dict[str, Callable[..., Any]] = {
    "retrain": retrain,
    "noop": noop,
    "finetune": finetune,
    "gradient_ascent": gradient_ascent,
    "random_labels": random_labels,
    "newton": newton,
    "influence": influence,
    "sisa": sisa_unlearn,
    "fedavg_retrain": fedavg_retrain,
    "fedavg_recover": fedavg_recover,
    "unsir": unsir,
    "gkt": gkt,
    "vbu": vbu,
}


def unlearn(
    method: str, model: Any, forget: Data, retain: Data, recipe: Any, seed: int,
    time_retrain: bool = False, **params: Any,
) -> MethodResult:
    """Run the named method; the result carries the model, wall time and extras.

    Parameters
    ----------
    method : str
        A built-in method name (:data:`METHODS`).
    model, forget, retain, recipe, seed
        As for every method (see :func:`audit.lab.methods.baselines.retrain`).
    time_retrain : bool
        Also time the exact retrain on the same retain set.
    **params
        The method's own keyword arguments.

    Returns
    -------
    MethodResult
    """
    if method not in METHODS:
        raise BadInput("method", f"unknown method {method!r}; available: {sorted(METHODS)}")
    return run_method(METHODS[method], method, model, forget, retain, recipe, seed,
                      time_retrain=time_retrain, **params)
