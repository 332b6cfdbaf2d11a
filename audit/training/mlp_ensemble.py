"""The batched MLP ensemble: many ``torch-mlp`` models trained at once, as one set of stacked tensors.

The K models' weights are stacked along a leading model axis; a layer's forward is one
batched matmul (``torch.baddbmm``), its backward two (gradients written out by hand in
:func:`_ensemble_grads`; a test holds them to autograd), and Adam is applied to the stacked
tensors with a per-model step counter. Activations run feature-major (``[K, features, rows]``)
and the models are split into one group per core, each trained by its own Python thread on
single-threaded ops. Each model keeps its own initialisation (``torch.manual_seed(seed)``)
and its own minibatch order (``torch.Generator().manual_seed(seed)``), exactly as
:func:`audit.training.recipes.train_mlp`, so a batched model equals the model the loop would
have trained (to float rounding). On a Dask cluster (:mod:`audit.training.cluster`) the
ensemble is split into one group per worker (:func:`train_mlp_ensemble_on_workers`); the groups
train independently, so the result is the same. The shadow models
(:mod:`audit.training.shadows`), the extra references (:mod:`audit.training.references`) and
the stream scenario's references train through it
(``docs/decisions/0004-batched-shadow-ensemble.md``).
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch

from audit.core.torch_threads import one_thread
from audit.training import cluster
from audit.training.recipes import seeded_mlp

__all__ = ["train_mlp_ensemble", "train_mlp_ensemble_on_workers", "ensemble_logits"]


def _init_stack(n_features: int, n_classes: int, hidden: tuple[int, ...], seeds: list[int]) -> list[torch.Tensor]:
    mods = [seeded_mlp(n_features, n_classes, hidden, s) for s in seeds]
    lins = [[m for m in mod.net if isinstance(m, torch.nn.Linear)] for mod in mods]
    params = []
    for j in range(len(lins[0])):
        params.append(torch.stack([ls[j].weight.detach().clone() for ls in lins]))  # [K, out, in]
        params.append(torch.stack([ls[j].bias.detach()[:, None].clone() for ls in lins]))  # [K, out, 1]
    return params


def ensemble_logits(params: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Batched forward: ``x [K, b, d]`` (or ``[b, d]``, shared) -> logits ``[K, b, C]``.

    Runs feature-major (activations ``[K, features, b]``): with weights in
    ``nn.Linear``'s ``[out, in]`` layout every GEMM then has a wide output (the rows), not
    the 10 classes - 5x faster for the last layer on CPU (measured: 6 vs 34 GFLOP/s).

    Parameters
    ----------
    params : list of torch.Tensor
        Stacked parameters.
    x : torch.Tensor
        ``[K, b, d]`` or ``[b, d]``.

    Returns
    -------
    torch.Tensor, shape (K, b, C)

    Examples
    --------
    >>> params = [torch.ones(2, 3, 4), torch.zeros(2, 3, 1)]   # two models, one layer 4 -> 3
    >>> tuple(ensemble_logits(params, torch.ones(5, 4)).shape)
    (2, 5, 3)
    """
    h = (x if x.dim() == 3 else x.expand(params[0].shape[0], *x.shape)).transpose(1, 2)
    n_layers = len(params) // 2
    for j in range(n_layers):
        h = torch.baddbmm(params[2 * j + 1], params[2 * j], h)
        if j < n_layers - 1:
            h = torch.relu(h)
    return h.transpose(1, 2)


def _epoch_index(subsets: list[np.ndarray], gens: list[torch.Generator], batch_size: int) -> torch.Tensor:
    steps = max(math.ceil(len(s) / batch_size) for s in subsets)
    out = torch.full((len(subsets), steps * batch_size), -1, dtype=torch.long)
    for k, (sub, g) in enumerate(zip(subsets, gens, strict=True)):
        perm = torch.randperm(len(sub), generator=g)
        out[k, : len(sub)] = torch.as_tensor(sub, dtype=torch.long)[perm]
    return out


