"""Training recipes: how to train a model on any subset of the case's data.

Used by the built-in scenarios, by shadow / reference models and by method audits.

* ``torch-mlp`` — the built-in :class:`MLP` trained with Adam (deterministic per seed);
* ``bayes-logreg`` — Bayesian logistic regression by variational inference
  (:func:`audit.lab.methods.bayes.fit_bayes_logreg`);
* ``logreg`` — binary L2 logistic regression with an intercept
  (:func:`audit.lab.methods.linear.fit_logreg_recipe`), the model ``newton`` / ``influence`` need;
* ``sklearn`` — clone the original's scikit-learn estimator and refit with ``random_state=seed``;
* ``"pkg.mod:function"`` — ``function(X, y, n_classes, seed, **params)`` returning a model
  with ``predict_logits``.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from audit.shared.errors import BadInput

__all__ = ["MLP", "seeded", "seeded_mlp", "train_steps", "train_mlp", "one_thread", "TorchModule", "SklearnModel", "sklearn_task", "Recipe", "get_recipe"]


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


_SEEDING = threading.Lock()


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch's global generator and hold it for the block: the one seeding helper.

    Weight initialisation (``nn.Linear``, ``reset_parameters``) draws from torch's one global
    generator, so seeding it and drawing are done under a lock: two threads (a threaded Dask
    worker, the ensemble's thread groups) initialising at once would otherwise draw from each
    other's seed. Draw only initial weights inside the block (minibatch orders use their own
    ``torch.Generator``).

    Parameters
    ----------
    seed : int
        The seed given to ``torch.manual_seed``.

    Returns
    -------
    contextmanager
        Holds the lock until the block ends.

    Examples
    --------
    >>> with seeded(3):
    ...     a = torch.nn.Linear(2, 2).weight.detach().clone()
    >>> with seeded(3):
    ...     b = torch.nn.Linear(2, 2).weight.detach().clone()
    >>> bool(torch.equal(a, b))
    True
    """
    with _SEEDING:
        torch.manual_seed(int(seed))
        yield


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


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch ops on one intra-op thread inside the block (restored afterwards).

    The models trained here are small (GEMMs of 32-64 rows): splitting them over threads
    gains nothing on a quiet machine and, when another process holds a core, torch's
    spinning threads wait on each other - training a digits MLP took 29 s instead of
    0.7 s with one busy core (measured side by side). Also usable as a decorator.

    Returns
    -------
    contextmanager
        Restores torch's thread count on exit.

    Examples
    --------
    >>> n = torch.get_num_threads()
    >>> with one_thread():
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == n
    True
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@one_thread()
def train_steps(
    module: nn.Module, X: np.ndarray, y: np.ndarray, *, epochs: int, lr: float, seed: int,
    batch_size: int = 64, weight_decay: float = 0.0, ascent: bool = False, max_steps: int | None = None,
) -> nn.Module:
    """The one minibatch training loop: Adam on cross-entropy, in place, deterministic per seed.

    Used by the ``torch-mlp`` recipe (:func:`train_mlp`), the built-in scenarios and the
    baseline unlearning methods (fine-tune, gradient ascent, random labels, SISA, FedAvg,
    UNSIR). Every epoch visits the rows in an order drawn from ``torch.Generator(seed)``.
    (The batched shadow ensemble, :func:`audit.training.shadows.train_mlp_ensemble`, runs the same
    Adam over many models at once: decision record 0004.)

    Parameters
    ----------
    module : torch.nn.Module
        The network, trained in place (left in eval mode).
    X : ndarray, shape (n, features)
        Inputs (cast to float32).
    y : ndarray, shape (n,)
        Integer labels.
    epochs : int
        Passes over the rows.
    lr : float
        Adam's learning rate.
    seed : int
        Seed of the minibatch order.
    batch_size : int
        Rows per step.
    weight_decay : float
        Adam's L2 weight decay.
    ascent : bool
        Ascend the cross-entropy instead (gradient-ascent unlearning).
    max_steps : int, optional
        Stop after this many steps.

    Returns
    -------
    torch.nn.Module
        ``module`` itself, trained.

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(32, 3)).astype("float32"); y = (X[:, 0] > 0).astype(int)
    >>> m = train_steps(seeded_mlp(3, 2, (4,), 0), X, y, epochs=2, lr=1e-2, seed=0, batch_size=8)
    >>> m.training, TorchModule(m).predict_logits(X).shape
    (False, (32, 2))
    """
    gen = torch.Generator().manual_seed(int(seed))
    Xt = torch.as_tensor(np.require(X, dtype=np.float32, requirements="W"))  # torch wants writeable memory
    yt = torch.as_tensor(np.require(y, dtype=np.int64, requirements="W"))
    opt = torch.optim.Adam(module.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    steps = 0
    module.train()
    for _ in range(int(epochs)):
        perm = torch.randperm(len(Xt), generator=gen)
        for start in range(0, len(Xt), batch_size):
            idx = perm[start : start + batch_size]
            opt.zero_grad()
            loss = loss_fn(module(Xt[idx]), yt[idx])
            (-loss if ascent else loss).backward()
            opt.step()
            steps += 1
            if max_steps is not None and steps >= max_steps:
                return module.eval()
    return module.eval()


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


class TorchModule:
    """Adapter over an in-memory ``torch.nn.Module`` returning logits.

    Parameters
    ----------
    module : torch.nn.Module
        A network returning logits (set to eval mode).
    sha256 : str, optional
        Digest of the file it was loaded from.
    """

    format = "torch-module"

    def __init__(self, module: nn.Module, sha256: str | None = None) -> None:
        self.module = module.eval()
        self.sha256 = sha256

    def predict_logits(self, X: np.ndarray) -> np.ndarray:
        """The module's outputs on ``X`` (float32 in, float64 out, no gradients).

        Parameters
        ----------
        X : ndarray or DataFrame, shape (n, features)
            Inputs (a DataFrame for a model that takes its features by name).

        Returns
        -------
        ndarray, shape (n, classes)
            Logits or log-probabilities (a regressor: its predictions, ``[n, 1]``).
        """
        with torch.no_grad():
            out = self.module(torch.from_numpy(np.array(X, dtype=np.float32)))
        return out.double().numpy()

    def parameters(self) -> dict[str, np.ndarray]:
        """The module's state dict as float64 arrays.

        Returns
        -------
        dict of str to ndarray or None
            The model's parameters by name, float64 copies (None when it exposes none).
        """
        return {k: v.detach().double().numpy().copy() for k, v in self.module.state_dict().items()}


class SklearnModel:
    """Adapter over a fitted scikit-learn classifier (log of ``predict_proba``) or regressor.

    A regressor (``sklearn.base.is_regressor``, or an estimator with ``predict`` but neither
    ``predict_proba`` nor ``decision_function``) returns its predictions as one column
    ``[n, 1]``; ``task`` says which it is.

    Parameters
    ----------
    estimator : estimator
        A fitted scikit-learn classifier, regressor or pipeline.
    sha256 : str, optional
        Digest of the file it was loaded from.

    Examples
    --------
    >>> from sklearn.linear_model import Ridge
    >>> X = np.arange(8.0).reshape(4, 2); m = SklearnModel(Ridge().fit(X, X[:, 0]))
    >>> m.task, m.predict_logits(X).shape
    ('regression', (4, 1))
    """

    format = "sklearn"

    def __init__(self, estimator: Any, sha256: str | None = None) -> None:
        self.estimator = estimator
        self.sha256 = sha256
        self.task = sklearn_task(estimator)
        self.classes = getattr(estimator, "classes_", None) if self.task == "classification" else None

    def predict_logits(self, X: np.ndarray) -> np.ndarray:
        """Log of ``predict_proba`` (or the decision function; a regressor: ``predict``, one column).

        Parameters
        ----------
        X : ndarray or DataFrame, shape (n, features)
            Inputs (a DataFrame for a model that takes its features by name).

        Returns
        -------
        ndarray, shape (n, classes)
            Logits or log-probabilities (a regressor: its predictions, ``[n, 1]``).
        """
        est = self.estimator
        if self.task == "regression":
            return np.asarray(est.predict(X), dtype=np.float64).reshape(len(X), -1)
        if hasattr(est, "predict_proba"):
            p = np.asarray(est.predict_proba(X), dtype=np.float64)
            return np.log(np.clip(p, 1e-12, 1.0))
        d = np.asarray(est.decision_function(X), dtype=np.float64)
        if d.ndim == 1:
            return np.stack([np.zeros_like(d), d], axis=1)
        return d

    def parameters(self) -> dict[str, np.ndarray]:
        """Coefficients and intercepts of the (last step's) estimator.

        Returns
        -------
        dict of str to ndarray or None
            The model's parameters by name, float64 copies (None when it exposes none).
        """
        est = self.estimator
        steps = getattr(est, "steps", None)
        if steps:
            est = steps[-1][1]
        out: dict[str, np.ndarray] = {}
        for name in ("coef_", "intercept_"):
            if hasattr(est, name):
                out[name.rstrip("_")] = np.asarray(getattr(est, name), dtype=np.float64)
        for name in ("coefs_", "intercepts_"):
            for i, a in enumerate(getattr(est, name, []) or []):
                out[f"{name.rstrip('_')}.{i}"] = np.asarray(a, dtype=np.float64)
        return out


def sklearn_task(estimator: Any) -> str:
    """``"regression"`` or ``"classification"`` for a scikit-learn estimator (or pipeline).

    Parameters
    ----------
    estimator : estimator
        A scikit-learn estimator or pipeline.

    Returns
    -------
    str

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression, Ridge
    >>> sklearn_task(Ridge()), sklearn_task(LogisticRegression())
    ('regression', 'classification')
    """
    from sklearn.base import is_classifier, is_regressor

    if is_regressor(estimator):
        return "regression"
    if is_classifier(estimator) or hasattr(estimator, "predict_proba") or hasattr(estimator, "decision_function"):
        return "classification"
    return "regression" if hasattr(estimator, "predict") else "classification"


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
    if spec == "bayes-logreg":  # Bayesian logistic regression by VI (audit.lab.methods.bayes)
        from audit.lab.methods.bayes import fit_bayes_logreg

        return Recipe(spec, fit_bayes_logreg, params)
    if spec == "logreg":  # binary L2 logistic regression, the model Newton / influence removal need
        from audit.lab.methods.linear import fit_logreg_recipe

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
