"""SISA: exact unlearning equals retraining the affected shard from scratch (same seed)."""

import numpy as np
import pytest
import torch

from audit.lab.methods.sisa import sisa_unlearn, train_shard, train_sisa
from audit.shared.errors import BadInput


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    model = train_sisa(X, y, 2, seed=3, n_shards=4, n_slices=3, hidden=(16,), epochs_per_slice=5, lr=1e-2)
    return X, y, model


def _same(a, b):
    return all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())


def test_unlearning_equals_retraining_affected_shard_from_scratch(setup):
    X, y, model = setup
    # forget two rows of shard 1: one in its middle slice, one in its last
    shard = 1
    rows = [int(model.slices[shard][1][0]), int(model.slices[shard][2][3])]
    keep = np.setdiff1d(np.arange(len(X)), rows)
    out = sisa_unlearn(model, (X[rows], y[rows]), (X[keep], y[keep]), None, seed=0)
    new_slices = [np.setdiff1d(s, rows) for s in model.slices[shard]]
    scratch, _ = train_shard(X, y, new_slices, 2, model.seed, shard, **model.params)
    assert _same(out.modules[shard], scratch)
    # the other shards are untouched; the original ensemble is not mutated
    for i in range(4):
        if i != shard:
            assert out.modules[i] is model.modules[i]
    assert not _same(model.modules[shard], scratch)
    assert out.extra["shards_retrained"] == 1
    assert out.extra["slices_retrained"] == 2  # from the middle slice on
    assert out.extra["work_fraction"] == pytest.approx(2 / 12)
    # no-op control: the original shard differs from the scratch retrain
    np.testing.assert_array_equal(out.votes(X).sum(1), 4)


def test_storage_overhead_reported(setup):
    _, _, model = setup
    # two intermediate checkpoints per shard of the same size as the shard model
    assert model.storage_bytes == 2 * model.model_bytes


def test_unknown_row_is_bad_input(setup):
    X, y, model = setup
    with pytest.raises(BadInput):
        sisa_unlearn(model, (X[:1] + 100, y[:1]), (X, y), None, seed=0)


def test_majority_vote_accuracy(setup):
    X, y, model = setup
    acc = (model.predict_logits(X).argmax(1) == y).mean()
    assert acc > 0.85