def train_mlp_ensemble(
    X: np.ndarray,
    y: np.ndarray,
    subsets: list[np.ndarray],
    n_classes: int,
    seeds: list[int],
    *,
    hidden: tuple[int, ...] = (128,),
    epochs: int = 100,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    batch_size: int = 64,
    n_threads: int | None = None,
) -> list[torch.Tensor]:
    """Train ``len(seeds)`` MLPs together, model k on rows ``subsets[k]`` of ``X``.

    Returns the stacked parameters ``[W1 [K, h, d], b1 [K, h, 1], ...]`` (``nn.Linear``
    layout) for :func:`ensemble_logits`. Adam follows ``torch.optim.Adam`` (betas 0.9/0.999,
    eps 1e-8, L2 weight decay added to the gradient); a model whose epoch has no more
    rows in a step (unequal subset sizes) does not step. ``n_threads`` (default: torch's
    thread count) groups of models train side by side, one Python thread each.

    Parameters
    ----------
    X, y : ndarray
        Every row.
    subsets : list of ndarray
        Training rows of each model.
    n_classes : int
        Output width.
    seeds : list of int
        Each model's seed.
    hidden, epochs, lr, weight_decay, batch_size
        As :func:`audit.training.recipes.train_mlp`.
    n_threads : int, optional
        Thread groups.

    Returns
    -------
    list of torch.Tensor

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(30, 3)).astype("float32"); y = (X[:, 0] > 0).astype(int)
    >>> p = train_mlp_ensemble(X, y, [np.arange(20), np.arange(10, 30)], 2, [0, 1], hidden=(8,), epochs=2)
    >>> [tuple(t.shape) for t in p]
    [(2, 8, 3), (2, 8, 1), (2, 2, 8), (2, 2, 1)]
    """
    if len(subsets) != len(seeds):
        raise ValueError("one seed per subset")
    # Tiny GEMMs: torch's intra-op threads only add contention (40x slower on a busy box).
    # Instead the models are split into one group per core and each group is trained by
    # its own Python thread with single-threaded ops (torch releases the GIL in its kernels).
    workers = max(1, min(n_threads or torch.get_num_threads(), len(seeds)))
    groups = [g for g in np.array_split(np.arange(len(seeds)), workers) if len(g)]
    with one_thread():
        # initialise in this thread: torch.manual_seed drives the one global generator
        init = _init_stack(np.shape(X)[1], n_classes, tuple(hidden), seeds)

        def job(g: np.ndarray) -> list[torch.Tensor]:
            return _train_ensemble(X, y, [subsets[i] for i in g], n_classes, [seeds[i] for i in g],
                                   [p[g].clone() for p in init], int(epochs), lr, weight_decay, batch_size)

        if len(groups) == 1:
            parts = [job(groups[0])]
        else:
            with ThreadPoolExecutor(len(groups)) as pool:
                parts = list(pool.map(job, groups))
    return [torch.cat(ps) for ps in zip(*parts, strict=True)]


def _ensemble_group(job: tuple[Any, ...]) -> list[torch.Tensor]:
    X, y, subsets, n_classes, seeds, params = job
    return train_mlp_ensemble(X, y, subsets, n_classes, seeds, **params)


def train_mlp_ensemble_on_workers(X: np.ndarray, y: np.ndarray, subsets: list[np.ndarray],
                                  n_classes: int, seeds: list[int], **params: Any) -> list[torch.Tensor]:
    """:func:`train_mlp_ensemble`, split into one group of models per Dask worker when a
    cluster is active (:func:`audit.training.cluster.workers`); in this process otherwise.

    Each model keeps its own initialisation and minibatch order, so the stacked result
    does not depend on the split.

    Parameters
    ----------
    X, y, subsets, n_classes, seeds
        As :func:`train_mlp_ensemble`.
    **params
        Training settings.

    Returns
    -------
    list of torch.Tensor

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(30, 3)).astype("float32"); y = (X[:, 0] > 0).astype(int)
    >>> p = train_mlp_ensemble_on_workers(X, y, [np.arange(30)] * 3, 2, [0, 1, 2], epochs=2)
    >>> p[0].shape[0]
    3
    """
    n = min(cluster.workers(), len(seeds))
    if n <= 1:
        return train_mlp_ensemble(X, y, subsets, n_classes, seeds, **params)
    groups = [g for g in np.array_split(np.arange(len(seeds)), n) if len(g)]
    jobs = [(X, y, [subsets[i] for i in g], n_classes, [seeds[i] for i in g], params) for g in groups]
    parts = cluster.parallel_map(_ensemble_group, jobs)
    return [torch.cat(ps) for ps in zip(*parts, strict=True)]


def _train_ensemble(X: np.ndarray, y: np.ndarray, subsets: list[np.ndarray], n_classes: int,
                    seeds: list[int], params: list[torch.Tensor], epochs: int, lr: float,
                    weight_decay: float, batch_size: int) -> list[torch.Tensor]:
    Xt = torch.as_tensor(np.require(X, dtype=np.float32, requirements="W"))  # torch wants writeable memory
    yt = torch.as_tensor(np.require(y, dtype=np.int64, requirements="W"))
    onehot = torch.eye(n_classes)[yt]  # [n, C], gathered once per step with the rows
    bufs = [torch.empty_like(p) for p in params]  # gradients land here every step
    for p, b in zip(params, bufs, strict=True):
        p.grad = b
    m1 = [torch.zeros_like(p) for p in params]
    m2 = [torch.zeros_like(p) for p in params]
    t = torch.zeros(len(seeds))
    gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
    # Equal subset sizes: every model steps at every step, so Adam (element-wise) on the
    # stacked tensors *is* K independent Adams - use torch's fused kernel.
    opt = _fused_adam(params, lr, weight_decay) if len({len(x) for x in subsets}) == 1 else None
    with torch.no_grad():
        for _ in range(int(epochs)):
            order = _epoch_index(subsets, gens, batch_size)
            for start in range(0, order.shape[1], batch_size):
                idx = order[:, start : start + batch_size]
                w = (idx >= 0).float()
                n_rows = w.sum(1)
                idx = idx.clamp(min=0)
                flat = idx.reshape(-1)  # index_select: 4x faster than advanced indexing here
                grads = _ensemble_grads(params, Xt.index_select(0, flat).view(*idx.shape, -1),
                                        onehot.index_select(0, flat).view(*idx.shape, -1),
                                        w / n_rows.clamp(min=1)[:, None], out=bufs)
                if opt is not None:
                    opt.step()  # reads p.grad, which is bufs
                    continue
                active = n_rows > 0
                t += active.float()
                if bool(active.all()) and bool((t == t[0]).all()):
                    _adam_uniform(params, grads, m1, m2, float(t[0]), lr, weight_decay)
                else:
                    _adam_masked(params, grads, m1, m2, t, active, lr, weight_decay)
    for p in params:
        p.grad = None
    return params


