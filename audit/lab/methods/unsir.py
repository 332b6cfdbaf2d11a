"""UNSIR: zero-glance class removal with error-maximising noise (Tarun et al., TNNLS 2023).

A. K. Tarun, V. S. Chundawat, M. Mandal, M. Kankanhalli, "Fast Yet Effective Machine
Unlearning", IEEE Transactions on Neural Networks and Learning Systems, 2023
(arXiv:2111.08947; equation numbers differ between versions, so the steps are named, not
numbered). *Zero-glance*: the unlearner never sees the forgotten rows' features;
it knows only which class(es) to drop and holds (a subset of) the retained data.

1. **Error-maximising noise** (the paper's noise objective): with the trained
   weights frozen, learn a noise matrix ``N`` for each class ``c`` to forget by

   ``argmin_N  E[ -L(f(N), c) + lambda * ||N|| ]``

   i.e. *maximise* the classification loss of label ``c`` on the noise, with an L2 penalty
   ``lambda ||N||`` that keeps the noise bounded (``noise_reg``; the norm is taken per
   noise row and averaged).
2. **Impair** (one epoch, a high learning rate): train the model on the noise, labelled
   with the forgotten class, mixed with a subset of the retained rows.
3. **Repair** (one epoch, a lower learning rate): train on the retained subset only.

Both training steps use the suite's one minibatch trainer
(:func:`audit.training.loop.train_steps`); only the noise (not the network) is
optimised in step 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from audit.core.model_objects import TorchModule
from audit.core.torch_threads import one_thread
from audit.lab.methods.base import Data, n_classes_of
from audit.lab.methods.baselines import _module
from audit.shared.errors import BadInput
from audit.training.loop import train_steps

__all__ = ["unsir", "error_maximising_noise", "forgotten_classes"]


def forgotten_classes(forget: Data, retain: Data) -> list[int]:
    """Classes to drop: labels of the forget rows that no retained row carries.

    Only the forget *labels* are read (zero-glance: never the features). A forget set
    that is not a whole class is bad input for a class-removal method.

    Parameters
    ----------
    forget, retain : (X, y)
        The forget and the retained rows.

    Returns
    -------
    list of int

    Examples
    --------
    >>> X = np.zeros((6, 2), dtype="float32")
    >>> forgotten_classes((X[:2], np.array([3, 3])), (X[2:], np.array([0, 1, 2, 1])))
    [3]
    """
    dropped = sorted(set(np.unique(forget[1]).tolist()) - set(np.unique(retain[1]).tolist()))
    if not dropped:
        raise BadInput("forget", "UNSIR / GKT remove whole classes: every forget label also "
                       "occurs in the retain set (this forget set is not a class removal)")
    return [int(c) for c in dropped]


@one_thread()
def error_maximising_noise(
    module: nn.Module, cls: int, n_features: int, *, n_noise: int, steps: int, lr: float,
    reg: float, seed: int,
) -> np.ndarray:
    """Noise rows that maximise the loss of label ``cls`` under the frozen ``module``.

    Minimises ``-CE(module(N), cls) + reg * mean_i ||N_i||_2`` over ``N`` (Adam on the
    noise only; the network's weights do not move). ``steps = 0`` returns the random
    starting noise: the broken variant whose noise does not maximise anything.

    Parameters
    ----------
    module : torch.nn.Module
        The trained network (frozen here).
    cls : int
        The class to forget.
    n_features : int
        Width of a noise row.
    n_noise, steps : int
        Noise rows and Adam steps.
    lr, reg : float
        Learning rate and the norm penalty ``lambda``.
    seed : int
        Seed of the starting noise.

    Returns
    -------
    ndarray, shape (n_noise, n_features), float32

    Examples
    --------
    >>> m = nn.Linear(3, 2)
    >>> N = error_maximising_noise(m, 1, 3, n_noise=4, steps=20, lr=0.1, reg=0.1, seed=0)
    >>> N.shape
    (4, 3)
    """
    gen = torch.Generator().manual_seed(int(seed))
    noise = torch.randn(int(n_noise), int(n_features), generator=gen).requires_grad_(True)
    target = torch.full((int(n_noise),), int(cls), dtype=torch.int64)
    opt = torch.optim.Adam([noise], lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    for p in module.parameters():
        p.requires_grad_(False)
    module.eval()
    for _ in range(int(steps)):
        opt.zero_grad()
        objective = -loss_fn(module(noise), target) + reg * noise.norm(dim=1).mean()
        objective.backward()
        opt.step()
    for p in module.parameters():
        p.requires_grad_(True)
    return noise.detach().numpy().astype(np.float32)


def unsir(
    model: Any, forget: Data, retain: Data, recipe: Any, seed: int, *,
    noise_steps: int = 100, noise_lr: float = 0.1, noise_reg: float = 0.1,
    noise_per_class: int | None = None, retain_subset: int | None = None,
    impair_lr: float = 1e-2, repair_lr: float = 3e-3, impair_epochs: int = 1,
    repair_epochs: int = 1, batch_size: int = 64,
) -> TorchModule:
    """UNSIR (Tarun et al. 2023): noise -> one impair epoch -> one repair epoch.

    Parameters
    ----------
    model : TorchModule
        The trained original (a torch network).
    forget, retain : (X, y)
        Only the forget *labels* are read, to name the dropped class(es).
    noise_steps, noise_lr, noise_reg : int, float, float
        Optimisation of the error-maximising noise; ``noise_reg`` is the paper's
        ``lambda`` on the noise norm. ``noise_steps = 0`` keeps random noise (broken).
    noise_per_class : int, optional
        Noise rows per dropped class (default: the retained subset's rows per class).
    retain_subset : int, optional
        Retained rows used for impair and repair (default: all of them).
    impair_lr, repair_lr, impair_epochs, repair_epochs : float, float, int, int
        The impair step (``impair_epochs = 0`` skips it: the broken variant that only
        repairs) and the repair step.

    Returns
    -------
    TorchModule
        ``extra``: the noise rows made and the classes dropped.

    Examples
    --------
    >>> from audit.training.recipes import get_recipe
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(90, 4)).astype("float32"); y = np.repeat([0, 1, 2], 30)
    >>> X[y == 2] += 3
    >>> original = get_recipe("torch-mlp", {"epochs": 20, "hidden": [16]}).fit(X, y, 3, 0)
    >>> u = unsir(original, (X[y == 2], y[y == 2]), (X[y < 2], y[y < 2]), None, seed=0)
    >>> u.predict_logits(X).shape
    (90, 3)
    """
    module = _module(model, "unsir")
    dropped = forgotten_classes(forget, retain)
    Xr, yr = retain
    rng = np.random.default_rng(seed)
    if retain_subset is not None and retain_subset < len(Xr):
        keep = np.sort(rng.choice(len(Xr), size=int(retain_subset), replace=False))
        Xr, yr = Xr[keep], yr[keep]
    n_classes = n_classes_of(model, Xr)
    per_class = int(noise_per_class or max(1, round(len(Xr) / max(1, n_classes - len(dropped)))))
    noise = [error_maximising_noise(module, c, Xr.shape[1], n_noise=per_class, steps=noise_steps,
                                    lr=noise_lr, reg=noise_reg, seed=seed + 7919 * (i + 1))
             for i, c in enumerate(dropped)]
    Xi = np.concatenate([*noise, Xr])
    yi = np.concatenate([np.full(per_class, c, dtype=np.int64) for c in dropped] + [yr])
    if impair_epochs > 0:
        train_steps(module, Xi, yi, epochs=impair_epochs, lr=impair_lr, seed=seed, batch_size=batch_size)
    if repair_epochs > 0:
        train_steps(module, Xr, yr, epochs=repair_epochs, lr=repair_lr, seed=seed + 1, batch_size=batch_size)
    out = TorchModule(module)
    out.extra = {"noise_rows": float(per_class * len(dropped)), "dropped_classes": float(len(dropped))}  # type: ignore[attr-defined]
    return out
