"""Ground-truth cases: one grid cell's original, references and unlearned variants.

A *cell* is (dataset, family, forget kind, seed). Its original is trained on every training
row (forget + retain); its ``k`` references on the retain rows with their own seeds. They are
shared by the cell's variants, each an unlearned model with a known right answer:

===================  ============================================================  ========
variant              unlearned model                                               expected
===================  ============================================================  ========
``retrain``          trained on retain with a new seed (not one of the references)  pass
``noop``             the original itself (same object, same bytes)                  not pass
``reexported_noop``  the original written again as different bytes (other digest)   not pass
``finetune``         the original + one epoch on retain (forest: 10 % more trees    not pass
                     grown on retain)
``gradient_ascent``  the original pushed by gradient ascent on forget until its      not pass
                     forget loss is 1 nat above the references' (forest, which has
                     no gradient: a retrain with the forget rows given wrong labels)
``group_flip``       a retrain on retain whose labels are flipped for one group      not pass
===================  ============================================================  ========

Seeds are derived from the cell (:func:`audit.calibration.datasets.derive_seed`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from audit.calibration.datasets import Dataset, derive_seed, forget_mask, load_dataset
from audit.calibration.families import (
    FULL_SIZES,
    QUICK_SIZES,
    Sizes,
    export,
    fit,
    forest_extend,
    linear_epoch,
    mean_loss,
)
from audit.core.case import AuditCase

__all__ = ["VARIANTS", "EXPECTED", "Cell", "BuiltCell", "build_cell", "make_case",
           "variant_skip_reason"]

VARIANTS: tuple[str, ...] = ("retrain", "noop", "reexported_noop", "finetune", "gradient_ascent",
                             "group_flip")
EXPECTED: dict[str, str] = {v: "pass" if v == "retrain" else "not pass" for v in VARIANTS}
_ASCENT_MARGIN = 1.0  # nats of forget loss above the references' mean
_ASCENT_ROUNDS = 60


@dataclass(frozen=True)
class Cell:
    """One (dataset, family, forget kind, seed) of the grid and how big to build it.

    Parameters
    ----------
    dataset, family, kind : str
        Dataset, model family, forget kind.
    seed : int
        The cell's seed.
    references : int
        Retrained references per case.
    quick : bool
        Smaller models (the CI grid).
    accent_students : int
        Size of the accent table.
    """

    dataset: str
    family: str
    kind: str
    seed: int
    references: int = 4
    quick: bool = False
    accent_students: int = 600

    @property
    def sizes(self) -> Sizes:
        """Model sizes (smaller with ``quick``)."""
        return QUICK_SIZES if self.quick else FULL_SIZES

    def seed_for(self, *role: object) -> int:
        """Training seed of one model of this cell.

        Parameters
        ----------
        *role : str or int
            The model's role (``original``, ``reference`` and its index ...).

        Returns
        -------
        int
        """
        return derive_seed(self.dataset, self.family, self.kind, self.seed, *role)


def variant_skip_reason(cell: Cell, variant: str) -> str | None:
    """Why ``variant`` is not built for ``cell`` (``None`` when it is).

    Parameters
    ----------
    cell : Cell
        The cell.
    variant : str
        An unlearned variant.

    Returns
    -------
    str or None

    Examples
    --------
    >>> variant_skip_reason(Cell("digits", "forest", "class", 0), "gradient_ascent")[:30]
    'the references already give th'
    >>> variant_skip_reason(Cell("digits", "mlp", "class", 0), "gradient_ascent") is None
    True
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    if variant == "gradient_ascent" and cell.kind == "class" and cell.family != "mlp":
        return ("the references already give the forgotten class probability ~0 (a scikit-learn "
                "model without the class): no over-unlearning of its rows exists to build")
    return None


@dataclass
class BuiltCell:
    """A cell's table, original, references and unlearned variants (loaded adapters).

    Parameters
    ----------
    cell : Cell
        The cell.
    frame : DataFrame
        The case table.
    groups : list of str
        Its group columns.
    original : adapter
        The original.
    references : list of adapter
        The retrained references.
    unlearned : dict of str to adapter
        The variants built.
    notes : dict of str to str
        Notes on variants.
    """

    cell: Cell
    frame: pd.DataFrame
    groups: list[str]
    original: Any
    references: list[Any]
    unlearned: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)


@dataclass
class _Parts:
    cell: Cell
    ds: Dataset
    forget: np.ndarray
    retain: np.ndarray
    directory: Path
    original_raw: Any = None
    reference_raws: list[Any] = field(default_factory=list)

    @property
    def k(self) -> int:
        return self.ds.n_classes

    def fit(self, X: np.ndarray, y: np.ndarray, seed: int, **kw: Any) -> Any:
        return fit(self.cell.family, X, y, self.k, seed, self.cell.sizes, **kw)

    def export(self, raw: Any, name: str, alt: bool = False) -> Any:
        return export(self.cell.family, raw, self.directory, name, self.k, self.ds.X.shape[1],
                      self.cell.sizes, alt=alt)

    def loss(self, raw: Any, rows: np.ndarray) -> float:
        return mean_loss(self.cell.family, raw, self.ds.X[rows], self.ds.y[rows], self.k)


