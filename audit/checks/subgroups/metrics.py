"""Per-group metrics of every model: accuracy, loss, binary FNR / FPR and n."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from audit.checks.subgroups.slices import Slice, slice_label

__all__ = ["group_metrics", "rates"]


def rates(y: np.ndarray, pred: np.ndarray, loss: np.ndarray | None = None) -> dict[str, float]:
    """Accuracy, mean loss and (binary, positive class 1) FNR / FPR of some rows.

    Undefined rates (no rows, no positives, no negatives) are ``nan``.

    Parameters
    ----------
    y, pred : ndarray
        Labels and predictions.
    loss : ndarray, optional
        Per-row losses.

    Returns
    -------
    dict of str to float

    Examples
    --------
    >>> rates(np.array([1, 1, 0, 0]), np.array([1, 0, 0, 1]))["fnr"]
    0.5
    """
    y = np.asarray(y)
    pred = np.asarray(pred)
    n = len(y)
    pos, neg = y == 1, y == 0
    return {
        "n": n,
        "accuracy": float(np.mean(pred == y)) if n else float("nan"),
        "loss": float(np.mean(loss)) if (loss is not None and n) else float("nan"),
        "fnr": float(np.mean(pred[pos] != 1)) if pos.any() else float("nan"),
        "fpr": float(np.mean(pred[neg] == 1)) if neg.any() else float("nan"),
    }


def group_metrics(
    y: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    losses: Mapping[str, np.ndarray],
    slices: list[tuple[Slice, np.ndarray]],
    binary: bool = True,
) -> pd.DataFrame:
    """One row per (slice, model role): n, accuracy, loss, and FNR / FPR when ``binary``.

    Parameters
    ----------
    y : ndarray [n]
        Class indices (for binary tasks 1 is the positive class).
    predictions, losses : mapping role -> ndarray [n]
        Predicted class and per-row loss of each model on the same rows.
    slices : list of (slice, mask)
        From :func:`audit.checks.subgroups.enumerate_slices`.

    Returns
    -------
    DataFrame

    Examples
    --------
    >>> y = np.array([0, 1, 1, 0]); m = np.array([True, True, False, False])
    >>> df = group_metrics(y, {"u": np.array([0, 0, 1, 1])}, {"u": np.zeros(4)}, [({"g": "a"}, m)])
    >>> df[["slice", "role", "n", "accuracy", "fnr"]].values.tolist()
    [['g=a', 'u', 2, 0.5, 1.0]]
    """
    rows = []
    for sl, mask in slices:
        for role, pred in predictions.items():
            r = rates(y[mask], np.asarray(pred)[mask], np.asarray(losses[role])[mask])
            if not binary:
                r.pop("fnr")
                r.pop("fpr")
            rows.append({"slice": slice_label(sl), "depth": len(sl), "role": role, **r})
    return pd.DataFrame(rows)
