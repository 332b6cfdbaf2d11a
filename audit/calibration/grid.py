"""The calibration grid: which cells to build, running the real audit on each, the outcomes.

:func:`run_grid` builds every cell (:func:`audit.calibration.variants.build_cell`), runs
:func:`audit.engine.runner.run_audit` (built-in policy) on each variant and keeps a small
:class:`CaseResult` per case (verdict, check statuses, timing), so memory stays flat.
Cells run in parallel through joblib (loky, one BLAS / torch thread per worker).
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from audit.calibration.datasets import DATASETS, KINDS, kind_skip_reason, load_dataset
from audit.calibration.families import FAMILIES
from audit.calibration.variants import (
    EXPECTED,
    VARIANTS,
    Cell,
    build_cell,
    make_case,
    variant_skip_reason,
)

__all__ = ["CaseResult", "QUICK_CELLS", "full_grid", "quick_grid", "skipped", "run_cell",
           "run_grid", "outcome_of", "no_power_of"]

QUICK_CELLS: tuple[tuple[str, str, str], ...] = (
    ("digits", "mlp", "random10"),
    ("digits", "forest", "class"),
    ("breast_cancer", "logreg", "random10"),
    ("accent", "forest", "group"),
    ("accent", "mlp", "group"),
)
_PASSING = ("pass", "warn")
_NO_POWER = re.compile(r"no power|could not have detected|indistinguishable from a retrain", re.I)


@dataclass
class CaseResult:
    """One audited ground-truth case, reduced to what the report needs.

    Parameters
    ----------
    dataset, family, kind, variant : str
        The case.
    seed : int
        Its seed.
    expected, verdict : str
        The right answer and the audit's verdict.
    correct : bool
        :func:`outcome_of`.
    no_power : bool
        The audit said it had no power.
    checks : dict of str to str
        Status per check.
    required : list of str
        The required checks.
    **fields
        Errors and notes (see the attributes).
    """

    dataset: str
    family: str
    kind: str
    variant: str
    seed: int
    expected: str
    verdict: str
    correct: bool
    no_power: bool = False
    checks: dict[str, str] = field(default_factory=dict)
    required: list[str] = field(default_factory=list)
    seconds: float = 0.0
    note: str = ""
    error: str = ""

    @property
    def not_passing(self) -> list[str]:
        """``check:status`` of every check that did not pass (``*`` marks required ones)."""
        return [f"{cid}{'*' if cid in self.required else ''}:{st}"
                for cid, st in self.checks.items() if st != "pass"]

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready).

        Returns
        -------
        dict
        """
        return asdict(self)


def outcome_of(expected: str, verdict: str) -> bool:
    """Whether ``verdict`` is right for a case whose right answer is ``expected``.

    A genuine retrain must pass (``warn`` allowed); anything else must not pass, so
    ``fail`` and ``inconclusive`` are both right; an ``error`` is never right.

    Parameters
    ----------
    expected : str
        ``pass`` or ``not pass``.
    verdict : str
        The audit's verdict.

    Returns
    -------
    bool

    Examples
    --------
    >>> outcome_of("pass", "warn"), outcome_of("not pass", "inconclusive"), outcome_of("not pass", "error")
    (True, True, False)

    Examples
    --------
    >>> outcome_of("pass", "warn"), outcome_of("not pass", "inconclusive"), outcome_of("pass", "error")
    (True, True, False)
    """
    if verdict == "error":
        return False
    return (verdict in _PASSING) == (expected == "pass")


def no_power_of(results: dict[str, Any]) -> bool:
    """Whether an inconclusive audit said it had no power to tell the original from a retrain.

    Reads a machine-readable ``no_power`` flag (top level or under ``controls``) when the
    results carry one, else the phrases of the design's positive control in the summaries.

    Parameters
    ----------
    results : dict
        A results dict.

    Returns
    -------
    bool

    Examples
    --------
    >>> no_power_of({"verdict": "inconclusive", "checks": [
    ...     {"summary": "this audit could not have detected a no-op"}]})
    True
    >>> no_power_of({"verdict": "fail", "no_power": True, "checks": []})
    False
    """
    if results.get("verdict") != "inconclusive":
        return False
    controls = results.get("controls") if isinstance(results.get("controls"), dict) else {}
    if "power" in controls:
        return not controls["power"]
    if results.get("no_power") or controls.get("no_power"):
        return True
    texts = [str(results.get("verdict_reason", ""))]
    texts += [str(c.get("summary", "")) for c in results.get("checks", [])]
    return any(_NO_POWER.search(t) for t in texts)


def full_grid(seeds: int = 5, references: int = 4, accent_students: int = 600) -> list[Cell]:
    """Every dataset x family x applicable forget kind, ``seeds`` seeds each.

    Parameters
    ----------
    seeds, references : int
        Seeds per cell and references per case.
    accent_students : int
        Size of the accent table.

    Returns
    -------
    list of Cell

    Examples
    --------
    >>> len(full_grid(seeds=5))   # (4 + 3 + 3 kinds) x 3 families x 5 seeds
    150
    """
    cells = []
    for ds in DATASETS:
        n_classes = 10 if ds == "digits" else 2
        for fam in FAMILIES:
            for kind in KINDS:
                if kind == "class" and n_classes <= 2:
                    continue
                cells += [Cell(ds, fam, kind, s, references, False, accent_students) for s in range(seeds)]
    return cells


