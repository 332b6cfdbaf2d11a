"""The evidence pack: written to a temporary directory, then renamed into place.

Files of a pack::

    results.json              canonical, schema-validated
    report.html report.md     views rendered from results.json
    report.pdf junit.xml
    templates/                the templates the views were rendered with (user templates only)
    attestation.intoto.json   in-toto Statement v1, test-result predicate
    manifest.json             sha256 + size of every input and every file above
    manifest.sig              Ed25519 signature of manifest.json (only when signed)

Where it may be written and what is left on interruption: :mod:`reports.destination`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from audit.shared.errors import BadInput
from reports.destination import (
    _PDF_PART,
    PACK_FILES,
    TEMPLATES_DIR,
    check_destination,
    clean_stale,
    existing_ancestor,
    is_previous_pack,
    make_parents,
    pack_file_names,
    temp_prefix,
    umask_mode,
)
from reports.manifest import (
    ATTESTATION,
    MANIFEST,
    SIGNATURE,
    build_manifest,
    build_statement,
    canonical_json,
    input_entries,
    load_signing_key,
    sha256_bytes,
    sign_bytes,
    templates_digest,
)
from reports.pdf import PdfJob, html_to_pdf
from reports.render import VIEWS, environment, render_view, shipped_environment
from reports.schema import SchemaError, validate_results

__all__ = ["term_interrupts", "write_pack", "dump_results", "builtin_templates_digest", "PACK_FILES", "FORMATS"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: View names accepted by ``write_pack(formats=...)`` and the file each one writes.
FORMATS = {"json": "results.json", "html": "report.html", "md": "report.md", "junit": "junit.xml",
           "pdf": "report.pdf"}


def dump_results(results: dict[str, Any]) -> str:
    """Canonical text of results.json (sorted keys, 2-space indent, trailing newline).

    Parameters
    ----------
    results : dict
        The results dict.

    Returns
    -------
    str

    Examples
    --------
    >>> dump_results({"verdict": "pass"})
    '{\\n  "verdict": "pass"\\n}\\n'
    """
    return canonical_json(results)


def _builtin_templates() -> dict[str, bytes]:
    root = resources.files("reports").joinpath("templates")
    return {p.name: p.read_bytes() for p in root.iterdir() if p.is_file()}


@lru_cache(maxsize=1)
def builtin_templates_digest() -> str:
    """SHA-256 over the built-in templates, so ``verify`` knows when it can re-render."""
    return templates_digest(_builtin_templates())


def _user_templates(template_dir: Path) -> dict[str, bytes]:
    """The templates a user directory renders with: its own top-level files over the built-ins."""
    files = _builtin_templates()
    for p in sorted(template_dir.iterdir()):
        if p.is_file() and not p.name.startswith("."):
            files[p.name] = p.read_bytes()
    return files


def _check_serialisable(results: dict[str, Any]) -> None:
    """NaN / inf or a lone surrogate cannot be written as UTF-8 JSON: a :class:`SchemaError`."""
    try:
        dump_results(results).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise SchemaError(f"results.json invalid: text is not UTF-8 encodable ({exc.reason})") from None
    except ValueError as exc:
        raise SchemaError(f"results.json invalid: {exc}") from None


def _write(path: Path, data: str | bytes) -> None:
    with open(path, "wb") as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)
        f.flush()
        os.fsync(f.fileno())


def _environment(tmp: Path, template_dir: Path | None) -> tuple[Any, dict[str, Any]]:
    """Environment of the views and the manifest's ``templates`` entry.

    User templates are copied into the pack (``templates/``) and rendered from that copy
    alone, so ``verify`` can always re-render the views from the pack itself.
    """
    if template_dir is None:
        return environment(), {"source": "builtin", "sha256": builtin_templates_digest()}
    files = _user_templates(template_dir)
    (tmp / TEMPLATES_DIR).mkdir()
    for name, body in files.items():
        _write(tmp / TEMPLATES_DIR / name, body)
    env = shipped_environment(tmp / TEMPLATES_DIR)
    return env, {"source": "user", "sha256": templates_digest(files), "dir": TEMPLATES_DIR}


def _fill(tmp: Path, results: dict[str, Any], input_paths: Mapping[str, str | os.PathLike[str]] | None,
          key: Any, template_dir: Path | None, pdf: bool, files: frozenset[str]) -> None:
    """Write every file of the pack into ``tmp``; the PDF renders in a worker meanwhile.

    The PDF job starts as soon as report.html exists; the inputs are hashed, the other
    views and the attestation written while it runs, and it is waited for before the
    manifest (which lists it), so the pack is complete or absent, never half.
    """
    env, templates = _environment(tmp, template_dir)
    text = dump_results(results)
    _write(tmp / "results.json", text)
    results = json.loads(text)  # views are rendered from results.json itself (key order included)
    wanted = [name for name in VIEWS if name in files or (pdf and name == "report.html")]
    wanted.sort(key=lambda name: name != "report.html")  # the PDF's source first
    job: PdfJob | None = None
    try:
        inputs: dict[str, dict[str, Any]] | None = None
        for name in wanted:
            body = render_view(name, results, env)
            if name in files:
                _write(tmp / name, body)
            if pdf and name == "report.html":
                job = PdfJob(body, tmp / _PDF_PART, render=html_to_pdf)
                inputs = input_entries(input_paths)  # hashing the models and data overlaps the PDF
        inputs = input_entries(input_paths) if inputs is None else inputs
        statement = build_statement(results, sha256_bytes(text.encode("utf-8")), inputs)
        _write(tmp / ATTESTATION, canonical_json(statement))
        if job is not None:
            job.wait()
            os.replace(tmp / _PDF_PART, tmp / "report.pdf")
    finally:
        if job is not None:
            job.cancel()
    manifest = build_manifest(tmp, inputs, public_key=key.public_key() if key else None,
                              templates=templates, outputs=pack_file_names(tmp) or [])
    manifest_bytes = canonical_json(manifest).encode("utf-8")
    _write(tmp / MANIFEST, manifest_bytes)
    if key is not None:
        _write(tmp / SIGNATURE, sign_bytes(key, manifest_bytes))


@contextmanager
def term_interrupts() -> Iterator[None]:
    """SIGTERM raises ``KeyboardInterrupt`` as SIGINT does, so clean-ups run (the CLI exits 3).

    The one home of this rule: the pack writer and the CLI's exit-code contract both use it.

    Returns
    -------
    contextmanager
        SIGTERM's previous handler is restored on exit.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _signals_blocked() -> Iterator[None]:
    """Hold SIGINT / SIGTERM while renaming or cleaning up, so neither is left half-done."""
    on_main = threading.current_thread() is threading.main_thread() and hasattr(signal, "pthread_sigmask")
    if on_main:
        signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    try:
        yield
    finally:
        if on_main:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)


