"""``unlearn-audit methods``: a method audit / side-by-side benchmark as a CLI command.

The lead wires it into the main app with ``from audit.cli.methods import register;
register(app)`` in ``audit/cli/app.py``.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from audit.shared.errors import BadInput

__all__ = ["register", "methods_command", "method_catalogue"]


def method_catalogue() -> list[tuple[str, str, str]]:
    """``(name, source, one-line description)`` of every method ``--method`` accepts by name.

    Built-in baselines (:data:`audit.lab.methods.METHODS`) first, then methods registered by
    extensions (``audit.core.extensions.register("method")``); the description is the first
    sentence of the function's docstring.

    Returns
    -------
    list of (str, str, str)

    Examples
    --------
    >>> names = [name for name, _, _ in method_catalogue()]
    >>> {"retrain", "noop", "unsir", "gkt", "vbu"} <= set(names)
    True
    """
    from audit.core.extensions import registered
    from audit.lab.methods import METHODS

    def first_line(fn: object) -> str:  # the docstring's first sentence, reStructuredText roles as words
        doc = (getattr(fn, "__doc__", None) or "").strip().split("\n\n")[0]
        doc = re.sub(r":\w+:`~?(?:[\w.]+\.)?(\w+)`", r"\1", " ".join(doc.split())).replace("``", "")
        return re.split(r"(?<!\bal)(?<!\be\.g)(?<!\bi\.e)\.\s", doc)[0].rstrip(".")

    rows = [(name, "built-in", first_line(fn)) for name, fn in METHODS.items()]
    rows += [(name, "extension", first_line(fn)) for name, fn in sorted(registered("method").items())
             if name not in METHODS]
    return rows


def _print_catalogue() -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_header=True, header_style="bold")
    for col in ("method", "source", "what it does"):
        table.add_column(col, overflow="fold")
    for row in method_catalogue():
        table.add_row(*row)
    Console(highlight=False).print(table)
    typer.echo("Your own: --method package.module:function(model, forget, retain, *, seed) "
               "(--allow-code outside site-packages).")


_SHOWN = ("method", "status", "power", "utility kept", "forget-class accuracy", "dropped-class mass", "kept-class agreement",
          "injection ratio", "forgetting status", "deciding metric", "deciding delta", "deciding band",
          "unlearn/retrain time", "storage bytes", "requests survived")


def _cell(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _print_comparison(results: dict) -> None:
    """The comparison table's headline columns on the terminal (all of them are in results.json)."""
    from rich.console import Console
    from rich.table import Table

    comp = next((c for c in results["checks"] if c["id"] == "method_comparison"), None)
    if comp is None or not comp.get("tables"):
        return
    t = comp["tables"][0]
    keep = [i for i, c in enumerate(t["columns"]) if c in _SHOWN]
    table = Table(show_header=True, header_style="bold", title="methods side by side")
    for i in keep:
        table.add_column(t["columns"][i], overflow="fold")
    for row in t["rows"]:
        table.add_row(*(_cell(row[i]) for i in keep))
    Console(highlight=False).print(table)


