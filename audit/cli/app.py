"""Command line: ``unlearn-audit init | demo | run | verify | scenario | methods | calibrate``.

Exit codes of ``run``: 0 pass (warnings allowed), 1 fail, 2 bad input or usage,
3 inconclusive / error / required check skipped. ``demo`` exits 0 whenever the audit
itself ran, whatever its verdict. Every other failure of every command is mapped to 2 or 3
by :class:`audit.cli.contract.ContractGroup` (``--debug`` shows the traceback).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from audit.cli.console import bad_input as _bad_input
from audit.cli.console import check_out as _check_out
from audit.cli.console import err as _err
from audit.cli.console import summary as _summary
from audit.cli.contract import ContractGroup
from audit.shared.errors import BadInput

__all__ = ["app", "main", "parse_formats"]

app = typer.Typer(cls=ContractGroup, add_completion=False, no_args_is_help=True,
                  help="Verify machine unlearning against retrained reference models. "
                       "Add --debug anywhere to see the traceback of an internal error.")


def _version(value: bool) -> None:
    if value:
        from audit import __version__

        typer.echo(f"unlearn-audit {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False) -> None:
    pass


def parse_formats(formats: str, no_pdf: bool) -> frozenset[str]:
    """The views of ``--formats a,b,c`` (``all`` = every one), minus pdf with ``--no-pdf``.

    Parameters
    ----------
    formats : str
        ``--formats`` (comma-separated view names or ``all``).
    no_pdf : bool
        ``--no-pdf``.

    Returns
    -------
    frozenset of str

    Examples
    --------
    >>> sorted(parse_formats("json,md", False))
    ['json', 'md']

    >>> sorted(parse_formats("all", no_pdf=True))
    ['html', 'json', 'junit', 'md']
    >>> sorted(parse_formats(" md, json", no_pdf=False))
    ['json', 'md']
    """
    from reports.pack import FORMATS

    names = {f.strip().lower() for f in formats.split(",") if f.strip()}
    if names == {"all"}:
        names = set(FORMATS)
    unknown = sorted(names - set(FORMATS))
    if unknown or not names:
        raise BadInput("--formats", f"unknown {unknown or 'empty list'}; use a comma-separated list "
                       f"of {', '.join(FORMATS)} (json is always written)")
    return frozenset(names - ({"pdf"} if no_pdf else set()) | {"json"})


def _audit(case_path: Path, out: Path, policy: Path | None, seed: int, allow_pickle: bool,
           sign_key: Path | None, template: Path | None, allow_code: bool = False,
           commitment_key: Path | None = None, *,
           quiet: bool = False, formats: frozenset[str] | None = None,
           extensions: list[str] | None = None, dask: str | None = None) -> dict[str, Any]:
    """Load, validate, run and write; raises BadInput before anything is written.

    ``dask`` is a scheduler address (:func:`audit.training.cluster.scheduler_address`): the case's
    extra references and shadow models then train on that cluster.
    """
    from audit.core.case_file import load_case
    from audit.core.extensions import load_extensions
    from audit.engine.policy import default_policy, load_policy_file, merge_policy
    from audit.training.cluster import compute_on

    load_extensions(extensions or [], allow_code, base_dir=Path(case_path).resolve().parent)
    _check_out(out)
    _check_writable(out)
    _check_pack_options(sign_key, template)
    key = _commitment_key(commitment_key, out)
    overrides = load_policy_file(policy) if policy else None
    if overrides is not None:  # refuse a bad gate policy before the case's models are loaded
        merge_policy(default_policy(), overrides, "policy")
    from audit.engine.stream import is_stream_file, load_stream_case

    stream = is_stream_file(case_path)
    with compute_on(dask):
        case = (load_stream_case if stream else load_case)(case_path, allow_pickle=allow_pickle,
                                                           allow_code=allow_code, gate=overrides,
                                                           commitment_key=key)
        results = _run_with_progress(case, overrides, seed, quiet)
    kwargs: dict[str, Any] = {} if formats is None else {"formats": formats}
    if sign_key is not None:
        kwargs["sign_key"] = sign_key
    if template is not None:
        kwargs["template_dir"] = template
    if commitment_key is not None:
        kwargs["commitment_key_path"] = commitment_key
    _write_pack(results, case, out, kwargs)
    return results


def _run_with_progress(case: Any, overrides: dict[str, Any] | None, seed: int,
                       quiet: bool) -> dict[str, Any]:
    """``run_audit`` with a bar per check on a terminal (stderr), silent otherwise."""
    from audit.cli.progress import CheckProgress, show_progress
    from audit.engine.policy import resolve_policy
    from audit.engine.runner import planned_checks, run_audit, run_stream
    from audit.engine.stream import StreamCase

    run: Any = run_stream if isinstance(case, StreamCase) else run_audit
    if not show_progress(quiet):
        return run(case, policy=overrides, seed=seed)
    first = case.step(1) if isinstance(case, StreamCase) else case
    steps = len(case) if isinstance(case, StreamCase) else 1
    with CheckProgress(steps * len(planned_checks(resolve_policy(first, overrides)[0]))) as bar:
        return run(case, policy=overrides, seed=seed, progress=bar)


def _write_pack(results: dict[str, Any], case: Any, out: Path, kwargs: dict[str, Any]) -> None:
    """Write the pack; a template or file-system failure is bad input naming the option."""
    import jinja2

    from audit.engine.runner import write_evidence

    try:
        write_evidence(results, case, out, **kwargs)
    except jinja2.TemplateError as exc:
        raise BadInput("--template", f"a template failed to render: {type(exc).__name__}: {exc}") from exc
    except OSError as exc:
        raise BadInput("--out", f"cannot write the evidence pack to {out}: {exc.strerror or exc}") from exc


def _check_pack_options(sign_key: Path | None, template: Path | None) -> None:
    """Fail on an unusable key or template directory before the audit runs."""
    from reports import environment, load_signing_key

    if sign_key is not None:
        load_signing_key(sign_key)
    if template is not None:
        import jinja2

        from reports.render import VIEWS

        env = environment(template)
        for name in VIEWS.values():
            try:
                env.get_template(name)
            except jinja2.TemplateError as exc:
                raise BadInput("--template", f"{name}: {type(exc).__name__}: {exc}") from exc


def _check_writable(out: Path) -> None:
    """Refuse an ``--out`` whose nearest existing ancestor cannot take a new directory."""
    parent = out.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise BadInput("--out", f"{parent} is not a directory")
    try:
        tempfile.TemporaryDirectory(prefix=".unlearn-audit-probe-", dir=parent).cleanup()
    except OSError as exc:
        raise BadInput("--out", f"cannot create the evidence pack in {parent}: "
                       f"{exc.strerror or exc}") from exc


def _commitment_key(path: Path | None, out: Path) -> bytes | None:
    """The controller's key when ``--commitment-key`` names an existing file.

    A path that does not exist receives a freshly generated key when the pack is written;
    without the option a generated key goes to ``<out>.commitment-key``. Either way the key
    is written beside the pack, mode 0600, never into it (decision record 0003).
    """
    from audit.shared.commitment import default_key_path, read_key
    from reports.destination import is_previous_pack

    if path is not None and (path.exists() or path.is_symlink()):
        return read_key(path)
    target = path or default_key_path(out)
    if target.exists() or target.is_symlink():  # the default path, taken
        if not (is_previous_pack(out) and target.is_file()):
            raise BadInput("--commitment-key", f"{target} exists; pass it with --commitment-key "
                           "to reuse it, or choose another --out")
    if target.resolve().is_relative_to(out.resolve()):
        raise BadInput("--commitment-key", f"{target} is inside the pack; the key must stay outside it")
    return None


@app.command()
def run(
    case: Annotated[Path, typer.Argument(help="Case file (TOML).")],
    out: Annotated[Path, typer.Option("--out", help="Directory for the evidence pack.")],
    policy: Annotated[Path | None, typer.Option(help="Policy TOML overriding thresholds.")] = None,
    seed: Annotated[int, typer.Option(min=0, max=2**32 - 1, help="Seed of every bootstrap (0 .. 2^32-1).")] = 0,
    allow_pickle: Annotated[bool, typer.Option("--allow-pickle", help="Trust pickle/joblib models.")] = False,
    allow_code: Annotated[bool, typer.Option("--allow-code", help=(
        "Trust code the case names: architecture modules in the case directory or outside "
        "the installed packages, and package.module:function recipes."))] = False,
    sign_key: Annotated[Path | None, typer.Option(help="Ed25519 private key (PEM) to sign the pack.")] = None,
    template: Annotated[Path | None, typer.Option(help="Directory of user report templates.")] = None,
    format: Annotated[str, typer.Option("--format", help="text or json (results.json on stdout).")] = "text",  # noqa: A002
    commitment_key: Annotated[Path | None, typer.Option(
        "--commitment-key", help="Key file of the forget-id commitment: an existing one is used, "
        "a new path receives a generated key (default: <out>.commitment-key).")] = None,
    formats: Annotated[str, typer.Option("--formats", help=(
        "Views to write: comma-separated html,md,json,junit,pdf (json always)."))] = "all",
    no_pdf: Annotated[bool, typer.Option("--no-pdf", help="Skip report.pdf (same as leaving pdf out "
                                         "of --formats).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    extension: Annotated[list[str] | None, typer.Option("--extension", help=(
        "Import an extension module first (repeatable): its audit.core.extensions.register decorators add "
        "checks, model formats and methods; outside site-packages it needs --allow-code."))] = None,
    dask: Annotated[str | None, typer.Option("--dask", help=(
        "Dask scheduler address (tcp://host:8786): extra references and shadow models train "
        "on its workers (default: $DASK_SCHEDULER_ADDRESS; --dask '' runs here)."))] = None,
) -> None:
    """Audit one unlearned model (or a stream of requests, [[requests]]); the exit code is the verdict."""
    if format not in ("text", "json"):
        _err("error: --format: use text or json")
        raise typer.Exit(2)
    views = parse_formats(formats, no_pdf)
    from audit.training.cluster import scheduler_address

    results = _audit(case, out, policy, seed, allow_pickle, sign_key, template, allow_code, commitment_key,
                     quiet=quiet, formats=views, extensions=extension, dask=scheduler_address(dask))
    if format == "json":
        from reports import dump_results

        sys.stdout.write(dump_results(results))
    else:
        _summary(results, out)
    raise typer.Exit(results["exit_code"])


@app.command()
def demo(
    scenario: Annotated[str, typer.Option(help="Built-in scenario to run.")] = "accent",
    out: Annotated[Path, typer.Option("--out", help="Directory for the evidence pack.")] = Path("unlearn-audit-demo"),
    seed: Annotated[int, typer.Option(min=0, max=2**32 - 1, help="Seed (0 .. 2^32-1).")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress messages.")] = False,
) -> None:
    """Build a scenario, audit it and print where the results are (exit 0 if it ran)."""
    from audit.scenarios import build_scenario

    with tempfile.TemporaryDirectory(prefix="unlearn-audit-demo-") as tmp:
        if not quiet:
            typer.echo(f"building scenario {scenario!r} …", err=True)
        case_path = build_scenario(scenario, Path(tmp) / scenario, seed=seed)
        results = _audit(case_path, out, None, seed, False, None, None, quiet=quiet)
    _summary(results, out)
    typer.echo(f"results: {out / 'results.json'}")
    typer.echo(f"report:  {out / 'report.html'}")
    raise typer.Exit(0)


@app.command("scenario")
def scenario_cmd(
    name: Annotated[str, typer.Argument(help="digits, accent, cv-ranking or stream.")],
    out: Annotated[Path, typer.Option("--out", help="Directory to write the case into.")],
    seed: Annotated[int, typer.Option(min=0, max=2**32 - 1, help="Seed (0 .. 2^32-1).")] = 0,
) -> None:
    """Write a built-in scenario to disk as an ordinary case file."""
    from audit.scenarios import build_scenario

    if out.exists() and not out.is_dir():
        raise BadInput("--out", f"{out} exists and is a file; choose a new directory")
    if out.exists() and any(out.iterdir()):
        raise BadInput("--out", f"{out} is not empty")
    typer.echo(str(build_scenario(name, out, seed=seed)))


@app.command()
def verify(
    pack: Annotated[Path, typer.Argument(help="Evidence pack directory.")],
    public_key: Annotated[str | None, typer.Option(
        "--public-key", help="Base64 Ed25519 public key the pack must be signed with.")] = None,
    require_signature: Annotated[bool, typer.Option(
        "--require-signature", help="Fail (exit 1) an unsigned pack.")] = False,
    forget_ids: Annotated[Path | None, typer.Option(
        "--forget-ids", help="File of claimed forget ids, one a line (needs --key).")] = None,
    key: Annotated[Path | None, typer.Option(
        "--key", help="Commitment key file the pack's forget-id commitment was made with.")] = None,
) -> None:
    """Recompute hashes, signature, schema, attestation and views of a pack; exit 1 on any mismatch.

    With --forget-ids and --key, also prove that the claimed ids are the forgotten ones
    (exit 0 match, 1 mismatch, 2 unreadable id or key file).
    """
    from reports import verify_pack
    from reports.verify import trust_statement

    if not pack.is_dir():
        _err(f"error: pack: {pack} is not a directory")
        raise typer.Exit(2)
    if (forget_ids is None) != (key is None):
        _err("error: --forget-ids: --forget-ids and --key go together")
        raise typer.Exit(2)
    try:
        claim = _forget_claim(pack, forget_ids, key) if forget_ids and key else []
    except BadInput as exc:
        raise _bad_input(exc) from None
    problems = verify_pack(pack, public_key=public_key, require_signature=require_signature) + claim
    for p in problems:
        _err(f"MISMATCH {p}")
    trust = None if problems else trust_statement(pack, public_key)  # what a clean pass proves
    if trust:
        _err(trust)
    report: dict[str, Any] = {"pack": str(pack), "ok": not problems, "problems": problems, "trust": trust}
    if forget_ids:
        report["forget_ids_match"] = not claim
    typer.echo(json.dumps(report))
    if problems:
        raise typer.Exit(1)


def _forget_claim(pack: Path, forget_ids: Path, key: Path) -> list[str]:
    """Problems with the claim that ``forget_ids`` are the pack's forgotten ids."""
    from audit.shared.commitment import pack_commitment_problem, read_id_list, read_key

    return pack_commitment_problem(pack / "results.json", read_id_list(forget_ids), read_key(key, "--key"))


def _register_subcommands() -> None:
    from audit.cli import calibrate as cli_calibrate
    from audit.cli import init as cli_init
    from audit.cli import methods as cli_methods
    cli_init.register(app)
    cli_methods.register(app)
    cli_calibrate.register(app)


_register_subcommands()


def main() -> None:
    """Console-script entry point."""
    app()


