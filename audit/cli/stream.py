"""The command line's view of a stream audit: the per-step table ``unlearn-audit run`` prints.

``run`` on a case file with ``[[requests]]`` loads it as a stream
(:func:`audit.engine.stream.load_stream_case`) and audits it with :func:`audit.engine.stream_runner.run_stream`;
this module prints what the terminal shows of it.
"""

from __future__ import annotations

from typing import Any

from audit.shared.errors import BadInput

__all__ = ["stream_rows", "print_stream_table", "survival_rows", "run_methods_stream"]

_STYLE = {"pass": "green", "warn": "yellow", "fail": "red", "inconclusive": "magenta", "error": "red"}


def stream_rows(results: dict[str, Any]) -> list[list[str]]:
    """One row of text per step: step, request, rows removed / so far, verdict, power, blocking checks.

    Parameters
    ----------
    results : dict
        A stream audit's results (:func:`audit.engine.stream_runner.run_stream`); reads
        ``results["stream"]["steps"]``.

    Returns
    -------
    list of list of str
        Per step: step number, request id, forget rows of the request, cumulative forget rows,
        verdict, ``"yes"``/``"no"`` for power (the original detected), and the required checks
        whose status is neither pass nor warn (``"—"`` when none).

    Examples
    --------
    >>> r = {"stream": {"steps": [{"step": 1, "request_id": "R1", "forget_rows": 5,
    ...      "cumulative_forget_rows": 5, "verdict": "fail", "power": True,
    ...      "checks": [{"id": "utility", "status": "fail", "required": True}]}]}}
    >>> stream_rows(r)
    [['1', 'R1', '5', '5', 'fail', 'yes', 'utility (fail)']]
    """
    rows = []
    for s in results["stream"]["steps"]:
        bad = [f"{c['id']} ({c['status']})" for c in s["checks"]
               if c["required"] and c["status"] not in ("pass", "warn")]
        rows.append([str(s["step"]), s["request_id"], str(s["forget_rows"]), str(s["cumulative_forget_rows"]),
                     s["verdict"], "yes" if s["power"] else "no", ", ".join(bad) or "—"])
    return rows


def print_stream_table(results: dict[str, Any]) -> None:
    """Print the per-step table and the sequence's answer (first failing step, requests survived).

    Also prints the drift ratio per step of each tracked metric and which step's checks the
    rest of the output shows.

    Parameters
    ----------
    results : dict
        A stream audit's results (:func:`audit.engine.stream_runner.run_stream`): ``results["stream"]``
        (steps, drift, first failing step, requests survived) and ``results["data"]["n"]``.
    """
    from rich.console import Console
    from rich.table import Table

    st = results["stream"]
    console = Console(highlight=False)
    table = Table(show_header=True, header_style="bold", title="stream: one model audit per request")
    for col in ("step", "request", "rows removed", "forgotten so far", "verdict", "original detected",
                "required checks not passing"):
        table.add_column(col, overflow="fold")
    for row in stream_rows(results):
        style = _STYLE.get(row[4], "")
        table.add_row(*row[:4], f"[{style}]{row[4]}[/{style}]" if style else row[4], *row[5:])
    console.print(table)
    ratios = []
    for d in st["drift"]:
        ratios.append(f"{d['check']} {d['metric']}[{d['split']}]: " + " ".join(
            "—" if p["ratio"] is None else f"{p['ratio']:.2f}" for p in d["points"]))
    if ratios:
        console.print("drift ratio per step (delta / fail band; 1 = at the fail band):")
        for line in ratios:
            console.print(f"  {line}")
    if st["first_failing_step"]:
        console.print(f"[bold]first failing step:[/bold] {st['first_failing_step']} ({st['first_failing_request']}); "
                      f"requests survived before a retrain was due: {st['requests_survived']} of {st['requests']}")
    else:
        console.print(f"no step failed; requests survived: {st['requests_survived']} of {st['requests']}")
    console.print(f"the checks below are those of the deciding step ({results['data']['n']['forget']} rows "
                  "forgotten so far)")


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

    from audit.cli.app import _check_out
    from audit.core.case import load_case
    from audit.core.extensions import load_extensions
    from audit.lab.method_stream import run_method_stream
    from audit.lab.methods.user import resolve_methods
    from audit.training.recipes import get_recipe
    from reports import write_pack

    load_extensions(extensions or [], allow_code, base_dir=Path(case_path).resolve().parent)
    _check_out(Path(out))
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