def _ensemble_grads(params: list[torch.Tensor], xb: torch.Tensor, yb_onehot: torch.Tensor,
                    row_w: torch.Tensor, out: list[torch.Tensor] | None = None) -> list[torch.Tensor]:
    """Gradients of sum_k mean-over-rows cross-entropy, written out by hand.

    Same values as autograd on :func:`ensemble_logits` (to float rounding) without its
    bookkeeping: one ``baddbmm`` per layer forward, two ``bmm`` per layer backward
    (``dW = g a^T``, ``g <- W^T g`` masked by the ReLU; feature-major), softmax minus
    one-hot at the top.
    ``row_w [K, b]`` is 1 / (rows model k uses in this step), 0 for padding rows.
    """
    n_layers = len(params) // 2
    acts = [xb.transpose(1, 2)]  # feature-major [K, features, b], see ensemble_logits
    h = acts[0]
    for j in range(n_layers):
        h = torch.baddbmm(params[2 * j + 1], params[2 * j], h)
        if j < n_layers - 1:
            h.relu_()
        acts.append(h)
    g = torch.softmax(h, dim=1).sub_(yb_onehot.transpose(1, 2)).mul_(row_w.unsqueeze(1))
    grads = out if out is not None else [torch.empty_like(p) for p in params]
    for j in reversed(range(n_layers)):
        torch.bmm(g, acts[j].transpose(1, 2), out=grads[2 * j])
        torch.sum(g, dim=2, keepdim=True, out=grads[2 * j + 1])
        if j:
            g = torch.ops.aten.threshold_backward(torch.bmm(params[2 * j].transpose(1, 2), g), acts[j], 0.0)
    return grads


_B1, _B2, _EPS = 0.9, 0.999, 1e-8


def _fused_adam(params: list[torch.Tensor], lr: float, weight_decay: float) -> torch.optim.Optimizer:
    try:
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError):  # pragma: no cover - builds without the fused CPU kernel
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, foreach=True)


def _adam_uniform(params: list[torch.Tensor], grads: tuple[torch.Tensor, ...], m1: list[torch.Tensor],
                  m2: list[torch.Tensor], t: float, lr: float, weight_decay: float) -> None:
    """One Adam step when every model steps (same step count): in place, scalar corrections."""
    c1, c2 = 1 - _B1**t, 1 - _B2**t
    for p, g, mm, vv in zip(params, grads, m1, m2, strict=True):
        if weight_decay:
            g = g.add(p, alpha=weight_decay)
        mm.mul_(_B1).add_(g, alpha=1 - _B1)
        vv.mul_(_B2).addcmul_(g, g, value=1 - _B2)
        denom = vv.sqrt().div_(math.sqrt(c2)).add_(_EPS)
        p.addcdiv_(mm, denom, value=-lr / c1)


def _adam_masked(params: list[torch.Tensor], grads: tuple[torch.Tensor, ...], m1: list[torch.Tensor],
                 m2: list[torch.Tensor], t: torch.Tensor, active: torch.Tensor, lr: float,
                 weight_decay: float) -> None:
    """One Adam step for the active models only, each with its own step count."""
    shape = (-1, 1, 1)
    a = active.view(shape)
    c1 = (1 - _B1 ** t.clamp(min=1)).view(shape)
    c2 = (1 - _B2 ** t.clamp(min=1)).view(shape)
    for p, g, mm, vv in zip(params, grads, m1, m2, strict=True):
        if weight_decay:
            g = g + weight_decay * p
        mm.copy_(torch.where(a, _B1 * mm + (1 - _B1) * g, mm))
        vv.copy_(torch.where(a, _B2 * vv + (1 - _B2) * g * g, vv))
        step = (lr / c1) * mm / ((vv.sqrt() / c2.sqrt()) + _EPS)
        p.sub_(torch.where(a, step, torch.zeros_like(step)))
