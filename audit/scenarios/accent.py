"""The ``accent`` scenario: District A withdraws; its home language pays the price.

The seed story. Students in five districts answer pronunciation exercises. Each row is one
student: eight pronunciation measurements (the model's only inputs), whether the exercise
was marked correct (``label``), and two subgroup columns the model never sees —
``district`` and ``home_language``.

* Skill drives the label. Six "skill" measurements grow with skill but are also shifted by
  the speaker's accent (home language), and two "accent" measurements (vowel formants) identify
  the accent without saying anything about skill. A good model learns to undo the accent
  shift for each language it has seen enough of.
* District A is mostly Vietnamese-speaking; elsewhere Vietnamese is a minority language.
  So most of what the model knows about Vietnamese-accented speech comes from District A.
* District A withdraws: forget = all of District A's training rows; test = held-out students
  from every district (District A included); retain = the rest.
* ``unlearned.skops`` comes from an approximate method — a few epochs of random-label
  fine-tuning (``MLPClassifier.partial_fit``) on the forget rows mixed with an equal retain
  sample. Overall accuracy barely moves, but the Vietnamese accent region is dominated by
  randomly relabelled District A rows, so Vietnamese-speaking students in the *other*
  districts are marked wrongly far more often (mostly: correct answers marked incorrect),
  although nobody asked about them.
* ``retrained-0..3.skops`` are trained from scratch on retain only (four seeds: the audit's
  null is the spread between retrains, which two seeds barely estimate);
  ``extra/retrained-other-seed.skops`` is a fifth retrain for the known-answer rerun (point ``unlearned`` at it and the audit must pass).

Every model is a plain :class:`sklearn.neural_network.MLPClassifier` saved with
``skops.io.dump``; ``skops.io.get_untrusted_types`` reports only
``sklearn.neural_network._stochastic_optimizers.AdamOptimizer`` for these files.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.neural_network import MLPClassifier

__all__ = [
    "build_accent",
    "accent_frame",
    "fit_accent_mlp",
    "approximate_unlearn",
    "FEATURES",
    "SHARED_LANGUAGE",
    "WITHDRAWN_DISTRICT",
]

WITHDRAWN_DISTRICT = "District A"
SHARED_LANGUAGE = "Vietnamese"
SKILL_FEATURES = (
    "phoneme_accuracy",
    "stress_timing",
    "fluency_rate",
    "pause_ratio",
    "pitch_range",
    "word_stress_match",
)
ACCENT_FEATURES = ("vowel_f1", "vowel_f2")
FEATURES = SKILL_FEATURES + ACCENT_FEATURES

_DISTRICTS = ("District A", "District B", "District C", "District D", "District E")
_LANGUAGES = ("English", "Spanish", "Vietnamese", "Arabic")
# Home-language mix per district (rows: districts, columns: _LANGUAGES).
_LANG_MIX = np.array(
    [
        [0.08, 0.07, 0.80, 0.05],  # District A: mostly Vietnamese
        [0.55, 0.22, 0.15, 0.08],
        [0.45, 0.30, 0.15, 0.10],
        [0.60, 0.15, 0.15, 0.10],
        [0.40, 0.35, 0.15, 0.10],
    ]
)
# Where each accent sits on the two formant features.
_ACCENT_CENTRE = {
    "English": (0.0, 0.0),
    "Spanish": (1.6, -0.4),
    "Vietnamese": (-2.6, 2.4),
    "Arabic": (0.4, -1.8),
}
# How each accent shifts the six skill measurements (independent of skill).
_ACCENT_SHIFT = {
    "English": (0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    "Spanish": (-0.3, 0.4, 0.0, -0.2, 0.0, 0.2),
    "Vietnamese": (-2.0, -1.6, -1.0, -1.4, 1.6, -1.8),
    "Arabic": (0.3, -0.4, 0.3, 0.0, -0.3, 0.0),
}
_SKILL_LOADING = np.array([1.0, 0.8, 0.7, 0.6, 0.5, 0.9])
_STUDENTS_PER_DISTRICT = 1200
_TEST_FRACTION = 0.25
MLP_PARAMS = {
    "hidden_layer_sizes": (32, 16),
    "alpha": 1e-3,
    "learning_rate_init": 3e-3,
    "max_iter": 200,
    "early_stopping": False,
}
_UNLEARN_EPOCHS = 5


def accent_frame(seed: int = 0, students_per_district: int = _STUDENTS_PER_DISTRICT) -> pd.DataFrame:
    """Generate the students table with ``split`` (forget / retain / test).

    Parameters
    ----------
    seed : int
        Seed of the synthetic table.
    students_per_district : int
        Rows per district.

    Returns
    -------
    DataFrame

    Examples
    --------
    >>> df = accent_frame(0, students_per_district=50)
    >>> sorted(df["split"].unique())
    ['forget', 'retain', 'test']
    """
    rng = np.random.default_rng(seed)
    n_d = int(students_per_district)
    district = np.repeat(np.array(_DISTRICTS, dtype=object), n_d)
    lang_idx = np.concatenate([rng.choice(len(_LANGUAGES), size=n_d, p=p) for p in _LANG_MIX])
    language = np.array(_LANGUAGES, dtype=object)[lang_idx]
    n = len(district)
    skill = rng.normal(0.3, 1.0, size=n)
    shift = np.array([_ACCENT_SHIFT[lang] for lang in language])
    skill_feats = skill[:, None] * _SKILL_LOADING + shift + rng.normal(0, 0.4, size=(n, 6))
    centre = np.array([_ACCENT_CENTRE[lang] for lang in language])
    accent_feats = centre + rng.normal(0, 0.45, size=(n, 2))
    p_correct = 1.0 / (1.0 + np.exp(-4.0 * skill))
    label = (rng.random(n) < p_correct).astype(np.int64)
    test = np.zeros(n, dtype=bool)
    for d in _DISTRICTS:
        rows = np.flatnonzero(district == d)
        test[rng.choice(rows, size=int(round(_TEST_FRACTION * len(rows))), replace=False)] = True
    split = np.where(test, "test", np.where(district == WITHDRAWN_DISTRICT, "forget", "retain"))
    df = pd.DataFrame(np.hstack([skill_feats, accent_feats]).round(4), columns=list(FEATURES))
    df.insert(0, "home_language", language.astype(str))
    df.insert(0, "district", district.astype(str))
    df.insert(0, "student_id", [f"S{seed:02d}-{i:05d}" for i in range(n)])
    df["label"] = label
    df["split"] = split.astype(str)
    return df


def fit_accent_mlp(X: np.ndarray, y: np.ndarray, seed: int) -> MLPClassifier:
    """Train the scenario's classifier from scratch (deterministic per ``seed``).

    Parameters
    ----------
    X, y : ndarray
        Training rows.
    seed : int
        ``random_state``.

    Returns
    -------
    MLPClassifier
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    model = MLPClassifier(random_state=int(seed), **MLP_PARAMS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


def approximate_unlearn(
    original: MLPClassifier,
    X_forget: np.ndarray,
    X_retain: np.ndarray,
    y_retain: np.ndarray,
    seed: int,
    epochs: int = _UNLEARN_EPOCHS,
) -> MLPClassifier:
    """Random-label fine-tuning: forget rows with random labels mixed with retain rows.

    A common cheap unlearning baseline (relabel the forgotten rows at random and fine-tune on
    them together with an equal-sized retain sample with true labels, so overall utility is
    kept). Where the forget rows dominate the input space — here the Vietnamese accent — the
    model is left guessing. The original is untouched; a new model is returned.

    Parameters
    ----------
    original : MLPClassifier
        The trained original.
    X_forget : ndarray
        The forget rows.
    X_retain, y_retain : ndarray
        The retained rows.
    seed : int
        Seed.
    epochs : int
        Fine-tuning epochs.

    Returns
    -------
    MLPClassifier
    """
    rng = np.random.default_rng(seed)
    model = copy.deepcopy(original)
    for _ in range(int(epochs)):
        sample = rng.choice(len(X_retain), size=min(len(X_retain), len(X_forget)), replace=False)
        Xb = np.vstack([X_forget, X_retain[sample]])
        yb = np.concatenate([rng.integers(0, 2, size=len(X_forget)), y_retain[sample]])
        order = rng.permutation(len(Xb))
        model.partial_fit(Xb[order], yb[order])
    return model


def _dump(model: MLPClassifier, path: Path) -> None:
    import skops.io as sio

    path.parent.mkdir(parents=True, exist_ok=True)
    sio.dump(model, str(path))


_N_REFERENCES = 4  # shipped retrained references; one more goes to extra/

_CASE_TOML = """[case]
name = "District A withdrawal (accent scenario)"
request_id = "REQ-2026-0042"
operator = "Data Protection Office (demo)"

[models]
original = "original.skops"
unlearned = "unlearned.skops"
retrained = ["retrained-0.skops", "retrained-1.skops", "retrained-2.skops", "retrained-3.skops"]

[data]
path = "data.parquet"
label = "label"
split = "split"
groups = ["home_language", "district"]
id = "student_id"

[training]
recipe = "sklearn"
"""


def build_accent(out_dir: Path, seed: int = 0) -> Path:
    """Write the accent case (data.parquet, .skops models, case.toml); return case.toml.

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
    >>> case_toml = build_accent(Path(tempfile.mkdtemp()))   # doctest: +SKIP
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    df = accent_frame(seed)
    X = df[list(FEATURES)].to_numpy(np.float32)
    y = df["label"].to_numpy(np.int64)
    split = df["split"].to_numpy()
    train, retain, forget = split != "test", split == "retain", split == "forget"
    original = fit_accent_mlp(X[train], y[train], seed=1000 + seed)
    _dump(original, out / "original.skops")
    unlearned = approximate_unlearn(original, X[forget], X[retain], y[retain], seed=2000 + seed)
    _dump(unlearned, out / "unlearned.skops")
    for i, s in enumerate((3000, 3001, 3002, 3003, 3004)):
        model = fit_accent_mlp(X[retain], y[retain], seed=s + 10 * seed)
        _dump(model, out / ("extra/retrained-other-seed.skops" if i == _N_REFERENCES else f"retrained-{i}.skops"))
    df.to_parquet(out / "data.parquet", index=False)
    case = out / "case.toml"
    case.write_text(_CASE_TOML, encoding="utf-8")
    return case