def _finetune(p: _Parts, seed: int) -> Any:
    X, y, fam = p.ds.X, p.ds.y, p.cell.family
    if fam == "mlp":
        from audit.core.model_objects import TorchModule
        from audit.lab.methods.baselines import finetune

        data = ((X[p.forget], y[p.forget]), (X[p.retain], y[p.retain]))
        return finetune(TorchModule(p.original_raw), *data, None, seed, epochs=1).module
    if fam == "logreg":
        return linear_epoch(p.original_raw, X[p.retain], y[p.retain], lr=0.05, seed=seed)
    train = ~p.ds.test
    return forest_extend(p.original_raw, X[train], y[train], p.retain[train].astype(float), seed)


def _ascend(p: _Parts, seed: int) -> tuple[Any, str]:
    X, y, fam = p.ds.X, p.ds.y, p.cell.family
    if fam == "forest":
        wrong = y.copy()
        shift = np.random.default_rng(seed).integers(1, p.k, size=int(p.forget.sum()))
        wrong[p.forget] = (y[p.forget] + shift) % p.k
        train = ~p.ds.test
        return p.fit(X[train], wrong[train], seed), "forest: retrain with wrong forget labels"
    target = float(np.mean([p.loss(r, p.forget) for r in p.reference_raws])) + _ASCENT_MARGIN
    model, rounds = p.original_raw, 0
    while p.loss(model, p.forget) < target and rounds < _ASCENT_ROUNDS:
        model = _ascent_round(p, model, seed + rounds)
        rounds += 1
    return model, (f"{rounds} ascent rounds: forget loss {p.loss(model, p.forget):.2f} "
                   f"(target {target:.2f})")


def _ascent_round(p: _Parts, model: Any, seed: int) -> Any:
    Xf, yf = p.ds.X[p.forget], p.ds.y[p.forget]
    if p.cell.family == "logreg":
        return linear_epoch(model, Xf, yf, lr=0.1, seed=seed, ascent=True)
    from audit.core.model_objects import TorchModule
    from audit.lab.methods.baselines import gradient_ascent

    retain = (p.ds.X[p.retain], p.ds.y[p.retain])
    return gradient_ascent(TorchModule(model), (Xf, yf), retain, None, seed, steps=5, lr=1e-3).module


def _group_flip(p: _Parts, seed: int) -> tuple[Any, str]:
    col, value = p.ds.flip_group
    flip = p.retain & (p.ds.groups[col].to_numpy() == value)
    y = p.ds.y.copy()
    y[flip] = 1 - y[flip] if p.k == 2 else (y[flip] + 1) % p.k
    return p.fit(p.ds.X[p.retain], y[p.retain], seed), f"{int(flip.sum())} retain rows of {col}={value}"


def _variant(p: _Parts, variant: str, original: Any) -> tuple[Any, str]:
    seed = p.cell.seed_for("variant", variant)
    if variant == "retrain":
        return p.export(p.fit(p.ds.X[p.retain], p.ds.y[p.retain], seed), "u-retrain"), ""
    if variant == "noop":
        return original, "the original object"
    if variant == "reexported_noop":
        return p.export(p.original_raw, "u-reexported", alt=True), "the original, other bytes"
    if variant == "finetune":
        return p.export(_finetune(p, seed), "u-finetune"), ""
    if variant == "gradient_ascent":
        raw, note = _ascend(p, seed)
        return p.export(raw, "u-ascent"), note
    if variant == "group_flip":
        raw, note = _group_flip(p, seed)
        return p.export(raw, "u-group-flip"), note
    raise ValueError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")


def build_cell(cell: Cell, directory: Path, variants: tuple[str, ...] = VARIANTS) -> BuiltCell:
    """Train and export a cell's models into ``directory`` and load them back.

    Variants for which :func:`variant_skip_reason` gives a reason are left out.

    Parameters
    ----------
    cell : Cell
        The cell.
    directory : Path
        Where the models are written.
    variants : tuple of str
        The variants to build.

    Returns
    -------
    BuiltCell

    Examples
    --------
    >>> import tempfile
    >>> cell = Cell("breast_cancer", "logreg", "random10", 0, references=2, quick=True)
    >>> built = build_cell(cell, Path(tempfile.mkdtemp()), variants=("retrain", "noop"))
    >>> len(built.references), built.unlearned["noop"] is built.original
    (2, True)
    """
    ds = load_dataset(cell.dataset, cell.seed, cell.accent_students)
    forget = forget_mask(ds, cell.kind, cell.seed)
    p = _Parts(cell, ds, forget, ~ds.test & ~forget, Path(directory))
    train = ~ds.test
    p.original_raw = p.fit(ds.X[train], ds.y[train], cell.seed_for("original"))
    p.reference_raws = [p.fit(ds.X[p.retain], ds.y[p.retain], cell.seed_for("reference", j))
                        for j in range(cell.references)]
    original = p.export(p.original_raw, "original")
    refs = [p.export(r, f"reference-{j}") for j, r in enumerate(p.reference_raws)]
    built = BuiltCell(cell, ds.frame(forget), list(ds.groups.columns), original, refs)
    for v in variants:
        if variant_skip_reason(cell, v):
            continue
        built.unlearned[v], note = _variant(p, v, original)
        if note:
            built.notes[v] = note
    return built


def make_case(built: BuiltCell, variant: str) -> AuditCase:
    """The in-memory :class:`~audit.core.case.AuditCase` of one variant of a built cell.

    Parameters
    ----------
    built : BuiltCell
        A built cell.
    variant : str
        One of its variants.

    Returns
    -------
    AuditCase
    """
    c = built.cell
    return AuditCase(original=built.original, unlearned=built.unlearned[variant],
                     retrained=built.references, data=built.frame, label="label", split="split",
                     groups=built.groups, name=f"{c.dataset}/{c.family}/{c.kind}/{variant}/seed {c.seed}")
