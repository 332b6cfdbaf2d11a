"""SISA training (Bourtoule et al. 2021): Sharded, Isolated, Sliced, Aggregated.

The training rows are split into ``n_shards`` disjoint shards; each shard trains its own
network, slice by slice (slice ``s`` trains on slices ``0..s`` of its shard), keeping a
checkpoint after every slice. Prediction is a majority vote of the shard models.
Unlearning a row retrains only the shard that held it, starting from the checkpoint taken
before the earliest affected slice — exactly what retraining that shard from scratch
without the row would produce, because every slice's minibatch order and the shard's
initialisation are seeded deterministically and the earlier slices did not change.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from audit.lab.methods.base import Data
from audit.shared.errors import BadInput
from audit.training.loop import train_steps
from audit.training.recipes import MLP, seeded_mlp

__all__ = ["Sisa", "train_sisa", "train_shard", "sisa_unlearn"]


@dataclass
class Sisa:
    """A SISA ensemble: per-shard slices, per-slice checkpoints, majority-vote prediction.

    Parameters
    ----------
    X, y : ndarray
        The training rows.
    n_classes : int
        Output width.
    slices : list of list of ndarray
        Row indices per shard and slice.
    checkpoints : list of list of dict
        State dict after each slice of each shard.
    modules : list of MLP
        The shard models.
    seed : int
        Training seed.
    params : dict
        Per-shard training settings.
    extra : dict of str to float
        What an unlearning request cost.
    """

    X: np.ndarray
    y: np.ndarray
    n_classes: int
    slices: list[list[np.ndarray]]
    checkpoints: list[list[dict[str, torch.Tensor]]]
    modules: list[MLP]
    seed: int
    params: dict[str, Any]
    extra: dict[str, float] = field(default_factory=dict)
    format: str = field(default="sisa", init=False)
    sha256: str | None = field(default=None, init=False)

    def votes(self, X: np.ndarray) -> np.ndarray:
        """Vote counts of the shard models per row and class.

        Parameters
        ----------
        X : ndarray, shape (n, features)
            Inputs.

        Returns
        -------
        ndarray, shape (n, classes)
        """
        Xt = torch.as_tensor(np.asarray(X, dtype=np.float32))
        counts = np.zeros((len(Xt), self.n_classes))
        with torch.no_grad():
            for m in self.modules:
                counts[np.arange(len(Xt)), m(Xt).argmax(1).numpy()] += 1
        return counts

    def predict_logits(self, X: np.ndarray) -> np.ndarray:
        """Log of the (add-half smoothed) vote shares, so argmax = the majority vote.

        Parameters
        ----------
        X : ndarray or DataFrame, shape (n, features)
            Inputs (a DataFrame for a model that takes its features by name).

        Returns
        -------
        ndarray, shape (n, classes)
            Logits or log-probabilities (a regressor: its predictions, ``[n, 1]``).
        """
        v = self.votes(X) + 0.5
        return np.log(v / v.sum(axis=1, keepdims=True))

    @property
    def storage_bytes(self) -> int:
        """Bytes of the intermediate checkpoints SISA keeps in addition to the shard models."""
        return int(sum(t.numel() * t.element_size() for shard in self.checkpoints
                       for ck in shard[:-1] for t in ck.values()))

    @property
    def model_bytes(self) -> int:
        return int(sum(p.numel() * p.element_size() for m in self.modules for p in m.state_dict().values()))

    def parameters(self) -> dict[str, np.ndarray]:
        """Every shard model's state dict (``shard<i>.<name>``).

        Returns
        -------
        dict of str to ndarray or None
            The model's parameters by name, float64 copies (None when it exposes none).
        """
        return {f"shard{i}.{k}": v.detach().double().numpy() for i, m in enumerate(self.modules)
                for k, v in m.state_dict().items()}


def _slice_seed(seed: int, shard: int, s: int) -> int:
    return int(seed) * 1_000_003 + 1009 * int(shard) + int(s)


def train_shard(
    X: np.ndarray, y: np.ndarray, slices: list[np.ndarray], n_classes: int, seed: int, shard: int,
    *, start: int = 0, state: dict[str, torch.Tensor] | None = None, hidden: tuple[int, ...] = (64,),
    epochs_per_slice: int = 10, lr: float = 1e-3, batch_size: int = 64,
) -> tuple[MLP, list[dict[str, torch.Tensor]]]:
    """Train one shard from slice ``start`` (from ``state``, or a fresh seeded init at 0).

    Returns the shard model and the checkpoints of slices ``start..`` (one per slice).

    Parameters
    ----------
    X, y : ndarray
        Every training row.
    slices : list of ndarray
        The shard's row indices per slice.
    n_classes, seed, shard : int
        Output width, the ensemble's seed, the shard's position.
    start : int
        First slice to train.
    state : dict, optional
        Checkpoint after slice ``start - 1`` (needed when ``start > 0``).
    hidden, epochs_per_slice, lr, batch_size
        Training settings.

    Returns
    -------
    module : MLP
    checkpoints : list of dict
    """
    module = seeded_mlp(X.shape[1], n_classes, tuple(hidden), _slice_seed(seed, shard, 10_000))
    if start > 0:
        if state is None:
            raise BadInput("sisa.state", "resuming after slice 0 needs that slice's checkpoint")
        module.load_state_dict(state)
    checkpoints = []
    for s in range(start, len(slices)):
        rows = np.concatenate(slices[: s + 1])
        if len(rows):
            train_steps(module, X[rows], y[rows], epochs=epochs_per_slice, lr=lr,
                        seed=_slice_seed(seed, shard, s), batch_size=batch_size)
        checkpoints.append(copy.deepcopy(module.state_dict()))
    return module.eval(), checkpoints


def train_sisa(
    X: np.ndarray, y: np.ndarray, n_classes: int, seed: int, *, n_shards: int = 5, n_slices: int = 3,
    hidden: tuple[int, ...] = (64,), epochs_per_slice: int = 10, lr: float = 1e-3, batch_size: int = 64,
) -> Sisa:
    """Train a SISA ensemble (rows assigned to shards and slices uniformly at random).

    Parameters
    ----------
    X, y : ndarray
        Training rows.
    n_classes, seed : int
        Output width and seed.
    n_shards, n_slices : int
        Shards and slices per shard.
    hidden, epochs_per_slice, lr, batch_size
        Per-shard training settings.

    Returns
    -------
    Sisa

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(120, 3)).astype("float32"); y = (X[:, 0] > 0).astype(int)
    >>> m = train_sisa(X, y, 2, seed=0, n_shards=3, n_slices=2, epochs_per_slice=2)
    >>> m.predict_logits(X).shape, m.storage_bytes > 0
    ((120, 2), True)
    """
    if n_shards < 1 or n_slices < 1:
        raise BadInput("sisa", "n_shards and n_slices must be at least 1")
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y, dtype=np.int64)
    order = np.random.default_rng(seed).permutation(len(X))
    params = {"hidden": tuple(hidden), "epochs_per_slice": epochs_per_slice, "lr": lr, "batch_size": batch_size}
    slices, checkpoints, modules = [], [], []
    for i, shard_rows in enumerate(np.array_split(order, n_shards)):
        sl = [np.sort(a) for a in np.array_split(shard_rows, n_slices)]
        module, cks = train_shard(X, y, sl, n_classes, seed, i, **params)
        slices.append(sl)
        checkpoints.append(cks)
        modules.append(module)
    return Sisa(X, y, n_classes, slices, checkpoints, modules, int(seed), params)


def _row_keys(X: np.ndarray, y: np.ndarray) -> list[str]:
    X = np.ascontiguousarray(X, dtype=np.float32)
    return [hashlib.sha256(X[i].tobytes() + int(y[i]).to_bytes(8, "little", signed=True)).hexdigest()
            for i in range(len(X))]


def sisa_unlearn(model: Any, forget: Data, retain: Data, recipe: Any, seed: int) -> Sisa:
    """Exact SISA unlearning: retrain affected shards from the checkpoint before the
    earliest affected slice. ``seed`` is unused: the ensemble keeps its training seed.

    ``extra`` reports the shards and slices retrained and the fraction of the full
    training work this took.

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
    Sisa
    """
    if not isinstance(model, Sisa):
        raise BadInput("method", f"'sisa' needs a SISA ensemble (train_sisa); got {type(model).__name__}")
    index: dict[str, list[int]] = {}
    for i, key in enumerate(_row_keys(model.X, model.y)):
        index.setdefault(key, []).append(i)
    drop: set[int] = set()
    for key in _row_keys(*forget):
        if key not in index:
            raise BadInput("forget", "a forget row is not in the SISA ensemble's training data")
        drop.update(index[key])
    out = copy.copy(model)
    out.slices = [list(s) for s in model.slices]
    out.checkpoints = [list(c) for c in model.checkpoints]
    out.modules = list(model.modules)
    shards = slices_done = 0
    for i, sl in enumerate(model.slices):
        hit = [s for s, rows in enumerate(sl) if drop.intersection(rows.tolist())]
        if not hit:
            continue
        start = hit[0]
        new = [np.array([r for r in rows if r not in drop], dtype=int) for rows in sl]
        state = model.checkpoints[i][start - 1] if start > 0 else None
        module, cks = train_shard(model.X, model.y, new, model.n_classes, model.seed, i,
                                  start=start, state=state, **model.params)
        out.slices[i], out.modules[i] = new, module
        out.checkpoints[i] = model.checkpoints[i][:start] + cks
        shards += 1
        slices_done += len(sl) - start
    total = sum(len(s) for s in model.slices)
    out.extra = {"shards_retrained": float(shards), "slices_retrained": float(slices_done),
                 "work_fraction": slices_done / total if total else 0.0,
                 "checkpoint_overhead": out.storage_bytes / max(out.model_bytes, 1)}
    return out
