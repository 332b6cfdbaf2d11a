"""The ``stream`` scenario: successive deletion requests, each unlearned on top of the previous one.

scikit-learn's handwritten digits (the ``digits`` table and MLP), 30 % held out. A fifth of
the training rows leave in ``N_REQUESTS = 10`` requests of 2 % each (split values
``req-01`` … ``req-10``). Models are TorchScript archives:

* ``original.pt`` — trained on every training row (memorises its rows);
* ``unlearned-01.pt`` … — request ``i`` served by the baseline ``finetune``
  (:func:`audit.lab.methods.baselines.finetune`) applied to the *previous step's* model, on the
  cumulative retain set: the approximation error of each step is carried into the next;
* ``retrained-01-0.pt`` … — ``N_REFERENCES`` retrains from scratch on each cumulative retain
  set (one batched ensemble, :func:`audit.training.mlp_ensemble.train_mlp_ensemble`);
* ``extra/retrained-other-seed-01.pt`` … — one more retrain per step with another seed, for
  the known-answer rerun (point each request's ``unlearned`` at it and every step must pass).

Audited as a stream (``unlearn-audit run``), the early steps pass and the drift of the
forgetting metrics grows with the requests until a step fails (decision record 0016 has
the step over seeds).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from audit.core.model_objects import TorchModule
from audit.engine.stream import deal_requests
from audit.lab.methods.baselines import finetune
from audit.scenarios.digits import MLP_PARAMS, digits_frame
from audit.training.mlp_ensemble import train_mlp_ensemble
from audit.training.recipes import train_mlp
from audit.training.references import ensemble_modules

__all__ = ["build_stream", "stream_frame", "N_REQUESTS", "N_REFERENCES", "FINETUNE"]

N_REQUESTS = 10
N_REFERENCES = 4
FINETUNE = {"epochs": 1, "lr": 1e-3}  # per request, on top of the previous step's model
_PARAMS = {**MLP_PARAMS, "hidden": (64,), "epochs": 20}  # memorises less than digits: a 2 % request alone is hard to detect


def stream_frame(seed: int = 0, n_requests: int = N_REQUESTS) -> pd.DataFrame:
    """The digits table with the forget rows dealt into ``n_requests`` requests (``req-01``, …).

    Parameters
    ----------
    seed : int
        Seeds the digits table's split (:func:`audit.scenarios.digits.digits_frame`) and the
        dealing (:func:`audit.engine.stream.deal_requests`).
    n_requests : int
        Requests the forget rows are dealt into.

    Returns
    -------
    DataFrame
        The digits table whose ``split`` column holds ``req-01`` … ``req-NN`` in place of
        ``forget`` (``retain`` and ``test`` unchanged).

    Examples
    --------
    >>> df = stream_frame(0, 3)
    >>> sorted(set(df["split"]))
    ['req-01', 'req-02', 'req-03', 'retain', 'test']
    """
    df = digits_frame(seed)
    return df.assign(split=deal_requests(df["split"], n_requests, seed))


def _save(module: torch.nn.Module, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.jit.save(torch.jit.script(module.eval()), str(path))


def _cumulative_retain(df: pd.DataFrame, n_requests: int) -> list[np.ndarray]:
    """Per step ``i`` (0-based), the rows still trained on after requests ``1..i+1``."""
    split = df["split"].to_numpy(dtype=object)
    out = []
    for i in range(1, n_requests + 1):
        gone = {f"req-{j:02d}" for j in range(1, i + 1)}
        out.append(np.flatnonzero([s != "test" and s not in gone for s in split]))
    return out


def build_stream(out_dir: Path, seed: int = 0, n_requests: int = N_REQUESTS, epochs: int | None = None,
                 references: int = N_REFERENCES) -> Path:
    """Write the stream case (data.parquet, TorchScript models, case.toml); return case.toml.

    Trains the original MLP, ``references + 1`` retrains per step (one batched ensemble) and
    one fine-tuned ``unlearned-NN.pt`` per step on top of the previous step's model.

    Parameters
    ----------
    out_dir : Path
        Directory to write into (created if missing).
    seed : int
        Seeds the table, the dealing and every model.
    n_requests : int
        Requests (steps) of the stream.
    epochs : int, optional
        Overrides the MLPs' training epochs (default 20; more epochs memorise more, so a no-op
        becomes detectable on fewer rows).
    references : int
        References per step in the case file (plus one spare per step in ``extra/``).

    Returns
    -------
    Path
        The written ``case.toml`` (one ``[[requests]]`` table per step).

    Examples
    --------
    >>> import tempfile
    >>> case_toml = build_stream(Path(tempfile.mkdtemp()), n_requests=2)   # doctest: +SKIP
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    df = stream_frame(seed, n_requests)
    feats = [c for c in df.columns if c.startswith("px")]
    X, y = df[feats].to_numpy(np.float32), df["label"].to_numpy(np.int64)
    train = np.flatnonzero((df["split"] != "test").to_numpy())
    params = {**_PARAMS, **({"epochs": int(epochs)} if epochs else {})}
    original = train_mlp(X[train], y[train], 10, seed=1000 + seed, **params)
    _save(original, out / "original.pt")
    retain = _cumulative_retain(df, n_requests)
    k = int(references) + 1  # the last of each step goes to extra/
    subsets = [rows for rows in retain for _ in range(k)]
    seeds = [3000 + 10 * seed + 100 * i + j for i in range(n_requests) for j in range(k)]
    refs = ensemble_modules(train_mlp_ensemble(X, y, subsets, 10, seeds, **params))
    model = TorchModule(original)
    requests = []
    for i in range(n_requests):
        tag = f"{i + 1:02d}"
        rows = retain[i]
        model = finetune(model, (X[:0], y[:0]), (X[rows], y[rows]), None, seed=2000 + 10 * seed + i, **FINETUNE)
        _save(model.module, out / f"unlearned-{tag}.pt")
        names = []
        for j in range(k):
            name = (f"extra/retrained-other-seed-{tag}.pt" if j == k - 1 else f"retrained-{tag}-{j}.pt")
            _save(refs[i * k + j], out / name)
            names.append(name)
        requests.append((tag, names[:-1]))
    df.to_parquet(out / "data.parquet", index=False)
    case = out / "case.toml"
    case.write_text(_case_text(requests, params), encoding="utf-8")
    return case


def _case_text(requests: list[tuple[str, list[str]]], params: dict) -> str:
    head = ('[case]\nname = "stream: ten successive deletions of 2 % of the training images, each '
            'fine-tuned away on top of the last"\nrequest_id = "DEMO-STREAM-001"\n\n'
            '[models]\noriginal = "original.pt"\n\n'
            '[data]\npath = "data.parquet"\nlabel = "label"\nsplit = "split"\nid = "image_id"\n\n'
            '[training]\nrecipe = "torch-mlp"\n'
            f'params = {{ hidden = [{params["hidden"][0]}], epochs = {params["epochs"]}, '
            f'lr = {params["lr"]}, batch_size = {params["batch_size"]} }}\n')
    body = "".join(
        f'\n[[requests]]\nid = "REQ-{tag}"\nforget = "req-{tag}"\nunlearned = "unlearned-{tag}.pt"\n'
        f'retrained = [{", ".join(repr(n).replace(chr(39), chr(34)) for n in names)}]\n'
        for tag, names in requests)
    return head + body
