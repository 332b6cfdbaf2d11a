"""``unlearn-audit calibrate``: run the public calibration grid and write CALIBRATION.md.

Wired into the main app by :func:`register` (called from ``audit/cli/app.py``). Exit 0 when the
grid ran, whatever the verdicts (it is a measurement, not a gate); 2 for bad usage.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from audit.shared.errors import BadInput

__all__ = ["register", "calibrate_command", "command_line"]


def command_line(quick: bool, seeds: int, references: int, jobs: int, out: Path | None) -> str:
    """The exact command that reproduces a run (recorded in CALIBRATION.md).

    Parameters
    ----------
    quick : bool
        ``--quick``.
    seeds, references, jobs : int
        The grid's options.
    out : Path, optional
        ``--out``.

    Returns
    -------
    str

    Examples
    --------
    >>> command_line(True, 2, 4, 2, None)
    'unlearn-audit calibrate --quick --seeds 2 --references 4 --jobs 2'
    """
    parts = ["unlearn-audit calibrate"] + (["--quick"] if quick else [])
    parts += [f"--seeds {seeds}", f"--references {references}", f"--jobs {jobs}"]
    if out is not None:
        parts.append(f"--out {out}")
    return " ".join(parts)


def _validate(seeds: int, references: int, jobs: int, out: Path | None) -> None:
    if seeds < 1:
        raise BadInput("--seeds", "must be at least 1")
    if references < 1:
        raise BadInput("--references", "must be at least 1")
    if jobs < 1 and jobs != -1:
        raise BadInput("--jobs", "must be at least 1 (or -1 for every core)")
    if out is not None and (out.is_dir() or not out.parent.is_dir()):
        raise BadInput("--out", f"{out} must be a file path in an existing directory")


def calibrate_command(
    quick: Annotated[bool, typer.Option("--quick", help="Small CI subset (2 seeds, 5 cells).")] = False,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Markdown file to write (default: CALIBRATION.md for the full grid; "
                      "--quick only prints unless given).")] = None,
    seeds: Annotated[int | None, typer.Option(help="Seeds per cell (default 5; 2 with --quick).")] = None,
    references: Annotated[int, typer.Option(help="Retrained references per cell.")] = 4,
    jobs: Annotated[int, typer.Option(help="Parallel joblib workers over cells.")] = 1,
    dask: Annotated[str | None, typer.Option("--dask", help=(
        "Dask scheduler address: the cells run on its workers (default: "
        "$DASK_SCHEDULER_ADDRESS; --dask '' runs here)."))] = None,
) -> None:
    """Build ground-truth cases, audit each, print the confusion matrix (exit 0 if it ran)."""
    from audit.calibration import (
        full_grid,
        quick_grid,
        render_markdown,
        render_text,
        run_grid,
        skipped,
    )
    from audit.cli.console import bad_input, err, interactive

    n_seeds = seeds if seeds is not None else (2 if quick else 5)
    try:
        _validate(n_seeds, references, jobs, out)
    except BadInput as exc:
        raise bad_input(exc) from None
    target = out if out is not None else (None if quick else Path("CALIBRATION.md"))
    cells = quick_grid(n_seeds, references) if quick else full_grid(n_seeds, references)
    show = interactive()

    def progress(done: int, total: int, cell: object) -> None:
        if show:
            err(f"[{done}/{total}] {cell.dataset} {cell.family} {cell.kind} seed {cell.seed}")

    from audit.training.cluster import compute_on, describe, scheduler_address

    address = scheduler_address(dask)
    t0 = time.perf_counter()
    try:
        with compute_on(address):
            where = describe()
            results = run_grid(cells, jobs=jobs, progress=progress)
    except BadInput as exc:
        raise bad_input(exc) from None
    seconds = time.perf_counter() - t0
    typer.echo(render_text(results))
    typer.echo(f"{len(results)} cases in {seconds:.0f} s")
    if target is not None:
        meta = {"Cells": f"{len(cells)} (dataset x family x kind x seed), {references} references each",
                "Jobs": jobs if where["backend"] == "local" else f"Dask, {where['workers']} workers"}
        text = render_markdown(results, command=command_line(quick, n_seeds, references, jobs, out),
                               seconds=seconds, meta=meta, skipped=skipped(cells))
        target.write_text(text, encoding="utf-8")
        typer.echo(f"written: {target}")
    raise typer.Exit(0)


def register(app: typer.Typer) -> None:
    """Add the ``calibrate`` command to ``app``.

    Parameters
    ----------
    app : typer.Typer
        The CLI.

    Returns
    -------
    None
    """
    app.command("calibrate")(calibrate_command)
