"""The ``cv-ranking`` scenario: a CV-shortlisting model must stop using ``has_driving_licence``.

A recruiter's model shortlists candidates (label 1 = shortlisted). Historical decisions
rewarded a driving licence the job does not need, which disadvantages candidates less
likely to hold one. The model must stop using the licence, and a fifth of the training
candidates also withdrew their applications (the ``forget`` split).

Models (``.skops``: scikit-learn ``StandardScaler`` + averaged logistic ``SGDClassifier``):

* ``original.skops`` — trained on forget + retain with the licence;
* ``unlearned.skops`` — an approximate fix: the original fine-tuned on the retain rows
  with the licence set to its mean. No gradient reaches the licence weight, so the
  model still uses it — the feature-removal check must fail it;
* ``retrained-0.skops``, ``retrained-1.skops`` — trained from scratch on retain with the
  licence column zeroed (no influence: its weight stays exactly 0);
* ``extra/retrained-other-seed.skops`` — another such retrain: as ``unlearned`` it must pass.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import skops.io as sio
from sklearn.linear_model import SGDClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

__all__ = ["build_cv_ranking", "cv_frame", "FEATURES", "LICENCE"]

LICENCE = "has_driving_licence"
FEATURES = ["years_experience", "education_level", "skills_score", "languages", LICENCE]
_N = 3000


def cv_frame(seed: int = 0, n: int = _N) -> pd.DataFrame:
    """Synthetic candidates with historical shortlisting labels that reward the licence.

    Parameters
    ----------
    seed : int
        Seed of the synthetic table.
    n : int
        Rows.

    Returns
    -------
    DataFrame

    Examples
    --------
    >>> len(cv_frame(0, n=50))
    50
    """
    rng = np.random.default_rng(seed)
    gender = rng.choice(["female", "male", "nonbinary"], size=n, p=[0.48, 0.48, 0.04])
    p_lic = np.where(gender == "male", 0.75, 0.5)
    licence = (rng.random(n) < p_lic).astype(np.int64)
    exp = np.clip(rng.gamma(2.0, 3.0, n), 0, 30).round(1)
    edu = rng.integers(0, 4, n)
    skills = rng.normal(0, 1, n).round(3)
    langs = rng.integers(1, 4, n)
    logit = -2.2 + 0.12 * exp + 0.5 * edu + 1.2 * skills + 0.3 * langs + 1.6 * licence
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    order = rng.permutation(n)
    split = np.empty(n, dtype=object)
    n_test = int(0.3 * n)
    n_forget = int(0.2 * (n - n_test))
    split[order[:n_test]] = "test"
    split[order[n_test:n_test + n_forget]] = "forget"
    split[order[n_test + n_forget:]] = "retain"
    return pd.DataFrame({
        "candidate_id": [f"cand-{i:05d}" for i in range(n)],
        "years_experience": exp, "education_level": edu, "skills_score": skills,
        "languages": langs, LICENCE: licence, "gender": gender, "label": label, "split": split,
    })


def _model(seed: int) -> Pipeline:
    return Pipeline([("scale", StandardScaler()),
                     ("clf", SGDClassifier(loss="log_loss", alpha=1e-4, average=True, max_iter=50,
                                           tol=None, random_state=seed))])


def _without_licence(X: np.ndarray) -> np.ndarray:
    X = X.copy()
    X[:, FEATURES.index(LICENCE)] = 0.0
    return X


def _finetune_without_licence(original: Pipeline, X: np.ndarray, y: np.ndarray, seed: int) -> Pipeline:
    model = copy.deepcopy(original)
    Z = model.named_steps["scale"].transform(X)
    Z[:, FEATURES.index(LICENCE)] = 0.0  # the scaled mean: no gradient reaches its weight
    clf = model.named_steps["clf"]
    clf.set_params(random_state=seed)
    for _ in range(5):
        clf.partial_fit(Z, y)
    return model


def build_cv_ranking(out_dir: Path, seed: int = 0) -> Path:
    """Write the cv-ranking case (data.parquet, .skops models, case.toml); return case.toml.

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
    >>> case_toml = build_cv_ranking(Path(tempfile.mkdtemp()))   # doctest: +SKIP
    """
    out = Path(out_dir)
    (out / "extra").mkdir(parents=True, exist_ok=True)
    df = cv_frame(seed)
    X = df[FEATURES].to_numpy(np.float64)
    y = df["label"].to_numpy(np.int64)
    train = (df["split"] != "test").to_numpy()
    retain = (df["split"] == "retain").to_numpy()
    original = _model(1000 + seed).fit(X[train], y[train])
    models = {
        "original.skops": original,
        "unlearned.skops": _finetune_without_licence(original, X[retain], y[retain], 2000 + seed),
        "retrained-0.skops": _model(3000 + seed).fit(_without_licence(X[retain]), y[retain]),
        "retrained-1.skops": _model(3001 + seed).fit(_without_licence(X[retain]), y[retain]),
        "extra/retrained-other-seed.skops": _model(3002 + seed).fit(_without_licence(X[retain]), y[retain]),
    }
    for name, model in models.items():
        sio.dump(model, out / name)
    df.to_parquet(out / "data.parquet", index=False)
    feats = ", ".join(f'"{f}"' for f in FEATURES)
    case = out / "case.toml"
    case.write_text(
        '[case]\nname = "cv-ranking: stop using has_driving_licence"\n'
        'request_id = "DEMO-CV-001"\n'
        'description = "Shortlisting must no longer depend on a driving licence; withdrawn '
        'applications are forgotten."\n\n'
        '[models]\noriginal = "original.skops"\nunlearned = "unlearned.skops"\n'
        'retrained = ["retrained-0.skops", "retrained-1.skops"]\n\n'
        '[data]\npath = "data.parquet"\nlabel = "label"\nsplit = "split"\nid = "candidate_id"\n'
        f'groups = ["gender"]\nfeatures = [{feats}]\n\n'
        '[training]\nrecipe = "sklearn"\n\n'
        f'[policy.feature_removal]\nrequired = true\nfeature = "{LICENCE}"\n',
        encoding="utf-8",
    )
    return case