def _files_of(formats: Collection[str] | None) -> frozenset[str]:
    """Pack files of the views in ``formats`` (all when None); ``results.json`` always."""
    if formats is None:
        return frozenset(FORMATS.values())
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise BadInput("formats", f"unknown {unknown}; choose among {', '.join(FORMATS)}")
    return frozenset({"results.json", *(FORMATS[f] for f in formats)})


def _swap_into_place(tmp: Path, out: Path) -> None:
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=temp_prefix(out.name, "old"), dir=out.parent))
        os.replace(out, old / "pack")
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)


def _secret_temp(path: Path, text: str, where: Path) -> Path:
    """Write ``text`` to a new mode-0600 file beside ``where`` (renamed into place later)."""
    fd, name = tempfile.mkstemp(prefix=temp_prefix(path.name), dir=where)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    return Path(name)


def _check_secret(secret: Path, out: Path) -> None:
    if secret.resolve().is_relative_to(out.resolve()):
        raise BadInput("--commitment-key", f"{secret} is inside the pack; the key must stay outside it")
    if secret.exists() or secret.is_symlink():
        from audit.shared.commitment import default_key_path, read_key

        ours = secret == default_key_path(out) and is_previous_pack(out) and secret.is_file()
        if not ours:
            raise BadInput("--commitment-key", f"{secret} exists; refusing to overwrite it")
        read_key(secret)  # the previous pack's key: replaced only if it is one


def _cleanup(*paths: Path | None, created: list[Path]) -> None:
    for p in paths:
        if p is not None and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        elif p is not None and p.exists():
            p.unlink()
    for d in reversed(created):
        try:
            d.rmdir()
        except OSError:
            pass