def quick_grid(seeds: int = 2, references: int = 4) -> list[Cell]:
    """The CI subset: :data:`QUICK_CELLS`, smaller models, a smaller accent table.

    Parameters
    ----------
    seeds, references : int
        Seeds per cell and references per case.

    Returns
    -------
    list of Cell

    Examples
    --------
    >>> [c.quick for c in quick_grid(seeds=1)] == [True] * len(QUICK_CELLS)
    True
    """
    return [Cell(ds, fam, kind, s, references, True, 300)
            for ds, fam, kind in QUICK_CELLS for s in range(seeds)]


def skipped(cells: Iterable[Cell]) -> list[tuple[str, str]]:
    """``(what, why)`` for every kind / variant the grid leaves out of these cells.

    Parameters
    ----------
    cells : iterable of Cell
        The cells run.

    Returns
    -------
    list of (str, str)
    """
    out: dict[str, str] = {}
    for ds in DATASETS:
        reason = kind_skip_reason(load_dataset(ds, 0, 50), "class")
        if reason:
            out[f"{ds} / class"] = reason
    for c in cells:
        for v in VARIANTS:
            reason = variant_skip_reason(c, v)
            if reason:
                out[f"{c.family} / {c.kind} / {v}"] = reason
    return sorted(out.items())


def _error_results(cell: Cell, variants: Iterable[str], message: str) -> list[CaseResult]:
    return [CaseResult(cell.dataset, cell.family, cell.kind, v, cell.seed, EXPECTED[v], "error",
                       False, error=message) for v in variants]


def _audit_one(cell: Cell, built: Any, variant: str) -> CaseResult:
    from audit.engine.runner import run_audit

    t0 = time.perf_counter()
    try:
        results = run_audit(make_case(built, variant), policy=None, seed=cell.seed)
    except Exception as exc:  # noqa: BLE001 - one broken case must not stop the grid
        return _error_results(cell, [variant], f"{type(exc).__name__}: {exc}")[0]
    verdict = results["verdict"]
    return CaseResult(
        cell.dataset, cell.family, cell.kind, variant, cell.seed, EXPECTED[variant], verdict,
        outcome_of(EXPECTED[variant], verdict), no_power_of(results),
        {c["id"]: c["status"] for c in results["checks"]},
        [c["id"] for c in results["checks"] if c.get("required")],
        round(time.perf_counter() - t0, 2), built.notes.get(variant, ""))


def run_cell(cell: Cell, variants: tuple[str, ...] = VARIANTS) -> list[CaseResult]:
    """Build one cell and audit each of its variants.

    Parameters
    ----------
    cell : Cell
        The cell.
    variants : tuple of str
        The unlearned variants audited.

    Returns
    -------
    list of CaseResult

    Examples
    --------
    >>> out = run_cell(Cell("breast_cancer", "logreg", "random10", 0, 2, True),
    ...                variants=("noop",))                      # doctest: +SKIP
    >>> out[0].expected                                         # doctest: +SKIP
    'not pass'
    """
    wanted = [v for v in variants if not variant_skip_reason(cell, v)]
    with tempfile.TemporaryDirectory(prefix="unlearn-audit-calib-") as tmp:
        try:
            built = build_cell(cell, Path(tmp), tuple(wanted))
        except Exception as exc:  # noqa: BLE001
            return _error_results(cell, wanted, f"building the cell: {type(exc).__name__}: {exc}")
        return [_audit_one(cell, built, v) for v in wanted]


def run_grid(cells: list[Cell], jobs: int = 1, variants: tuple[str, ...] = VARIANTS,
             progress: Callable[[int, int, Cell], None] | None = None) -> list[CaseResult]:
    """Run :func:`run_cell` over ``cells`` with ``jobs`` joblib workers; results in cell order.

    Inside :func:`audit.training.cluster.compute_on` the cells run on the Dask cluster's workers.

    ``progress(done, total, cell)`` is called as each cell finishes.

    Parameters
    ----------
    cells : list of Cell
        The cells.
    jobs : int
        Local joblib workers.
    variants : tuple of str
        The variants audited per cell.
    progress : callable, optional
        ``progress(done, total, cell)``.

    Returns
    -------
    list of CaseResult
    """
    from contextlib import nullcontext

    from joblib import Parallel, delayed, parallel_config

    from audit.training import cluster
    out: list[CaseResult] = []
    on_dask = cluster.describe()["backend"] == "dask"
    # on a Dask cluster (audit.training.cluster.compute_on) the cells go to its workers, unchanged
    local = nullcontext() if on_dask else parallel_config(backend="loky", inner_max_num_threads=1)
    with local:
        gen = Parallel(n_jobs=-1 if on_dask else jobs, return_as="generator")(
            delayed(run_cell)(c, variants) for c in cells)
        for i, (cell, res) in enumerate(zip(cells, gen, strict=True), start=1):
            out += res
            if progress is not None:
                progress(i, len(cells), cell)
    return out
