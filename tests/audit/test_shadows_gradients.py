"""The hand-written ensemble gradients equal autograd's; thread groups change nothing."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from audit.training.mlp_ensemble import (
    _ensemble_grads,
    _init_stack,
    ensemble_logits,
    train_mlp_ensemble,
)


def test_hand_written_gradients_equal_autograd() -> None:
    rng = np.random.default_rng(0)
    k, b, d, c = 3, 16, 7, 4
    params = [p.double() for p in _init_stack(d, c, (9, 5), [0, 1, 2])]
    xb = torch.as_tensor(rng.normal(size=(k, b, d)))
    yb = torch.as_tensor(rng.integers(0, c, size=(k, b)))
    w = torch.ones(k, b, dtype=torch.float64)
    w[1, 10:] = 0  # padding rows of a model whose epoch ran out
    w /= w.sum(1, keepdim=True)
    ref = [p.clone().requires_grad_() for p in params]
    ce = F.cross_entropy(ensemble_logits(ref, xb).reshape(-1, c), yb.reshape(-1), reduction="none")
    (ce.view(k, b) * w).sum().backward()
    mine = _ensemble_grads(params, xb, torch.eye(c, dtype=torch.float64)[yb], w)
    for g, p in zip(mine, ref, strict=True):
        np.testing.assert_allclose(g.numpy(), p.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_thread_groups_train_the_same_models() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 5)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    subs = [rng.choice(120, 60, replace=False) for _ in range(5)]
    kw = {"hidden": (8,), "epochs": 3, "batch_size": 16}
    one = train_mlp_ensemble(X, y, subs, 2, [0, 1, 2, 3, 4], n_threads=1, **kw)
    three = train_mlp_ensemble(X, y, subs, 2, [0, 1, 2, 3, 4], n_threads=3, **kw)
    for a, b in zip(one, three, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)
