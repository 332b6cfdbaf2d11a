"""The public calibration grid: ground-truth unlearning cases, audited, counted, rendered.

Build cells with :func:`full_grid` / :func:`quick_grid`, run them with :func:`run_grid`, and
render the result with :func:`render_markdown` (CALIBRATION.md) or :func:`render_text`.
``unlearn-audit calibrate [--quick]`` and ``make calibrate`` do all three.
"""

from audit.calibration.datasets import DATASETS, KINDS, Dataset, forget_mask, load_dataset
from audit.calibration.families import FAMILIES
from audit.calibration.grid import (
    CaseResult,
    full_grid,
    no_power_of,
    outcome_of,
    quick_grid,
    run_cell,
    run_grid,
    skipped,
)
from audit.calibration.report import confusion, rates, render_markdown, render_text, wrong_cases
from audit.calibration.variants import EXPECTED, VARIANTS, BuiltCell, Cell, build_cell, make_case

__all__ = [
    "DATASETS", "KINDS", "FAMILIES", "VARIANTS", "EXPECTED",
    "Dataset", "load_dataset", "forget_mask",
    "Cell", "BuiltCell", "build_cell", "make_case",
    "CaseResult", "full_grid", "quick_grid", "skipped", "run_cell", "run_grid", "outcome_of",
    "no_power_of",
    "confusion", "rates", "wrong_cases", "render_markdown", "render_text",
]
