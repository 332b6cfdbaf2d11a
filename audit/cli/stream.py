"""The command line's ``methods --stream``: streams of requests per method and their survival table.

``run`` on a case file with ``[[requests]]`` loads it as a stream
(:func:`audit.engine.stream.load_stream_case`) and audits it with :func:`audit.engine.runner.run_stream`;
the per-step table is printed by :func:`audit.cli.console.print_stream_table`; this module
holds ``methods --stream`` (the survival table).
"""

from __future__ import annotations

from typing import Any

from audit.shared.errors import BadInput

__all__ = ["survival_rows", "run_methods_stream"]

def survival_rows(streams: dict[str, dict[str, Any]]) -> list[list[str]]:
    """One row per method of ``methods --stream``: requests survived, first failing step, verdicts.

    Parameters
    ----------
    streams : dict of str to dict
        Method name → its stream's results (each with a ``"stream"`` section).

    Returns
    -------
    list of list of str
        Per method: its name, ``"<survived> of <requests>"``, the first failing step (``"—"``
        when none), the stream verdict and the step verdicts joined by spaces.

    Examples
    --------
    >>> st = {"requests": 3, "requests_survived": 1, "first_failing_step": 2, "verdict": "fail",
    ...       "steps": [{"verdict": "pass"}, {"verdict": "fail"}, {"verdict": "fail"}]}
    >>> survival_rows({"finetune": {"stream": st}})
    [['finetune', '1 of 3', '2', 'fail', 'pass fail fail']]
    """
    rows = []
    for name, r in streams.items():
        st = r["stream"]
        rows.append([name, f"{st['requests_survived']} of {st['requests']}", str(st["first_failing_step"] or "—"),
                     st["verdict"], " ".join(s["verdict"] for s in st["steps"])])
    return rows


def run_methods_stream(case_path: Any, out: Any, methods: list[str], seeds: str, seed: int, epochs: int | None,
                       allow_pickle: bool, allow_code: bool = False, extensions: list[str] | None = None, *,
                       n_requests: int) -> dict[str, Any]:
    """``unlearn-audit methods --stream N``: every method over N requests, one pack per method under ``out``.

    Prints the survival table (:func:`survival_rows`) after writing the packs.

    Parameters
    ----------
    case_path : path-like
        The case file; it needs a ``[training]`` recipe.
    out : path-like
        Output directory; must be absent, empty or an unchanged pack of this tool. Each
        method's pack goes to ``out/<method>``.
    methods : list of str
        Built-in or user method names (:func:`audit.lab.methods.user.resolve_methods`); empty =
        the default stream methods.
    seeds : str
        The ``--seeds`` option of ``methods``; not used (a stream runs one seed: ``seed``).
    seed : int
        Seeds the dealing of the requests, the models and every bootstrap.
    epochs : int, optional
        Overrides the recipe's ``epochs``.
    allow_pickle : bool
        Allow pickled model files in the case.
    allow_code : bool
        Allow extension modules and user methods that run code.
    extensions : list of str, optional
        Extension modules to load first (relative to the case file's directory).
    n_requests : int
        Requests the case's forget rows are dealt into.

    Returns
    -------
    dict
        ``{"exit_code", "streams"}``: exit 0 when every stream ran (whatever it survived),
        3 when a stream's verdict is ``error``; ``streams`` as from
        :func:`audit.lab.method_stream.run_method_stream`.

    Raises
    ------
    BadInput
        The case has no training recipe (``training.recipe``), ``--epochs`` is below 1, or
        ``out`` / the case / a method name is invalid.
    """
    from pathlib import Path

    from rich.console import Console
    from rich.table import Table

    from audit.cli.console import check_out
    from audit.core.case_file import load_case
    from audit.core.extensions import load_extensions
    from audit.lab.method_stream import run_method_stream
    from audit.lab.methods.user import resolve_methods
    from audit.training.recipes import get_recipe
    from reports import write_pack

    load_extensions(extensions or [], allow_code, base_dir=Path(case_path).resolve().parent)
    check_out(Path(out))
    case = load_case(case_path, allow_pickle=allow_pickle, allow_code=allow_code)
    if not case.recipe:
        raise BadInput("training.recipe", "stream mode needs a training recipe ([training] in the case)")
    params = dict(case.recipe_params)
    if epochs is not None:
        if epochs < 1:
            raise BadInput("--epochs", "must be at least 1")
        params["epochs"] = epochs
    recipe = get_recipe(case.recipe, params, original=case.models["original"])
    specs = resolve_methods(methods, allow_code=allow_code, base_dir=case.base_dir) if methods else None
    streams = run_method_stream(case, specs, n_requests, seed=seed, recipe=recipe)
    for key, r in streams.items():
        write_pack(dict(r), Path(out) / key, inputs=r.inputs)
    table = Table(show_header=True, header_style="bold", title=f"methods over a stream of {n_requests} requests")
    for col in ("method", "requests survived", "first failing step", "stream verdict", "step verdicts"):
        table.add_column(col, overflow="fold")
    for row in survival_rows(streams):
        table.add_row(*row)
    Console(highlight=False).print(table)
    Console(highlight=False).print(f"one evidence pack per method under {out}/<method>")
    code = 3 if any(r["verdict"] == "error" for r in streams.values()) else 0
    return {"exit_code": code, "streams": streams}
