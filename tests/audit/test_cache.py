"""The output cache runs each (model, split) once; checks never call a model again."""

from __future__ import annotations

import numpy as np

from audit.core.case import AuditCase
from audit.engine.runner import run_audit


class CountingModel:
    format = "callable"
    sha256 = None

    def __init__(self, w: np.ndarray) -> None:
        self.w = w
        self.rows = 0
        self.calls = 0

    def predict_logits(self, X: np.ndarray) -> np.ndarray:
        self.calls += 1
        self.rows += len(X)
        z = X @ self.w
        return np.stack([np.zeros_like(z), z], axis=1)


def test_each_model_split_runs_once(tiny_frame) -> None:
    rng = np.random.default_rng(0)
    models = [CountingModel(rng.normal(size=4)) for _ in range(4)]
    case = AuditCase(original=models[0], unlearned=models[1], retrained=models[2:],
                     data=tiny_frame, label="label", split="split", groups=["school"], id="row_id")
    probe_rows = [m.rows for m in models]
    results = run_audit(case, policy={"general": {"batch_size": 64}})
    assert len(results["checks"]) >= 2
    n_total = len(tiny_frame)
    split_sizes = {40, 160, 100}
    for m, probe in zip(models, probe_rows, strict=True):
        # after validation's probe, each split a model is needed on runs at most once
        ran = m.rows - probe
        assert ran <= n_total
        assert ran in {a + b for a in split_sizes for b in split_sizes if a != b} | {n_total}
    # a second audit on the same cache adds no forward pass
    from audit.core.cache import OutputCache

    cache = OutputCache(case.models, case.X, case.y, batch_size=64)
    run_audit(case, cache=cache)
    before = [m.rows for m in models]
    run_audit(case, cache=cache)
    assert [m.rows for m in models] == before
    assert all(v == 1 for v in cache.calls.values())


def test_batches_respect_batch_size(tiny_frame) -> None:
    m = CountingModel(np.ones(4))
    case = AuditCase(original=m, unlearned=m, retrained=[m], data=tiny_frame,
                     groups=["school"], id="row_id")
    from audit.core.cache import OutputCache

    cache = OutputCache(case.models, case.X, case.y, batch_size=16)
    calls_before = m.calls
    cache.logprobs("original", "retain")
    assert m.calls - calls_before == int(np.ceil(160 / 16))
