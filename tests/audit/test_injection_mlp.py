"""Attribution-based feature injection on MLPs: retrain ~0, no-op 1, approximate methods between."""

import numpy as np
import pytest

from audit.lab.injection import attribution_ratio, inject_feature
from audit.lab.methods import unlearn
from audit.training.recipes import get_recipe


def _setup(seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(400, 6))
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    forget = np.zeros(400, dtype=bool)
    forget[rng.choice(400, 40, replace=False)] = True
    y[forget] = 2  # a class only the injected feature predicts
    Xa = inject_feature(X, forget, value=2.0).astype(np.float32)
    return Xa, y, forget


@pytest.mark.parametrize("seed", [0, 1])
def test_attribution_ratio_known_answers(seed):
    X, y, forget = _setup(seed)
    recipe = get_recipe("torch-mlp", {"hidden": [32], "epochs": 30, "lr": 3e-3})
    original = recipe.fit(X, y, 3, seed=seed)
    F, R = (X[forget], y[forget]), (X[~forget], y[~forget])
    ratio = {}
    for m in ("retrain", "noop", "finetune"):
        u = unlearn(m, original, F, R, recipe, seed=seed + 10).model
        ratio[m] = attribution_ratio(u.predict_logits, original.predict_logits, F[0], F[1])
    assert ratio["noop"] == pytest.approx(1.0)
    assert abs(ratio["retrain"]) < 0.1
    assert ratio["finetune"] > ratio["retrain"]  # fine-tuning never sees the feature again
