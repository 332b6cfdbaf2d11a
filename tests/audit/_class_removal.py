"""A digits class-removal world for the class-removal baselines' known-answer tests.

One seed = a fresh split of scikit-learn's digits (30 % test), one class forgotten whole
(every training row of it), the original trained on forget + retain, three references and
one more retrain (the known-good candidate) trained on the retain rows only with other
seeds. :func:`audit_of` scores a candidate with the model audit (the calibrated kernel).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits

from audit.core.case import AuditCase
from audit.engine.runner import run_audit
from audit.training.recipes import get_recipe

MLP = {"hidden": [128], "epochs": 40, "lr": 2e-3, "batch_size": 32}
N_REFERENCES = 3


@dataclass
class World:
    seed: int
    cls: int
    frame: pd.DataFrame
    forget: tuple[np.ndarray, np.ndarray]
    retain: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    recipe: Any
    original: Any
    references: list[Any]
    retrain: Any
    retrain_seconds: float


@cache
def world(seed: int) -> World:
    """Build (once per process) the class-removal world of ``seed``."""
    import time

    ds = load_digits()
    X = (ds.data / 16.0).astype(np.float32)
    y = ds.target.astype(np.int64)
    rng = np.random.default_rng(1000 + seed)
    test = np.zeros(len(X), bool)
    test[rng.permutation(len(X))[: int(0.3 * len(X))]] = True
    cls = int(rng.integers(10))
    split = np.where(test, "test", np.where(y == cls, "forget", "retain"))
    frame = pd.DataFrame(X, columns=[f"px{i:02d}" for i in range(X.shape[1])])
    frame["label"], frame["split"] = y, split
    part = {s: (X[split == s], y[split == s]) for s in ("forget", "retain", "test")}
    recipe = get_recipe("torch-mlp", MLP)
    train = split != "test"
    original = recipe.fit(X[train], y[train], 10, seed=10 * seed)
    refs = [recipe.fit(*part["retain"], 10, seed=10 * seed + 1 + i) for i in range(N_REFERENCES)]
    t0 = time.perf_counter()
    retrain = recipe.fit(*part["retain"], 10, seed=10 * seed + 9)
    seconds = time.perf_counter() - t0
    return World(seed, cls, frame, part["forget"], part["retain"], part["test"], recipe, original,
                 refs, retrain, seconds)


def audit_of(w: World, candidate: Any) -> dict[str, Any]:
    """The model audit of ``candidate`` against the world's references."""
    case = AuditCase(original=w.original, unlearned=candidate, retrained=w.references, data=w.frame,
                     label="label", split="split", name=f"class removal seed {w.seed}")
    return run_audit(case, seed=w.seed)


def accuracies(w: World, model: Any) -> dict[str, float]:
    """Accuracy on the forgotten class, the retain rows and the test rows without the class."""
    def acc(X: np.ndarray, y: np.ndarray) -> float:
        return float((np.asarray(model.predict_logits(X)).argmax(1) == y).mean())

    keep = w.test[1] != w.cls
    return {"forget": acc(*w.forget), "retain": acc(*w.retain),
            "test": acc(w.test[0][keep], w.test[1][keep])}
