"""Adapters of in-memory models: a ``torch.nn.Module`` or a scikit-learn estimator as a model
with ``predict_logits`` (and ``parameters``), what :mod:`audit.core.adapters` wraps objects in and
what the recipes (:mod:`audit.training.recipes`) return.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from audit.core.torch_threads import forward_threads

__all__ = ["TorchModule", "SklearnModel", "sklearn_task"]


class TorchModule:
    """Adapter over an in-memory ``torch.nn.Module`` returning logits.

    A batch runs under :func:`audit.core.torch_threads.forward_threads`: on one torch thread
    when it is estimated (twice the parameter count per row) below ``ONE_THREAD_FLOPS``
    (decision record 0023).

    Parameters
    ----------
    module : torch.nn.Module
        A network returning logits (set to eval mode).
    sha256 : str, optional
        Digest of the file it was loaded from.
    """

    format = "torch-module"

    def __init__(self, module: nn.Module, sha256: str | None = None) -> None:
        self.module = module.eval()
        self.sha256 = sha256
        self._flops_per_row: int | None = None

    def predict_logits(self, X: np.ndarray) -> np.ndarray:
        """The module's outputs on ``X`` (float32 in, float64 out, no gradients).

        Parameters
        ----------
        X : ndarray or DataFrame, shape (n, features)
            Inputs (a DataFrame for a model that takes its features by name).

        Returns
        -------
        ndarray, shape (n, classes)
            Logits or log-probabilities (a regressor: its predictions, ``[n, 1]``).
        """
        x = torch.from_numpy(np.array(X, dtype=np.float32))
        with torch.no_grad(), forward_threads(self.flops_per_row * len(x)):
            out = self.module(x)
        return out.double().numpy()

    @property
    def flops_per_row(self) -> int:
        """Estimated floating-point operations of one row: twice the parameter count.

        Returns
        -------
        int
            Exact for linear layers (a multiply and an add per weight); low for a convolution.

        Examples
        --------
        >>> TorchModule(nn.Linear(64, 10)).flops_per_row  # 640 weights + 10 biases
        1300
        """
        if self._flops_per_row is None:
            self._flops_per_row = 2 * sum(p.numel() for p in self.module.parameters())
        return self._flops_per_row

    def parameters(self) -> dict[str, np.ndarray]:
        """The module's state dict as float64 arrays.

        Returns
        -------
        dict of str to ndarray or None
            The model's parameters by name, float64 copies (None when it exposes none).
        """
        return {k: v.detach().double().numpy().copy() for k, v in self.module.state_dict().items()}


class SklearnModel:
    """Adapter over a fitted scikit-learn classifier (log of ``predict_proba``) or regressor.

    A regressor (``sklearn.base.is_regressor``, or an estimator with ``predict`` but neither
    ``predict_proba`` nor ``decision_function``) returns its predictions as one column
    ``[n, 1]``; ``task`` says which it is.

    Parameters
    ----------
    estimator : estimator
        A fitted scikit-learn classifier, regressor or pipeline.
    sha256 : str, optional
        Digest of the file it was loaded from.

    Examples
    --------
    >>> from sklearn.linear_model import Ridge
    >>> X = np.arange(8.0).reshape(4, 2); m = SklearnModel(Ridge().fit(X, X[:, 0]))
    >>> m.task, m.predict_logits(X).shape
    ('regression', (4, 1))
    """

    format = "sklearn"

    def __init__(self, estimator: Any, sha256: str | None = None) -> None:
        self.estimator = estimator
        self.sha256 = sha256
        self.task = sklearn_task(estimator)
        self.classes = getattr(estimator, "classes_", None) if self.task == "classification" else None

    def predict_logits(self, X: np.ndarray) -> np.ndarray:
        """Log of ``predict_proba`` (or the decision function; a regressor: ``predict``, one column).

        Parameters
        ----------
        X : ndarray or DataFrame, shape (n, features)
            Inputs (a DataFrame for a model that takes its features by name).

        Returns
        -------
        ndarray, shape (n, classes)
            Logits or log-probabilities (a regressor: its predictions, ``[n, 1]``).
        """
        est = self.estimator
        if self.task == "regression":
            return np.asarray(est.predict(X), dtype=np.float64).reshape(len(X), -1)
        if hasattr(est, "predict_proba"):
            p = np.asarray(est.predict_proba(X), dtype=np.float64)
            return np.log(np.clip(p, 1e-12, 1.0))
        d = np.asarray(est.decision_function(X), dtype=np.float64)
        if d.ndim == 1:
            return np.stack([np.zeros_like(d), d], axis=1)
        return d

    def parameters(self) -> dict[str, np.ndarray]:
        """Coefficients and intercepts of the (last step's) estimator.

        Returns
        -------
        dict of str to ndarray or None
            The model's parameters by name, float64 copies (None when it exposes none).
        """
        est = self.estimator
        steps = getattr(est, "steps", None)
        if steps:
            est = steps[-1][1]
        out: dict[str, np.ndarray] = {}
        for name in ("coef_", "intercept_"):
            if hasattr(est, name):
                out[name.rstrip("_")] = np.asarray(getattr(est, name), dtype=np.float64)
        for name in ("coefs_", "intercepts_"):
            for i, a in enumerate(getattr(est, name, []) or []):
                out[f"{name.rstrip('_')}.{i}"] = np.asarray(a, dtype=np.float64)
        return out


def sklearn_task(estimator: Any) -> str:
    """``"regression"`` or ``"classification"`` for a scikit-learn estimator (or pipeline).

    Parameters
    ----------
    estimator : estimator
        A scikit-learn estimator or pipeline.

    Returns
    -------
    str

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression, Ridge
    >>> sklearn_task(Ridge()), sklearn_task(LogisticRegression())
    ('regression', 'classification')
    """
    from sklearn.base import is_classifier, is_regressor

    if is_regressor(estimator):
        return "regression"
    if is_classifier(estimator) or hasattr(estimator, "predict_proba") or hasattr(estimator, "decision_function"):
        return "classification"
    return "regression" if hasattr(estimator, "predict") else "classification"
