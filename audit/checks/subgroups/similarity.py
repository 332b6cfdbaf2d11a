"""How much does a flagged slice resemble the forgotten data?

Two views, both computed from the case's own rows (nothing leaves the audit):

* **share** — for each condition ``column = value`` of the slice that is a group column,
  the share of forget rows with that value, next to its share among retain rows
  ("80 % of the withdrawn rows have home_language = Vietnamese, against 15 % of the rest");
* **classifier similarity** — a logistic regression (scikit-learn) trained to tell forget
  rows from retain rows on the model's features; the mean predicted probability
  "looks like the forget set" of the slice's test rows, next to that of all test rows.
  A ratio well above 1 means the slice lives where the forgotten data lived.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from attacks.threads import one_blas_thread
from audit.checks.subgroups.slices import Slice

__all__ = ["forget_shares", "ForgetLikeness"]


def forget_shares(forget: pd.DataFrame, retain: pd.DataFrame, sl: Slice) -> dict[str, dict[str, float]]:
    """Share of forget and retain rows holding each ``column = value`` of ``sl``.

    Conditions on columns the forget table does not have (e.g. binned features) are skipped.

    Parameters
    ----------
    forget, retain : DataFrame
        The two splits.
    sl : dict
        The slice.

    Returns
    -------
    dict

    Examples
    --------
    >>> f = pd.DataFrame({"lang": ["v", "v", "e", "v"]}); r = pd.DataFrame({"lang": ["e", "e", "v", "e"]})
    >>> forget_shares(f, r, {"lang": "v"})
    {'lang=v': {'forget': 0.75, 'retain': 0.25}}
    """
    out: dict[str, dict[str, float]] = {}
    for col, val in sl.items():
        if col not in forget.columns or col not in retain.columns:
            continue
        fs = float((forget[col].astype(str) == str(val)).mean()) if len(forget) else float("nan")
        rs = float((retain[col].astype(str) == str(val)).mean()) if len(retain) else float("nan")
        out[f"{col}={val}"] = {"forget": fs, "retain": rs}
    return out


class ForgetLikeness:
    """A forget-vs-retain classifier; scores how forget-like rows are.

    Parameters
    ----------
    X_forget, X_retain : ndarray
        Feature rows of the forget and retain splits (retain is subsampled to at most
        ``max_rows`` rows for speed).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> fl = ForgetLikeness(rng.normal(2, 1, (200, 2)), rng.normal(0, 1, (800, 2)), rng)
    >>> bool(fl.ratio(rng.normal(2, 1, (50, 2)), rng.normal(0, 1, (500, 2))) > 1.5)
    True
    """

    def __init__(self, X_forget: np.ndarray, X_retain: np.ndarray, rng: np.random.Generator,
                 max_rows: int = 20_000) -> None:
        if len(X_retain) > max_rows:
            X_retain = X_retain[rng.choice(len(X_retain), max_rows, replace=False)]
        if len(X_forget) > max_rows:
            X_forget = X_forget[rng.choice(len(X_forget), max_rows, replace=False)]
        X = np.vstack([X_forget, X_retain]).astype(np.float64)
        y = np.r_[np.ones(len(X_forget)), np.zeros(len(X_retain))]
        self.model = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=1000))
        with one_blas_thread():  # a dozen features: BLAS threads only spin on a busy machine
            self.model.fit(X, y)

    def score(self, X: np.ndarray) -> np.ndarray:
        """Probability (balanced classes) that each row comes from the forget set.

        Parameters
        ----------
        X : ndarray
            Rows.

        Returns
        -------
        ndarray
        """
        return self.model.predict_proba(np.asarray(X, dtype=np.float64))[:, 1]

    def ratio(self, X_slice: np.ndarray, X_all: np.ndarray) -> float:
        """Mean forget-likeness of the slice's rows over that of all rows.

        Parameters
        ----------
        X_slice, X_all : ndarray
            The slice's rows and all rows.

        Returns
        -------
        float
        """
        base = float(self.score(X_all).mean())
        return float(self.score(X_slice).mean()) / base if base > 0 else float("nan")