def _write_atomically(out: Path, fill: Any, secret: tuple[Path, str] | None) -> None:
    """Temp dir in the nearest existing ancestor, filled, then renamed; cleaned on any exit."""
    where = existing_ancestor(out.parent)
    tmp = secret_tmp = None
    created: list[Path] = []
    try:
        tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(out.name), dir=where))
        os.chmod(tmp, umask_mode())
        fill(tmp)
        if secret is not None:
            secret_tmp = _secret_temp(secret[0], secret[1], existing_ancestor(secret[0].parent))
        with _signals_blocked():
            created = make_parents(out) + (make_parents(secret[0]) if secret else [])
            _swap_into_place(tmp, out)
            tmp = None
            if secret_tmp is not None:
                os.replace(secret_tmp, secret[0])  # type: ignore[index]
                secret_tmp = None
    except BaseException:
        with _signals_blocked():
            _cleanup(tmp, secret_tmp, created=created)
        raise


def write_pack(
    results: dict[str, Any],
    out_dir: str | os.PathLike[str],
    *,
    inputs: Mapping[str, str | os.PathLike[str]] | None = None,
    sign_key: str | os.PathLike[str] | None = None,
    template_dir: str | os.PathLike[str] | None = None,
    pdf: bool = True,
    secret_file: tuple[str | os.PathLike[str], str] | None = None,
    formats: Collection[str] | None = None,
) -> Path:
    """Validate ``results`` and write the evidence pack atomically to ``out_dir``.

    Parameters
    ----------
    results : dict
        The results dict of :func:`audit.engine.runner.run_audit` (validated against the schema).
    out_dir : path
        Destination: absent, an empty directory, or an unchanged pack this tool wrote
        (:func:`reports.destination.check_destination`); anything else raises
        :class:`audit.shared.errors.BadInput` and nothing is touched. Missing parents are created
        only at the final rename.
    inputs : mapping of role to path, optional
        Input files (models, data) whose SHA-256 and size the manifest and the attestation record.
    sign_key : path, optional
        Unencrypted PEM Ed25519 private key; signs ``manifest.json`` into ``manifest.sig``.
    template_dir : path, optional
        User templates (``report.html.j2``, ``report.md.j2``, ``junit.xml.j2``), rendered
        in a sandbox; missing ones fall back to the built-in templates. The templates used
        are shipped in the pack (``templates/``) so ``verify`` can re-render the views.
    pdf : bool
        Also render ``report.pdf`` (WeasyPrint).
    secret_file : (path, text), optional
        A secret (the generated commitment key) written *beside* the pack, mode 0600, in the
        same step as the rename; it never enters the pack. An existing file there is
        refused unless it is the key of the previous pack being replaced.
    formats : collection of str, optional
        Views to write, among :data:`FORMATS` (``json``, ``html``, ``md``, ``junit``,
        ``pdf``); default all. ``results.json`` and the attestation are always written;
        a view not asked for is not rendered and the manifest does not list it.

    Returns
    -------
    Path
        ``out_dir``. All files appear at once (temporary directory + rename, with the
        user's umask); SIGINT, SIGTERM or an exception leaves no partial pack and no
        temporary directory; a temporary left by a killed run is removed by the next run
        when provably stale, reported otherwise.

    Examples
    --------
    >>> from tests.reports.fixtures import sample_results   # doctest: +SKIP
    >>> pack = write_pack(sample_results(), "/tmp/pack")      # doctest: +SKIP
    >>> from reports import verify_pack; verify_pack(pack)    # doctest: +SKIP
    []
    """
    files = _files_of(formats)
    pdf = pdf and "report.pdf" in files
    validate_results(results)
    _check_serialisable(results)
    out = Path(out_dir)
    check_destination(out)
    secret = None if secret_file is None else (Path(secret_file[0]), secret_file[1])
    if secret is not None:
        _check_secret(secret[0], out)
    key = load_signing_key(sign_key) if sign_key is not None else None
    tdir = None
    if template_dir is not None:
        environment(template_dir)  # a bad template directory fails before anything is written
        tdir = Path(template_dir)
    clean_stale(existing_ancestor(out.parent), [out.name] + ([secret[0].name] if secret else []))
    with term_interrupts():
        _write_atomically(out, lambda tmp: _fill(tmp, results, inputs, key, tdir, pdf, files), secret)
    return out
