"""The one training loop and the one seeding helper.

:func:`train_steps` is Adam on cross-entropy with the minibatch order drawn from
``torch.Generator(seed)``: used by :func:`audit.training.recipes.train_mlp`, the scenarios and
the baseline unlearning methods (fine-tune, gradient ascent, random labels, SISA, FedAvg, UNSIR).
:func:`seeded` holds torch's global generator, seeded, under one lock while initial weights are
drawn. Training runs on one torch thread (:func:`audit.core.torch_threads.one_thread`: results do
not depend on how many threads the machine has).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from audit.core.torch_threads import one_thread

__all__ = ["seeded", "train_steps", "SEEDING"]


#: held while torch's global generator is seeded and initial weights are drawn
SEEDING = threading.Lock()


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
    with SEEDING:
        torch.manual_seed(int(seed))
        yield


@one_thread()
def train_steps(
    module: nn.Module, X: np.ndarray, y: np.ndarray, *, epochs: int, lr: float, seed: int,
    batch_size: int = 64, weight_decay: float = 0.0, ascent: bool = False, max_steps: int | None = None,
) -> nn.Module:
    """The one minibatch training loop: Adam on cross-entropy, in place, deterministic per seed.

    Used by the ``torch-mlp`` recipe (:func:`train_mlp`), the built-in scenarios and the
    baseline unlearning methods (fine-tune, gradient ascent, random labels, SISA, FedAvg,
    UNSIR). Every epoch visits the rows in an order drawn from ``torch.Generator(seed)``.
    (The batched shadow ensemble, :func:`audit.training.mlp_ensemble.train_mlp_ensemble`, runs the same
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
    >>> from audit.core.model_objects import TorchModule
    >>> from audit.training.recipes import seeded_mlp
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
