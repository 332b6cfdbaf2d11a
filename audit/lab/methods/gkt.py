"""GKT: zero-shot class removal by gated knowledge transfer (Chundawat et al., TIFS 2023).

V. S. Chundawat, A. K. Tarun, M. Mandal, M. Kankanhalli, "Zero-Shot Machine Unlearning",
IEEE Transactions on Information Forensics and Security 18, 2023 (arXiv:2201.05629), the
"gated knowledge transfer" method. *Zero-shot*: no training row at all is read, neither forgotten nor retained;
the unlearner knows the original (the teacher) and which class(es) to drop.

Adversarial knowledge transfer (after Micaelli & Storkey 2019), repeated ``iterations``
times on pseudo-samples ``x = G(z)``, ``z ~ N(0, I)``:

* **generator step** (``generator_steps`` per iteration): maximise the teacher-student
  divergence ``D_KL(T(x) || S(x))`` over the generator ``G`` (hard samples);
* **band-pass gate**: keep only pseudo-samples whose teacher probability of every
  forgotten class is at most ``gate`` (the paper filters out what the teacher assigns to
  the forget class; ``gate = None`` switches the filter off — the broken variant);
* **student steps** (``student_steps`` per iteration): minimise ``D_KL(T(x) || S(x))`` on
  the gated samples (temperature ``temperature``).

The paper adds an attention-transfer term ``beta * ||a_T - a_S||²`` on the spatial
attention maps of CNN blocks; an MLP has no spatial feature maps, so the student here
learns from the teacher's (gated) output distribution alone (``beta = 0``). The student
starts from a fresh initialisation of the teacher's architecture (seeded); the generator
is a small two-layer MLP ending in batch normalisation, sized for a CPU.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from audit.core.divergence import distillation_kl
from audit.core.model_objects import TorchModule
from audit.core.torch_threads import one_thread
from audit.lab.methods.base import Data
from audit.lab.methods.baselines import _module
from audit.lab.methods.unsir import forgotten_classes
from audit.training.loop import seeded

__all__ = ["gkt", "Generator", "gated"]


class Generator(nn.Module):
    """``z -> x``: Linear - BatchNorm - LeakyReLU - Linear - BatchNorm (affine).

    Parameters
    ----------
    z_dim : int
        Width of the noise input.
    n_features : int
        Width of the pseudo-samples.
    hidden : int
        Hidden width.
    """

    def __init__(self, z_dim: int, n_features: int, hidden: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(z_dim, hidden), nn.BatchNorm1d(hidden), nn.LeakyReLU(0.2),
                                 nn.Linear(hidden, n_features), nn.BatchNorm1d(n_features))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Pseudo-samples from noise.

        Parameters
        ----------
        z : torch.Tensor, shape (n, z_dim)
            Noise.

        Returns
        -------
        torch.Tensor, shape (n, n_features)
        """
        return self.net(z)


def gated(teacher_logits: torch.Tensor, dropped: list[int], gate: float | None) -> torch.Tensor:
    """Mask of pseudo-samples the band-pass gate lets through.

    A sample passes when the teacher gives each dropped class a probability of at most
    ``gate``; ``gate = None`` lets everything through (no gate).

    Parameters
    ----------
    teacher_logits : torch.Tensor, shape (n, classes)
        The teacher's logits on the pseudo-samples.
    dropped : list of int
        Classes to forget.
    gate : float or None
        Largest allowed teacher probability of a dropped class.

    Returns
    -------
    torch.Tensor of bool, shape (n,)

    Examples
    --------
    >>> t = torch.log(torch.tensor([[0.9, 0.1], [0.001, 0.999]]))
    >>> gated(t, [0], 0.01).tolist()
    [False, True]
    """
    if gate is None:
        return torch.ones(len(teacher_logits), dtype=torch.bool)
    p = F.softmax(teacher_logits, dim=1)[:, dropped]
    return (p <= gate).all(dim=1)


def _fresh(module: nn.Module, seed: int) -> nn.Module:
    student = copy.deepcopy(module)
    with seeded(seed):
        for layer in student.modules():
            if hasattr(layer, "reset_parameters") and layer is not student:
                layer.reset_parameters()
    for p in student.parameters():
        p.requires_grad_(True)
    return student.train()


@one_thread()
def gkt(
    model: Any, forget: Data, retain: Data, recipe: Any, seed: int, *,
    iterations: int = 400, generator_steps: int = 1, student_steps: int = 10, batch_size: int = 256,
    z_dim: int = 32, gate: float | None = 1e-3, temperature: float = 1.0,
    generator_lr: float = 1e-4, student_lr: float = 2e-3,
) -> TorchModule:
    """Zero-shot unlearning by gated knowledge transfer (Chundawat et al. 2023).

    Reads the forget *labels* only (which class to drop) and no row of ``retain``.

    Parameters
    ----------
    model : adapter
        The original model.
    forget, retain : (X, y)
        The rows to forget and the rows kept.
    recipe : Recipe or None
        The case's training recipe.
    seed : int
        Seed of the method's randomness.
    iterations, generator_steps, student_steps : int
        Outer iterations and the steps of each player per iteration.
    batch_size, z_dim : int
        Pseudo-samples per iteration and noise width.
    gate : float or None
        The band-pass gate (None: no gate, the broken variant).
    temperature : float
        Softmax temperature of the KL.
    generator_lr, student_lr : float
        Adam's learning rates.

    Returns
    -------
    TorchModule
        ``extra``: the gate's pass rate and the pseudo-samples seen.

    Examples
    --------
    >>> import numpy as np
    >>> from audit.training.recipes import get_recipe
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(90, 4)).astype("float32"); y = np.repeat([0, 1, 2], 30)
    >>> teacher = get_recipe("torch-mlp", {"epochs": 10, "hidden": [16]}).fit(X, y, 3, 0)
    >>> u = gkt(teacher, (X[y == 2], y[y == 2]), (X[y < 2], y[y < 2]), None, 0, iterations=5)
    >>> u.predict_logits(X).shape
    (90, 3)
    """
    teacher = _module(model, "gkt").eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    dropped = forgotten_classes(forget, retain)
    n_features = int(next(teacher.parameters()).shape[1])
    student = _fresh(teacher, seed)
    with seeded(int(seed) + 1):
        gen = Generator(z_dim, n_features)
    opt_g = torch.optim.Adam(gen.parameters(), lr=generator_lr)
    opt_s = torch.optim.Adam(student.parameters(), lr=student_lr)
    rng = torch.Generator().manual_seed(int(seed) + 2)
    kept = seen = 0
    for _ in range(int(iterations)):
        z = torch.randn(batch_size, z_dim, generator=rng)
        for _ in range(int(generator_steps)):
            opt_g.zero_grad()
            x = gen(z)
            (-distillation_kl(student(x), teacher(x), temperature)).backward()
            opt_g.step()
        with torch.no_grad():
            x = gen(z)
            t = teacher(x)
            mask = gated(t, dropped, gate)
        kept, seen = kept + int(mask.sum()), seen + len(mask)
        if not mask.any():
            continue
        for _ in range(int(student_steps)):
            opt_s.zero_grad()
            distillation_kl(student(x[mask]), t[mask], temperature).backward()
            opt_s.step()
    out = TorchModule(student.eval())
    out.extra = {"gate_pass_rate": kept / max(seen, 1), "pseudo_samples": float(seen)}  # type: ignore[attr-defined]
    return out
