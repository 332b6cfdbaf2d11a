"""The ``digits`` scenario: scikit-learn's handwritten digits, a small torch MLP.

Forget = a random fifth of the training rows. Models are TorchScript archives:

* ``original.pt`` — trained on forget + retain (overfits: memorises its rows);
* ``unlearned.pt`` — an approximate method: the original fine-tuned on the retain
  split for a few epochs (does not fully forget);
* ``retrained-0.pt`` … ``retrained-3.pt`` — trained from scratch on retain only (four seeds:
  the audit's null is the spread between retrains);
* ``extra/retrained-other-seed.pt`` — another retrain, for the known-answer rerun:
  point ``unlearned`` at it and the audit must pass.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.datasets import load_digits

from audit.training.loop import train_steps
from audit.training.recipes import MLP, train_mlp

__all__ = ["build_digits", "digits_frame", "MLP_PARAMS"]

MLP_PARAMS = {"hidden": (128,), "epochs": 60, "lr": 2e-3, "batch_size": 32}
_FORGET_FRACTION = 0.2
_N_REFERENCES = 4  # shipped retrained references; one more goes to extra/
_TEST_FRACTION = 0.3


def digits_frame(seed: int = 0) -> pd.DataFrame:
    """The digits table with a ``split`` column (forget / retain / test) and an ``id``.

    Parameters
    ----------
    seed : int
        Seed of the split.

    Returns
    -------
    DataFrame

    Examples
    --------
    >>> sorted(digits_frame(0)["split"].unique())
    ['forget', 'retain', 'test']
    """
    ds = load_digits()
    X = ds.data.astype(np.float32) / 16.0
    rng = np.random.default_rng(seed)
    n = len(X)
    order = rng.permutation(n)
    n_test = int(round(_TEST_FRACTION * n))
    n_forget = int(round(_FORGET_FRACTION * (n - n_test)))
    split = np.empty(n, dtype=object)
    split[order[:n_test]] = "test"
    split[order[n_test : n_test + n_forget]] = "forget"
    split[order[n_test + n_forget :]] = "retain"
    df = pd.DataFrame(X, columns=[f"px{i:02d}" for i in range(X.shape[1])])
    df.insert(0, "image_id", [f"img-{i:04d}" for i in range(n)])
    df["label"] = ds.target.astype(np.int64)
    df["split"] = split
    return df


def _finetune(model: MLP, X: np.ndarray, y: np.ndarray, seed: int, epochs: int) -> MLP:
    return train_steps(model, X, y, epochs=epochs, lr=1e-3, seed=seed, batch_size=32)


def _save(model: MLP, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.jit.save(torch.jit.script(model.eval()), str(path))


def build_digits(out_dir: Path, seed: int = 0) -> Path:
    """Write the digits case (data.parquet, TorchScript models, case.toml); return case.toml.

    Parameters
    ----------
    out_dir : Path
        Where the case is written.
    seed : int
        The scenario's seed.

    Returns
    -------
    Path
        The case file.

    Examples
    --------
    >>> import tempfile
    >>> case_toml = build_digits(Path(tempfile.mkdtemp()))   # doctest: +SKIP
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    df = digits_frame(seed)
    feats = [c for c in df.columns if c.startswith("px")]
    X = df[feats].to_numpy(np.float32)
    y = df["label"].to_numpy(np.int64)
    train = (df["split"] != "test").to_numpy()
    retain = (df["split"] == "retain").to_numpy()
    original = train_mlp(X[train], y[train], 10, seed=1000 + seed, **MLP_PARAMS)
    _save(original, out / "original.pt")
    unlearned = _finetune(original, X[retain], y[retain], seed=2000 + seed, epochs=3)
    _save(unlearned, out / "unlearned.pt")
    for i, s in enumerate((3000, 3001, 3002, 3003, 3004)):
        model = train_mlp(X[retain], y[retain], 10, seed=s + 10 * seed, **MLP_PARAMS)
        _save(model, out / ("extra/retrained-other-seed.pt" if i == _N_REFERENCES else f"retrained-{i}.pt"))
    df.to_parquet(out / "data.parquet", index=False)
    case = out / "case.toml"
    case.write_text(
        '[case]\nname = "digits: forget a random fifth of the training images"\n'
        'request_id = "DEMO-DIGITS-001"\n\n'
        '[models]\noriginal = "original.pt"\nunlearned = "unlearned.pt"\n'
        'retrained = ["retrained-0.pt", "retrained-1.pt", "retrained-2.pt", "retrained-3.pt"]\n\n'
        '[data]\npath = "data.parquet"\nlabel = "label"\nsplit = "split"\nid = "image_id"\n\n'
        '[training]\nrecipe = "torch-mlp"\n'
        f'params = {{ hidden = [128], epochs = {MLP_PARAMS["epochs"]}, '
        f'lr = {MLP_PARAMS["lr"]}, batch_size = {MLP_PARAMS["batch_size"]} }}\n',
        encoding="utf-8",
    )
    return case
