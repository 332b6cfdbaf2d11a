"""``feature_removal``: does U still depend on a feature that must no longer count?

Configured by the policy key ``feature`` (a feature column, e.g. ``has_driving_licence``).
On each evaluated split, for U and for every retrained reference R (trained without
that feature's influence), per row:

* **counterfactual flip** — does the decision change when the feature is toggled
  (binary feature: ``1 - x``; otherwise swapped with a random other row's value)?
* **score gap** — the positive-class probability with the feature at its high value minus
  at its low value, everything else identical (the "otherwise identical candidates");
* **permutation importance** — accuracy lost when the feature's column is permuted
  across rows (``n_repeats`` permutations, the same ones for U and R).

Each is held against the retrain distribution of the same quantity (decision kernel:
paired row bootstrap plus the references' seed spread); the original is the positive
control.

Unlike other checks this one calls the models on counterfactual inputs (the output cache
holds only the case's own rows); each model is called ``2 + n_repeats`` times per split.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from audit.checks._paired import finish, model_roles, row_evidence
from audit.checks.base import CheckContext, CheckSpec
from audit.core.decision import Evidence
from audit.core.options import SPLITS, Option, switches
from audit.core.outputs import normalise_logits
from audit.core.results import CheckResult, Metric

__all__ = ["SPEC", "run", "dependence_rows"]


def _column(X: Any, col: int | str) -> np.ndarray:
    return X[col].to_numpy() if isinstance(X, pd.DataFrame) else X[:, col]


def _with_column(X: Any, col: int | str, values: Any) -> Any:
    """A copy of ``X`` with one column replaced (a matrix column or a named frame column)."""
    out = X.copy()
    if isinstance(X, pd.DataFrame):
        out[col] = values
    else:
        out[:, col] = values
    return out


def dependence_rows(
    model: Any, X: Any, y: np.ndarray, col: int | str, positive: int, n_repeats: int, seed: int,
    pred: np.ndarray | None = None,
) -> dict[str, np.ndarray | None]:
    """Per-row flip indicator, score gap and permutation-importance loss for one model.

    ``X`` is a float matrix (``col`` an index) or a DataFrame (``col`` a name; text and
    categorical columns allowed). A column of two values is toggled; any other is swapped
    with a random other row's value. The score gap needs a low and a high value: for a text
    column of more than two values there is none, and ``gap`` is ``None``.
    Deterministic for a given ``seed``, so U and R see the same permutations. ``pred``
    (the model's predictions on ``X``, e.g. from the output cache) saves a forward pass.

    Parameters
    ----------
    model : adapter
        The model.
    X : ndarray or DataFrame
        The rows.
    y : ndarray
        Their labels.
    col : int or str
        The removed feature.
    positive : int
        The class whose score gap is measured.
    n_repeats : int
        Permutations of the column.
    seed : int
        Seed of the permutations.
    pred : ndarray, optional
        The model's predictions on ``X`` (computed if absent).

    Returns
    -------
    dict of str to ndarray or None
        ``flip``, ``gap`` and ``permutation`` per row.
    """
    X = X.reset_index(drop=True) if isinstance(X, pd.DataFrame) else np.asarray(X, dtype=np.float32)
    x = _column(X, col)
    values = pd.unique(x)
    numeric = isinstance(X, np.ndarray) or pd.api.types.is_numeric_dtype(X[col]) \
        or pd.api.types.is_bool_dtype(X[col])
    ordered = sorted(values) if (numeric or len(values) <= 2) else None
    lo, hi = (ordered[0], ordered[-1]) if ordered else (None, None)
    rng = np.random.default_rng(seed)
    if len(values) <= 2:
        toggled = _with_column(X, col, np.where(x == hi, lo, hi))
    else:
        toggled = _with_column(X, col, x[rng.permutation(len(x))])
    if pred is None:
        pred = model.predict_logits(X).argmax(axis=1)
    flip = (model.predict_logits(toggled).argmax(axis=1) != pred).astype(np.float64)
    gap = None
    if ordered is not None:
        p_hi = normalise_logits(model.predict_logits(_with_column(X, col, np.full(len(x), hi))))
        p_lo = normalise_logits(model.predict_logits(_with_column(X, col, np.full(len(x), lo))))
        gap = np.exp(p_hi[:, positive]) - np.exp(p_lo[:, positive])
    correct = (pred == y).astype(np.float64)
    drop = np.zeros(len(x))
    for _ in range(int(n_repeats)):
        Xp = _with_column(X, col, x[rng.permutation(len(x))])
        drop += correct - (model.predict_logits(Xp).argmax(axis=1) == y)
    return {"flip": flip, "gap": gap, "importance": drop / max(int(n_repeats), 1)}


_METRICS = (("counterfactual_flip_rate", "flip", "flip_margin"),
            ("score_gap", "gap", "gap_margin"),
            ("permutation_importance", "importance", "importance_margin"))


def _split_evidence(ctx: CheckContext, split: str, col: int, positive: int) -> list[Evidence]:
    pol, case = ctx.policy, ctx.case
    X, y = case.inputs(split), case.y(split)
    if isinstance(X, pd.DataFrame):
        col = case.features[col]  # a frame's column is addressed by name
    seed = int(ctx.rng.integers(2**31))
    _, roles = model_roles(ctx)
    rows = {role: dependence_rows(case.models[role], X, y, col, positive, pol["n_repeats"], seed,
                                  pred=ctx.cache.predictions(role, split))
            for role in roles}
    return [row_evidence(ctx, name, split, {r: rows[r][key] for r in roles}, "two_sided",
                         float(pol[margin_key]), f"each retrained reference's {name} on the same rows")
            for name, key, margin_key in _METRICS if rows[roles[0]][key] is not None]


def run(ctx: CheckContext) -> CheckResult:
    """Compare U's dependence on the removed feature with the retrained references'.

    Parameters
    ----------
    ctx : CheckContext
        The case, the output cache, this check's policy and its seeded rng.

    Returns
    -------
    CheckResult
        Gated metrics decided by the kernel (:func:`audit.checks._paired.finish`), findings,
        tables and figures.
    """
    pol, case = ctx.policy, ctx.case
    feature = str(pol["feature"])
    if not feature:
        return CheckResult(id="feature_removal", title=SPEC.title, status="skipped",
                           summary="No feature to remove was named (policy feature_removal.feature).",
                           missing=["policy.feature_removal.feature"])
    col = case.features.index(feature)
    positive = int(pol["positive_class"]) % case.n_classes
    evidence: list[Evidence] = []
    for split in pol["splits"]:
        if case.n.get(split, 0) > 0:
            evidence.extend(_split_evidence(ctx, split, col, positive))

    def summary(status: str, decided: list[Metric]) -> str:
        return _summary(feature, status, decided)

    notes = [f"feature: {feature}; positive class index {positive}"]
    if not any(e.name == "score_gap" for e in evidence) and evidence:
        notes.append(f"score_gap skipped: {feature!r} is a text column of more than two values, so it "
                     "has no low and high value; flips and importance use row permutations")
    return finish(ctx, "feature_removal", SPEC.title, evidence, [], summary, notes=notes)


def _summary(feature: str, status: str, decided: list[Metric]) -> str:
    if status == "pass":
        return f"The unlearned model depends on {feature!r} no more than the retrained references do."
    if status == "fail":
        bad = [m for m in decided if m.status == "fail"]
        return (f"The unlearned model still depends on {feature!r}: " + "; ".join(
            f"{m.name} on {m.split} {m.value:.3f} vs {m.reference:.3f} retrained" for m in bad))
    return f"Dependence on {feature!r} could not be shown equivalent to the references with this much data."


SPEC = CheckSpec(
    id="feature_removal",
    title="Feature removal (a feature that must no longer count)",
    run=run,
    kind="forgetting",
    order=80,
    unsupported="its decision flips, positive-class score gap and permutation accuracy are a classifier's",
    options={
        **switches(required=False),
        "feature": Option(str, "", 'feature that must no longer count ("" = check skipped)',
                          tighter="unset", from_case="features"),
        "positive_class": Option(int, -1, "class index whose probability the score gap uses",
                                 tighter="unset"),
        "splits": Option(list, ["test"], "splits evaluated", items=Option(str, choices=SPLITS),
                         min_items=1, tighter="superset"),
        "n_repeats": Option(int, 5, "permutations for permutation importance", minimum=1),
        "flip_margin": Option(float, 0.02, "margin of the counterfactual flip rate U - R", minimum=0,
                              maximum=1, tighter="lower"),
        "gap_margin": Option(float, 0.02, "margin of the score gap U - R", minimum=0, maximum=1,
                             tighter="lower"),
        "importance_margin": Option(float, 0.01, "margin of the permutation importance U - R",
                                    minimum=0, maximum=1, tighter="lower"),
    },
)
