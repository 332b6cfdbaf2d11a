"""Federated averaging (McMahan et al. 2017) and removing one client from it.

* :func:`train_fedavg` — every round, each client trains the global network locally
  for a few epochs; the server averages the weights, weighted by client size.
* ``fedavg_retrain`` (exact) — rerun the whole federation without the client, with the
  same per-client seeds for everyone else;
* ``fedavg_recover`` (approximate) — keep the final global model and run a few
  recovery rounds on the remaining clients only (cheap, but what the removed client
  taught can survive: measure it with :func:`audit.lab.injection.attribution_ratio`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from audit.lab.methods.base import Data
from audit.shared.errors import BadInput
from audit.training.loop import train_steps
from audit.training.recipes import MLP, seeded_mlp

__all__ = ["FedModel", "train_fedavg", "fedavg_retrain", "fedavg_recover", "find_client"]


@dataclass
class FedModel:
    """The global network of a federation plus what is needed to rerun it.

    Parameters
    ----------
    module : MLP
        The global network.
    clients : list of (X, y)
        Each client's rows.
    client_ids : list of int
        Their ids (seed the local training).
    n_classes, seed : int
        Output width and the federation's seed.
    params : dict
        The training settings (``rounds``, ``local_epochs``, ``lr``, ``hidden``, ``batch_size``).
    extra : dict of str to float
        Numbers a removal reports.
    """

    module: MLP
    clients: list[Data]
    client_ids: list[int]
    n_classes: int
    seed: int
    params: dict[str, Any]
    extra: dict[str, float] = field(default_factory=dict)
    format: str = field(default="fedavg", init=False)
    sha256: str | None = field(default=None, init=False)

    def predict_logits(self, X: np.ndarray) -> np.ndarray:
        """The global network's logits.

        Parameters
        ----------
        X : ndarray or DataFrame, shape (n, features)
            Inputs (a DataFrame for a model that takes its features by name).

        Returns
        -------
        ndarray, shape (n, classes)
            Logits or log-probabilities (a regressor: its predictions, ``[n, 1]``).
        """
        with torch.no_grad():
            return self.module(torch.as_tensor(np.asarray(X, dtype=np.float32))).double().numpy()

    def parameters(self) -> dict[str, np.ndarray]:
        """The global network's state dict.

        Returns
        -------
        dict of str to ndarray or None
            The model's parameters by name, float64 copies (None when it exposes none).
        """
        return {k: v.detach().double().numpy() for k, v in self.module.state_dict().items()}


def _rounds(module: MLP, clients: list[Data], ids: list[int], seed: int, rounds: int, start_round: int,
            local_epochs: int, lr: float, batch_size: int) -> MLP:
    sizes = np.array([len(c[1]) for c in clients], dtype=np.float64)
    weights = sizes / sizes.sum()
    for r in range(start_round, start_round + rounds):
        states = []
        for (X, y), cid in zip(clients, ids, strict=True):
            local = copy.deepcopy(module)
            train_steps(local, X, y, epochs=local_epochs, lr=lr, batch_size=batch_size,
                        seed=int(seed) * 100_003 + 101 * r + cid)
            states.append(local.state_dict())
        avg = {k: sum(w * s[k] for w, s in zip(weights, states, strict=True)) for k in states[0]}
        module.load_state_dict(avg)
    return module.eval()


def train_fedavg(
    clients: list[Data], n_classes: int, seed: int, *, rounds: int = 10, local_epochs: int = 1,
    lr: float = 1e-2, hidden: tuple[int, ...] = (32,), batch_size: int = 32,
    client_ids: list[int] | None = None,
) -> FedModel:
    """Train a federation of clients (each an ``(X, y)`` pair) with FedAvg.

    Parameters
    ----------
    clients : list of (X, y)
        The clients' rows.
    n_classes, seed : int
        Output width; seed of the initialisation and of each client's minibatches.
    rounds, local_epochs : int
        Server rounds, local epochs per round.
    lr, hidden, batch_size
        Local Adam learning rate, hidden widths, local batch size.
    client_ids : list of int, optional
        Ids of the clients (default ``0..``): a rerun without one keeps the others' seeds.

    Returns
    -------
    FedModel

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> cl = [(rng.normal(size=(40, 3)).astype("float32"), rng.integers(0, 2, 40)) for _ in range(3)]
    >>> train_fedavg(cl, 2, seed=0, rounds=2).predict_logits(cl[0][0]).shape
    (40, 2)
    """
    if not clients:
        raise BadInput("fedavg.clients", "need at least one client")
    clients = [(np.asarray(X, dtype=np.float32), np.asarray(y, dtype=np.int64)) for X, y in clients]
    ids = list(range(len(clients))) if client_ids is None else list(client_ids)
    module = seeded_mlp(clients[0][0].shape[1], n_classes, tuple(hidden), int(seed))
    params = {"rounds": rounds, "local_epochs": local_epochs, "lr": lr, "hidden": tuple(hidden),
              "batch_size": batch_size}
    _rounds(module, clients, ids, seed, rounds, 0, local_epochs, lr, batch_size)
    return FedModel(module, clients, ids, n_classes, int(seed), params)


def find_client(model: FedModel, forget: Data) -> int:
    """Position of the client whose rows are exactly ``forget``.

    Parameters
    ----------
    model : FedModel
        The federation.
    forget : (X, y)
        The rows to remove.

    Returns
    -------
    int
    """
    X, y = forget
    for i, (cX, cy) in enumerate(model.clients):
        if cX.shape == np.shape(X) and np.array_equal(cX, np.asarray(X, dtype=np.float32)) \
                and np.array_equal(cy, np.asarray(y)):
            return i
    raise BadInput("forget", "the forget set must be exactly one client's data")


def _without(model: Any, forget: Data) -> tuple[FedModel, list[Data], list[int]]:
    if not isinstance(model, FedModel):
        raise BadInput("method", f"FedAvg removal needs a FedModel; got {type(model).__name__}")
    i = find_client(model, forget)
    keep = [j for j in range(len(model.clients)) if j != i]
    if not keep:
        raise BadInput("forget", "cannot remove the only client")
    return model, [model.clients[j] for j in keep], [model.client_ids[j] for j in keep]


def fedavg_retrain(model: Any, forget: Data, retain: Data, recipe: Any, seed: int) -> FedModel:
    """Exact client removal: the federation rerun from scratch without the client.

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

    Returns
    -------
    FedModel
    """
    model, clients, ids = _without(model, forget)
    p = model.params
    return train_fedavg(clients, model.n_classes, model.seed, client_ids=ids, **p)


def fedavg_recover(model: Any, forget: Data, retain: Data, recipe: Any, seed: int,
                   recovery_rounds: int = 2) -> FedModel:
    """Approximate client removal: a few more FedAvg rounds without the client.

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
    recovery_rounds : int
        Rounds run on the remaining clients.

    Returns
    -------
    FedModel
        ``extra["rounds_fraction"]``: the recovery's share of the original rounds.
    """
    model, clients, ids = _without(model, forget)
    p = model.params
    module = copy.deepcopy(model.module)
    _rounds(module, clients, ids, model.seed + 7_919 * (int(seed) + 1), recovery_rounds, p["rounds"],
            p["local_epochs"], p["lr"], p["batch_size"])
    out = FedModel(module, clients, ids, model.n_classes, model.seed, p)
    out.extra = {"rounds_fraction": recovery_rounds / p["rounds"]}
    return out