def _ints(text: str, field: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError as exc:
        raise BadInput(field, f"expected comma-separated integers, got {text!r}") from exc


def _run(case_path: Path, out: Path, methods: list[str], seeds: str, seed: int, epochs: int | None,
         allow_pickle: bool, allow_code: bool = False, extensions: list[str] | None = None,
         forget_kind: str | None = None, forget_class: int | None = None) -> dict:
    from audit.cli.console import check_out
    from audit.core.case_file import load_case
    from audit.core.extensions import load_extensions
    from audit.engine.runner import case_inputs
    from audit.lab.method_audit import run_method_audit
    from audit.lab.methods.user import resolve_methods
    from audit.training.recipes import get_recipe
    from reports import write_pack

    load_extensions(extensions or [], allow_code, base_dir=Path(case_path).resolve().parent)
    check_out(out)
    case = load_case(case_path, allow_pickle=allow_pickle, allow_code=allow_code)
    specs = resolve_methods(methods, allow_code=allow_code, base_dir=case.base_dir) if methods else None
    if not case.recipe:
        raise BadInput("training.recipe", "a method audit needs a training recipe ([training] in the case)")
    params = dict(case.recipe_params)
    if epochs is not None:
        if epochs < 1:
            raise BadInput("--epochs", "must be at least 1")
        params["epochs"] = epochs
    recipe = get_recipe(case.recipe, params, original=case.models["original"])
    results = run_method_audit(case, specs, _ints(seeds, "--seeds"), seed=seed, recipe=recipe,
                               allow_code=allow_code, forget_kind=forget_kind, forget_class=forget_class)
    write_pack(results, out, inputs=case_inputs(case))
    return results


def methods_command(
    out: Annotated[Path | None, typer.Option("--out", help="Directory for the evidence pack.")] = None,
    case: Annotated[Path | None, typer.Option("--case", help="Case file (TOML) with a [training] recipe.")] = None,
    scenario: Annotated[str | None, typer.Option("--scenario", help="Built-in scenario instead of --case.")] = None,
    methods: Annotated[str | None, typer.Option(help="Comma-separated methods: built-in names and / or "
                                                "package.module:function (default: retrain, noop, finetune, "
                                                "gradient_ascent, random_labels, sisa).")] = None,
    method: Annotated[list[str] | None, typer.Option("--method", help="A method to audit (repeatable, or a "
                                                     "comma list): a built-in name or your own "
                                                     "package.module:function(model, forget, retain, *, seed); "
                                                     "code outside site-packages needs --allow-code.")] = None,
    seeds: Annotated[str, typer.Option(help="Comma-separated training seeds.")] = "0,1,2",
    seed: Annotated[int, typer.Option(min=0, max=2**32 - 1, help="Seed of every bootstrap (0 .. 2^32-1).")] = 0,
    epochs: Annotated[int | None, typer.Option(help="Override the recipe's epochs (faster runs).")] = None,
    allow_pickle: Annotated[bool, typer.Option("--allow-pickle", help="Trust pickle/joblib models.")] = False,
    allow_code: Annotated[bool, typer.Option("--allow-code", help="Trust code the case names "
                                             "(architecture modules, recipe functions) and --method "
                                             "functions outside site-packages.")] = False,
    extension: Annotated[list[str] | None, typer.Option("--extension", help=(
        "Import an extension module first (repeatable; audit.core.extensions.register); outside "
        "site-packages it needs --allow-code."))] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the methods --method accepts by name and exit.")] = False,
    forget_kind: Annotated[str | None, typer.Option("--forget-kind", help=(
        "random (the case's forget rows with a planted signal) or class (one class removed whole, judged "
        "against retrains that never saw it); default: the case file's forget_kind, else random."))] = None,
    forget_class: Annotated[int | None, typer.Option("--forget-class", help=(
        "The class --forget-kind class removes (default: the class the case's split forgets whole)."))] = None,
    stream: Annotated[int | None, typer.Option("--stream", help=(
        "Stream mode: deal the forget rows into N requests, serve each with the method on top of the previous "
        "step's model, audit every step and report the requests survived before a retrain is due "
        "(default methods: retrain, noop, finetune, sisa; one pack per method under --out)."))] = None,
) -> None:
    """Run unlearning methods x seeds under control and write one side-by-side pack."""
    from audit.cli.console import bad_input, summary
    from audit.lab.methods.user import split_specs

    if list_:
        _print_catalogue()
        raise typer.Exit(0)
    try:
        if out is None:
            raise BadInput("--out", "a directory for the evidence pack is required (or --list)")
        names = split_specs([*([methods] if methods else []), *(method or [])])
        if (case is None) == (scenario is None):
            raise BadInput("--case", "give exactly one of --case or --scenario")
        run = _run
        if stream is not None:
            from audit.cli.stream import run_methods_stream

            if forget_kind not in (None, "random") or forget_class is not None:
                raise BadInput("--stream", "stream mode deals the case's forget rows into requests; "
                               "it does not take --forget-kind class or --forget-class")

            def run(*a: object) -> dict:  # noqa: ANN002
                # the stream runner takes the common arguments, not the forget kind / class
                return run_methods_stream(*a[:9], n_requests=stream)  # type: ignore[arg-type]
        if scenario is not None:
            from audit.scenarios import build_scenario

            with tempfile.TemporaryDirectory(prefix="unlearn-audit-methods-") as tmp:
                path = build_scenario(scenario, Path(tmp) / scenario, seed=seed)
                results = run(path, out, names, seeds, seed, epochs, allow_pickle, allow_code, extension,
                               forget_kind, forget_class)
        else:
            results = run(case, out, names, seeds, seed, epochs, allow_pickle, allow_code, extension,
                           forget_kind, forget_class)
    except BadInput as exc:
        raise bad_input(exc) from None
    if stream is not None:
        raise typer.Exit(results["exit_code"])
    summary(results, out)
    _print_comparison(results)
    raise typer.Exit(results["exit_code"])


def register(app: typer.Typer) -> None:
    """Add the ``methods`` command to ``app``.

    Parameters
    ----------
    app : typer.Typer
        The CLI.

    Returns
    -------
    None
    """
    app.command("methods")(methods_command)
