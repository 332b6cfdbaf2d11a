"""Shadow models: the batched ensemble equals the per-model loop; cache; joblib; Dask."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from audit.core.model_objects import SklearnModel
from audit.training.mlp_ensemble import ensemble_logits, train_mlp_ensemble
from audit.training.recipes import Recipe, get_recipe, train_mlp
from audit.training.shadows import train_shadows


@pytest.fixture(scope="module")
def digits():
    ds = load_digits()
    return (ds.data / 16.0).astype(np.float32), ds.target


@pytest.mark.parametrize("sizes", [(300, 250), (300, 300)])  # masked Adam path / fused Adam path
def test_batched_ensemble_equals_the_loop_of_train_mlp(digits, sizes) -> None:
    X, y = digits
    rng = np.random.default_rng(0)
    subs = [rng.choice(len(X), n, replace=False) for n in sizes]
    kw = {"hidden": (32, 16), "epochs": 3, "lr": 2e-3, "batch_size": 32, "weight_decay": 1e-4}
    params = train_mlp_ensemble(X, y, subs, 10, [5, 6], **kw)
    with torch.no_grad():
        batched = ensemble_logits(params, torch.as_tensor(X)).numpy()
    for k, (sub, seed) in enumerate(zip(subs, [5, 6], strict=True)):
        m = train_mlp(X[sub], y[sub], 10, seed, **kw)
        with torch.no_grad():
            loop = m(torch.as_tensor(X)).numpy()
        np.testing.assert_allclose(batched[k], loop, atol=2e-3)


def test_cache_makes_a_rerun_train_nothing(digits, tmp_path) -> None:
    X, y = digits[0][:200], digits[1][:200]
    rec = get_recipe("torch-mlp", {"epochs": 2, "hidden": [16]})
    subs = [np.arange(0, 100), np.arange(100, 200)]
    a = train_shadows(rec, X, y, subs, [0, 1], 10, cache_dir=tmp_path)
    b = train_shadows(rec, X, y, subs, [0, 1], 10, cache_dir=tmp_path)
    assert (a.trained, b.trained) == (2, 0)
    np.testing.assert_array_equal(a.logp, b.logp)
    c = train_shadows(rec, X, y, subs, [0, 2], 10, cache_dir=tmp_path)  # new seed: only it trains
    assert c.trained == 1
    assert a.member.sum(axis=1).tolist() == [100, 100]


def _sklearn_recipe() -> Recipe:
    return get_recipe("sklearn", original=SklearnModel(LogisticRegression(max_iter=200)))


def test_sklearn_shadows_run_through_joblib(digits) -> None:
    X, y = digits[0][:300], digits[1][:300]
    subs = [np.arange(0, 150), np.arange(150, 300)]
    s = train_shadows(_sklearn_recipe(), X, y, subs, [0, 1], 10, n_jobs=2)
    assert s.logp.shape == (2, 300, 10) and s.trained == 2
    np.testing.assert_allclose(np.exp(s.logp).sum(-1), 1.0, atol=1e-5)


def test_shadows_train_on_a_dask_cluster_through_joblib(digits) -> None:
    distributed = pytest.importorskip("distributed")
    import joblib

    X, y = digits[0][:300], digits[1][:300]
    subs = [np.arange(0, 150), np.arange(150, 300)]
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp",
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client, joblib.parallel_backend("dask"):
        s = train_shadows(_sklearn_recipe(), X, y, subs, [0, 1], 10, n_jobs=-1)
        assert client.scheduler_info()["workers"]
    local = train_shadows(_sklearn_recipe(), X, y, subs, [0, 1], 10)
    np.testing.assert_allclose(s.logp, local.logp, atol=1e-6)


def test_seeded_initialisation_is_thread_safe() -> None:
    """Threads seeding torch's global generator at once (a threaded Dask worker) get their own seed's weights."""
    from concurrent.futures import ThreadPoolExecutor

    from audit.training.recipes import seeded_mlp

    def weights(seed: int) -> np.ndarray:
        return seeded_mlp(64, 10, (128,), seed).net[0].weight.detach().numpy().copy()

    expected = {s: weights(s) for s in range(8)}
    with ThreadPoolExecutor(8) as pool:
        for _ in range(5):
            got = list(pool.map(weights, list(range(8)) * 4))
            for i, w in enumerate(got):
                np.testing.assert_array_equal(w, expected[i % 8])
