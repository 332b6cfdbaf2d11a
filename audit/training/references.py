"""Extra retrained references trained on demand (``[references] train = k`` with a recipe).

The audit's null is *what a fresh retrain would score*; estimating the retrain-to-retrain
(seed) spread needs several references, and users often ship one or two. With a
``[training] recipe`` the case can ask for ``k`` more:

* each is trained with the case's recipe on the **retain rows only**, with its own seed;
* seeds come from :func:`reference_seeds`: ``k`` distinct values drawn by
  ``numpy.random.SeedSequence([reference_seed, 0x2EF5])`` and moved into
  ``[2**31, 2**32)`` — disjoint from the shadow models' seeds (drawn below ``2**31`` by
  :func:`audit.training.shadows.case_shadows`) and from the small seeds people and the built-in
  scenarios train their own references with, and still a valid ``random_state``;
* ``torch-mlp`` references train together as one batched ensemble
  (:func:`audit.training.mlp_ensemble.train_mlp_ensemble`, the shadows' own trainer); any other recipe
  fits one model per seed through ``joblib`` (on a Dask cluster, :mod:`audit.training.cluster`,
  the ensemble is split per worker and the fits spread over the workers);
* nothing is cached on disk: the shadow cache stores outputs on the audited rows, while a
  reference must stay a model (every check runs it, parameter distance reads its weights).

Each trained adapter carries ``sha256`` (a digest of its recipe, seed, parameters and its
outputs on the training rows: same seed, same digest) and ``provenance``
(``{"source": "trained", "seed", "recipe", "trained_on": "retain"}``), which the runner
writes to ``results.json``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from audit.core.adapters import load_model
from audit.core.model_objects import TorchModule
from audit.shared.errors import BadInput
from audit.training import cluster
from audit.training.mlp_ensemble import train_mlp_ensemble_on_workers
from audit.training.recipes import MLP, Recipe, seeded_mlp

__all__ = ["MAX_TRAINED_REFERENCES", "SEED_FLOOR", "reference_seeds", "validate_reference_request",
           "train_references", "ensemble_modules", "model_digest"]

MAX_TRAINED_REFERENCES = 64
SEED_FLOOR = 2**31  # trained references' seeds live in [2**31, 2**32); shadows' below 2**31
_DOMAIN = 0x2EF5  # separates this seed stream from every other SeedSequence of the suite


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def validate_reference_request(train: Any, seed: Any, recipe: str | None) -> tuple[int, int]:
    """Check ``[references] train`` / ``seed`` and return them as ints.

    Raises :class:`~audit.shared.errors.BadInput` naming ``references.train`` (not an integer in
    ``0..64``, or no ``[training] recipe`` to train with) or ``references.seed`` (not a
    non-negative integer).

    Parameters
    ----------
    train : any
        ``[references] train``.
    seed : any
        ``[references] seed``.
    recipe : str or None
        The case's ``[training] recipe``.

    Returns
    -------
    (int, int)

    Examples
    --------
    >>> validate_reference_request(4, 0, "torch-mlp")
    (4, 0)
    >>> validate_reference_request(4, 0, None)
    Traceback (most recent call last):
    ...
    audit.shared.errors.BadInput: references.train: needs a [training] recipe to train references with
    """
    if not _is_int(train) or not 0 <= int(train) <= MAX_TRAINED_REFERENCES:
        raise BadInput("references.train",
                       f"must be an integer from 0 to {MAX_TRAINED_REFERENCES}, got {train!r}")
    if not _is_int(seed) or int(seed) < 0:
        raise BadInput("references.seed", f"must be a non-negative integer, got {seed!r}")
    if int(train) and not recipe:
        raise BadInput("references.train", "needs a [training] recipe to train references with")
    return int(train), int(seed)


def reference_seeds(reference_seed: int, k: int) -> list[int]:
    """``k`` distinct training seeds in ``[2**31, 2**32)`` derived from ``reference_seed``.

    Deterministic; the first ``j`` seeds do not depend on ``k``, so asking for more
    references keeps the ones already trained.

    Parameters
    ----------
    reference_seed : int
        ``[references] seed``.
    k : int
        References.

    Returns
    -------
    list of int

    Examples
    --------
    >>> s = reference_seeds(0, 4)
    >>> len(set(s)) == 4 and all(2**31 <= x < 2**32 for x in s)
    True
    >>> reference_seeds(0, 2) == s[:2]
    True
    """
    words = np.random.SeedSequence([int(reference_seed), _DOMAIN]).generate_state(4 * k + 8, np.uint32)
    seeds: list[int] = []
    for w in words:
        s = SEED_FLOOR | (int(w) >> 1)
        if s not in seeds:
            seeds.append(s)
        if len(seeds) == k:
            return seeds
    raise RuntimeError("could not derive distinct seeds")  # pragma: no cover - p < 1e-100


def ensemble_modules(params: list[torch.Tensor]) -> list[MLP]:
    """Unstack :func:`~audit.training.mlp_ensemble.train_mlp_ensemble` parameters into one :class:`MLP` each.

    Parameters
    ----------
    params : list of torch.Tensor
        Stacked parameters ``[W1 [K, h, d], b1 [K, h, 1], ...]``.

    Returns
    -------
    list of MLP

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(20, 3)).astype("float32")
    >>> from audit.training.mlp_ensemble import train_mlp_ensemble
    >>> params = train_mlp_ensemble(X, (X[:, 0] > 0).astype(int), [np.arange(20)] * 2, 2,
    ...                             [1, 2], hidden=(5,), epochs=1)
    >>> [tuple(m.net[0].weight.shape) for m in ensemble_modules(params)]
    [(5, 3), (5, 3)]
    """
    n_layers = len(params) // 2
    n_features, n_classes = params[0].shape[2], params[-2].shape[1]
    hidden = tuple(int(params[2 * j].shape[1]) for j in range(n_layers - 1))
    modules = []
    for k in range(params[0].shape[0]):
        mod = seeded_mlp(n_features, n_classes, hidden, 0)  # under the seeding lock; weights overwritten
        lins = [m for m in mod.net if isinstance(m, torch.nn.Linear)]
        with torch.no_grad():
            for j, lin in enumerate(lins):
                lin.weight.copy_(params[2 * j][k])
                lin.bias.copy_(params[2 * j + 1][k, :, 0])
        modules.append(mod.eval())
    return modules


def model_digest(model: Any, recipe: Recipe, seed: int, X: np.ndarray) -> str:
    """SHA-256 identifying a trained model: recipe, seed, parameters and outputs on ``X``.

    Parameters
    ----------
    model : adapter
        The trained model.
    recipe : Recipe
        How it was trained.
    seed : int
        Its seed.
    X : ndarray
        Rows whose outputs enter the digest.

    Returns
    -------
    str

    Examples
    --------
    >>> from audit.core.adapters import CallableModel
    >>> m = CallableModel(lambda X: np.zeros((len(X), 2)))
    >>> len(model_digest(m, Recipe("f", print), 7, np.ones((3, 2))))
    64
    """
    h = hashlib.sha256(json.dumps({"recipe": recipe.name, "params": recipe.params, "seed": int(seed)},
                                  sort_keys=True, default=str).encode())
    getter = getattr(model, "parameters", None)
    params = getter() if callable(getter) else None
    for name, value in sorted((params or {}).items()):
        h.update(name.encode())
        h.update(np.ascontiguousarray(value, np.float64).tobytes())
    h.update(np.ascontiguousarray(model.predict_logits(X), np.float32).tobytes())
    return h.hexdigest()


def _fit_one(job: tuple[Any, ...]) -> Any:
    recipe, X, y, n_classes, seed = job
    return recipe.fit(X, y, n_classes, seed)


def _fit_all(recipe: Recipe, X: np.ndarray, y: np.ndarray, n_classes: int, seeds: list[int],
             n_jobs: int) -> list[Any]:
    if recipe.name == "torch-mlp":
        params = train_mlp_ensemble_on_workers(X, y, [np.arange(len(X))] * len(seeds), n_classes, seeds,
                                               **recipe.params)
        return [TorchModule(m) for m in ensemble_modules(params)]
    fitted = cluster.parallel_map(_fit_one, [(recipe, X, y, n_classes, s) for s in seeds], n_jobs)
    return [load_model(m, "training.recipe") for m in fitted]


def train_references(recipe: Recipe, X: np.ndarray, y: np.ndarray, n_classes: int,
                     seeds: Sequence[int], n_jobs: int = 1) -> list[Any]:
    """Train one reference per seed on ``(X, y)`` — the retain rows — and label each.

    Returns adapters with ``sha256``, ``format`` and ``provenance``. A recipe that fails
    raises :class:`~audit.shared.errors.BadInput` naming ``training.recipe``.

    Parameters
    ----------
    recipe : Recipe
        The case's recipe.
    X, y : ndarray
        The retain rows.
    n_classes : int
        Output width.
    seeds : sequence of int
        One reference per seed.
    n_jobs : int
        Local workers.

    Returns
    -------
    list of adapter

    Examples
    --------
    >>> from audit.training.recipes import get_recipe
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 3)).astype("float32"); y = (X[:, 0] > 0).astype(int)
    >>> refs = train_references(get_recipe("torch-mlp", {"epochs": 2}), X, y, 2, reference_seeds(0, 3))
    >>> [r.provenance["source"] for r in refs], refs[0].predict_logits(X).shape
    (['trained', 'trained', 'trained'], (40, 2))
    """
    seeds = [int(s) for s in seeds]
    try:
        models = _fit_all(recipe, X, y, n_classes, seeds, n_jobs)
    except BadInput:
        raise
    except Exception as exc:  # noqa: BLE001 - report the recipe, not a traceback
        raise BadInput("training.recipe", f"training the extra references failed: "
                       f"{exc.__class__.__name__}: {exc}") from exc
    for model, seed in zip(models, seeds, strict=True):
        model.sha256 = model_digest(model, recipe, seed, X)
        model.provenance = {"source": "trained", "seed": seed, "recipe": recipe.name, "trained_on": "retain"}
    return models
