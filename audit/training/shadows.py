"""Shadow models: trained (or read from a disk cache) and their outputs on every audited row.

* ``torch-mlp`` recipes: the K shadows are trained **together**, as one batched ensemble
  (:func:`audit.training.mlp_ensemble.train_mlp_ensemble_on_workers`: stacked weights, one
  group of models per core or per Dask worker; each shadow equals the model
  :func:`audit.training.recipes.train_mlp` would have trained, to float rounding).
* any other recipe (``sklearn``, ``pkg.mod:function``): one fit per shadow through
  ``joblib.Parallel`` — under ``joblib.parallel_config(backend="dask")`` a Dask cluster
  takes the work over unchanged.
* Disk cache: each shadow's log-probabilities on the audited rows are stored under a key
  hashing (data, training subset, recipe name and parameters, seed); a rerun trains
  nothing (``ShadowSet.trained`` counts fits).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from audit.core.outputs import normalise_logits
from audit.training import cluster
from audit.training.mlp_ensemble import ensemble_logits, train_mlp_ensemble_on_workers
from audit.training.recipes import Recipe

__all__ = ["ShadowSet", "train_shadows", "case_shadows", "shadow_key"]


def shadow_key(X: np.ndarray, y: np.ndarray, subset: np.ndarray, recipe: Recipe, seed: int) -> str:
    """Cache key: SHA-256 over the data, the training subset, the recipe and the seed.

    Parameters
    ----------
    X, y : ndarray
        The rows.
    subset : ndarray
        The shadow's training rows.
    recipe : Recipe
        Its recipe.
    seed : int
        Its seed.

    Returns
    -------
    str

    Examples
    --------
    >>> from audit.training.recipes import get_recipe
    >>> X, y, rec = np.zeros((4, 2), np.float32), np.array([0, 1, 0, 1]), get_recipe("torch-mlp", {"epochs": 2})
    >>> key = shadow_key(X, y, np.array([2, 0]), rec, 3)
    >>> key == shadow_key(X, y, np.array([0, 2]), rec, 3), key == shadow_key(X, y, np.array([0, 2]), rec, 4)
    (True, False)
    """
    h = hashlib.sha256()
    for arr in (np.ascontiguousarray(X, np.float32), np.ascontiguousarray(y, np.int64),
                np.ascontiguousarray(np.sort(subset), np.int64)):
        h.update(arr.tobytes())
    h.update(json.dumps({"recipe": recipe.name, "params": recipe.params, "seed": int(seed)},
                        sort_keys=True, default=str).encode())
    return h.hexdigest()


@dataclass
class ShadowSet:
    """Log-probabilities of K shadows on all rows, ``logp [K, n, C]``, and who trained on what.

    Parameters
    ----------
    logp : ndarray, shape (K, n, C)
        The shadows' log-probabilities.
    member : ndarray of bool, shape (K, n)
        Shadow ``k`` trained on row ``i``.
    trained : int
        Shadows trained (not read from the cache).
    """

    logp: np.ndarray
    member: np.ndarray  # [K, n] bool: shadow k trained on row i
    trained: int  # shadows actually fitted in this call (0 when all came from the cache)


def _fit_predict(recipe: Recipe, X: np.ndarray, y: np.ndarray, sub: np.ndarray, n_classes: int,
                 seed: int) -> np.ndarray:
    model = recipe.fit(X[sub], y[sub], n_classes, int(seed))
    return normalise_logits(model.predict_logits(X)).astype(np.float32)


def _fit_predict_job(job: tuple[Any, ...]) -> np.ndarray:
    return _fit_predict(*job)


def _torch_params(recipe: Recipe) -> dict[str, Any]:
    p = dict(recipe.params)
    if "hidden" in p:
        p["hidden"] = tuple(p["hidden"])
    return p


def train_shadows(
    recipe: Recipe,
    X: np.ndarray,
    y: np.ndarray,
    subsets: list[np.ndarray],
    seeds: list[int],
    n_classes: int,
    cache_dir: str | Path | None = None,
    n_jobs: int = 1,
) -> ShadowSet:
    """Train (or load) one shadow per (subset, seed) and return its outputs on every row of ``X``.

    Parameters
    ----------
    recipe : Recipe
        How to train.
    X, y : ndarray
        Every row.
    subsets : list of ndarray
        Each shadow's training rows.
    seeds : list of int
        Their seeds.
    n_classes : int
        Output width.
    cache_dir : path, optional
        Shadow-output cache.
    n_jobs : int
        Local workers.

    Returns
    -------
    ShadowSet

    Examples
    --------
    >>> from audit.training.recipes import get_recipe
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 3)).astype("float32"); y = (X[:, 0] > 0).astype(int)
    >>> subs = [rng.choice(40, 20, replace=False) for _ in range(4)]
    >>> s = train_shadows(get_recipe("torch-mlp", {"epochs": 2}), X, y, subs, [0, 1, 2, 3], 2)
    >>> s.logp.shape, s.member.sum(axis=1).tolist(), s.trained
    ((4, 40, 2), [20, 20, 20, 20], 4)
    """
    n = len(X)
    keys = [shadow_key(X, y, s, recipe, sd) for s, sd in zip(subsets, seeds, strict=True)]
    cache = Path(cache_dir) if cache_dir else None
    out: list[np.ndarray | None] = [None] * len(keys)
    if cache is not None:
        for k, key in enumerate(keys):
            f = cache / f"{key}.npy"
            if f.is_file():
                out[k] = np.load(f)
    todo = [k for k in range(len(keys)) if out[k] is None]
    if todo and recipe.name == "torch-mlp":
        params = train_mlp_ensemble_on_workers(X, y, [subsets[k] for k in todo], n_classes,
                                               [seeds[k] for k in todo], **_torch_params(recipe))
        with torch.no_grad():
            logits = ensemble_logits(params, torch.as_tensor(np.asarray(X, np.float32))).double().numpy()
        for j, k in enumerate(todo):
            out[k] = normalise_logits(logits[j]).astype(np.float32)
    elif todo:
        res = cluster.parallel_map(_fit_predict_job, [(recipe, X, y, subsets[k], n_classes, seeds[k])
                                                      for k in todo], n_jobs)
        for k, r in zip(todo, res, strict=True):
            out[k] = r
    if cache is not None and todo:
        cache.mkdir(parents=True, exist_ok=True)
        for k in todo:
            np.save(cache / f"{keys[k]}.npy", out[k])
    member = np.zeros((len(keys), n), dtype=bool)
    for k, s in enumerate(subsets):
        member[k, s] = True
    return ShadowSet(np.stack(out), member, len(todo))  # type: ignore[arg-type]


def case_shadows(case: Any, n_shadows: int, seed: int, cache_dir: str | Path | None = None,
                 n_jobs: int = 1) -> tuple[ShadowSet, int, int]:
    """Shadows for auditing a case: each trains on all retain rows plus a random half of the
    forget and test rows, balanced so every forget/test row is IN for exactly half of them.

    Returns ``(shadows, n_forget, n_test)`` where the shadow outputs cover the rows
    ``forget`` then ``test`` (in the case's order), ready for LiRA / RMIA.

    Parameters
    ----------
    case : AuditCase
        The case (its recipe and rows).
    n_shadows : int
        Shadows (even).
    seed : int
        Seed of the halves and the shadows.
    cache_dir : path, optional
        Shadow-output cache.
    n_jobs : int
        Local workers.

    Returns
    -------
    shadows : ShadowSet
    n_forget, n_test : int
    """
    from audit.training.recipes import get_recipe

    if not getattr(case, "recipe", None):
        raise ValueError("the case has no [training] recipe")
    if n_shadows < 4 or n_shadows % 2:
        raise ValueError("n_shadows must be an even number >= 4")
    recipe = get_recipe(case.recipe, case.recipe_params, original=case.models["original"])
    Xs = [case.X(s) for s in ("forget", "test", "retain")]
    ys = [case.y(s) for s in ("forget", "test", "retain")]
    X, y = np.concatenate(Xs), np.concatenate(ys)
    n_ft = len(Xs[0]) + len(Xs[1])
    rng = np.random.default_rng([int(seed), 0x5EAD])
    inside = np.argsort(rng.random((n_shadows, n_ft)), axis=0) < n_shadows // 2  # [K, n_ft]
    retain = np.arange(n_ft, len(X))
    subsets = [np.r_[np.flatnonzero(inside[k]), retain] for k in range(n_shadows)]
    seeds = [int(rng.integers(0, 2**31 - 1)) for _ in range(n_shadows)]
    sh = train_shadows(recipe, X, y, subsets, seeds, case.n_classes, cache_dir, n_jobs)
    return ShadowSet(sh.logp[:, :n_ft], sh.member[:, :n_ft], sh.trained), len(Xs[0]), len(Xs[1])
