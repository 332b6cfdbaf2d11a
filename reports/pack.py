"""The evidence pack: written to a temporary directory, then renamed into place.

Files of a pack::

    results.json              canonical, schema-validated
    report.html report.md     views rendered from results.json
    report.pdf junit.xml
    attestation.intoto.json   in-toto Statement v1, test-result predicate
    manifest.json             sha256 + size of every input and every file above
    manifest.sig              Ed25519 signature of manifest.json (only when signed)
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Collection, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from audit.errors import BadInput
from reports.manifest import (
    ATTESTATION,
    MANIFEST,
    SIGNATURE,
    build_manifest,
    build_statement,
    canonical_json,
    load_signing_key,
    sha256_bytes,
    sha256_file,
    sign_bytes,
)
from reports.pdf import html_to_pdf
from reports.render import VIEWS, environment, render_view
from reports.schema import validate_results

__all__ = ["write_pack", "dump_results", "sha256_file", "builtin_templates_digest", "PACK_FILES", "FORMATS"]

PACK_FILES = ("results.json", *VIEWS, "report.pdf", ATTESTATION, MANIFEST, SIGNATURE)
#: View names accepted by ``write_pack(formats=...)`` and the file each one writes.
FORMATS = {"json": "results.json", "html": "report.html", "md": "report.md", "junit": "junit.xml",
           "pdf": "report.pdf"}


def dump_results(results: dict[str, Any]) -> str:
    """Canonical text of results.json (sorted keys, 2-space indent, trailing newline)."""
    return canonical_json(results)


def builtin_templates_digest() -> str:
    """SHA-256 over the built-in templates, so ``verify`` knows when it can re-render."""
    root = resources.files("reports").joinpath("templates")
    parts = sorted((p.name, p.read_bytes()) for p in root.iterdir() if p.is_file())
    return sha256_bytes(b"".join(n.encode() + b"\0" + sha256_bytes(b).encode() + b"\n" for n, b in parts))


def _is_previous_pack(out: Path) -> bool:
    """True when ``out`` holds exactly the files of an evidence pack and nothing else."""
    try:
        manifest = json.loads((out / MANIFEST).read_text("utf-8"))
        listed = set(manifest.get("outputs", {})) | {MANIFEST, SIGNATURE}
    except (OSError, ValueError, AttributeError):
        return False
    return all(p.is_file() and p.name in listed for p in out.iterdir())


def _check_destination(out: Path) -> None:
    if not out.exists():
        return
    if not out.is_dir():
        raise BadInput("out", f"{out} exists and is not a directory; refusing to overwrite")
    if any(out.iterdir()) and not _is_previous_pack(out):
        raise BadInput("out", f"{out} exists and is not an evidence pack; refusing to overwrite")


def _write(path: Path, data: str | bytes) -> None:
    with open(path, "wb") as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)
        f.flush()
        os.fsync(f.fileno())


def _fill(tmp: Path, results: dict[str, Any], inputs: Mapping[str, Any] | None,
          key: Any, template_dir: Any, pdf: bool, files: frozenset[str]) -> None:
    env = environment(template_dir)
    text = dump_results(results)
    _write(tmp / "results.json", text)
    results = json.loads(text)  # views are rendered from results.json itself (key order included)
    wanted = {name for name in VIEWS if name in files or (pdf and name == "report.html")}
    views = {name: render_view(name, results, env) for name in VIEWS if name in wanted}
    for name, body in views.items():
        if name in files:
            _write(tmp / name, body)
    if pdf:
        _write(tmp / "report.pdf", html_to_pdf(views["report.html"]))
    statement = build_statement(results, sha256_bytes(text.encode("utf-8")))
    _write(tmp / ATTESTATION, canonical_json(statement))
    templates = ({"source": "builtin", "sha256": builtin_templates_digest()} if template_dir is None
                 else {"source": "user", "sha256": None})
    manifest = build_manifest(tmp, inputs, public_key=key.public_key() if key else None,
                              templates=templates)
    manifest_bytes = canonical_json(manifest).encode("utf-8")
    _write(tmp / MANIFEST, manifest_bytes)
    if key is not None:
        _write(tmp / SIGNATURE, sign_bytes(key, manifest_bytes))


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
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.replace(out, old / "pack")
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)


def write_pack(
    results: dict[str, Any],
    out_dir: str | os.PathLike[str],
    *,
    inputs: Mapping[str, str | os.PathLike[str]] | None = None,
    sign_key: str | os.PathLike[str] | None = None,
    template_dir: str | os.PathLike[str] | None = None,
    pdf: bool = True,
    formats: Collection[str] | None = None,
) -> Path:
    """Validate ``results`` and write the evidence pack atomically to ``out_dir``.

    Parameters
    ----------
    results : dict
        The results dict of :func:`audit.runner.run_audit` (validated against the schema).
    out_dir : path
        Destination. Replaced only if empty or a previous pack holding nothing but pack
        files; anything else raises :class:`audit.errors.BadInput` and nothing is written.
    inputs : mapping of role to path, optional
        Input files (models, data) whose SHA-256 and size the manifest records.
    sign_key : path, optional
        Unencrypted PEM Ed25519 private key; signs ``manifest.json`` into ``manifest.sig``.
    template_dir : path, optional
        User templates (``report.html.j2``, ``report.md.j2``, ``junit.xml.j2``), rendered
        in a sandbox; missing ones fall back to the built-in templates.
    pdf : bool
        Also render ``report.pdf`` (WeasyPrint).
    formats : collection of str, optional
        Views to write, among :data:`FORMATS` (``json``, ``html``, ``md``, ``junit``,
        ``pdf``); default all. ``results.json`` and the attestation are always written;
        a view not asked for is not rendered and the manifest does not list it.

    Returns
    -------
    Path
        ``out_dir``. All files appear at once (temporary directory + rename); an
        interruption (``KeyboardInterrupt``, an exception) leaves no partial pack.

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
    out = Path(out_dir)
    _check_destination(out)
    key = load_signing_key(sign_key) if sign_key is not None else None
    environment(template_dir)  # a bad template directory fails before anything is written
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        _fill(tmp, results, inputs, key, template_dir, pdf, files)
        _swap_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
