"""``verify_pack``: recompute everything an evidence pack claims and list the problems."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from reports.manifest import (
    ATTESTATION,
    MANIFEST,
    SIGNATURE,
    build_statement,
    canonical_json,
    sha256_bytes,
    sha256_file,
    verify_signature,
)
from reports.pack import builtin_templates_digest
from reports.render import VIEWS, environment, render_view
from reports.schema import SchemaError, validate_results

__all__ = ["verify_pack"]

_REQUIRED = ("results.json", ATTESTATION)  # views are optional (write_pack formats=)


def _load_canonical(path: Path) -> tuple[Any, str | None]:
    """Parse a JSON file of the pack and insist on its canonical serialisation."""
    try:
        raw = path.read_bytes()
        obj = json.loads(raw.decode("utf-8"))
    except (OSError, ValueError) as exc:
        return None, f"{path.name}: unreadable: {exc}"
    if canonical_json(obj).encode("utf-8") != raw:
        return obj, f"{path.name}: not in canonical form (edited after writing?)"
    return obj, None


def _check_files(d: Path, manifest: dict[str, Any]) -> list[str]:
    problems = []
    outputs = manifest.get("outputs")
    if not isinstance(outputs, dict):
        return [f"{MANIFEST}: no outputs listed"]
    for name in _REQUIRED:
        if name not in outputs:
            problems.append(f"{MANIFEST}: {name} not listed")
    for name, entry in sorted(outputs.items()):
        f = d / name
        if Path(name).name != name or name in (MANIFEST, SIGNATURE):
            problems.append(f"{MANIFEST}: bad output name {name!r}")
        elif not f.is_file():
            problems.append(f"{name}: missing")
        elif not isinstance(entry, dict) or f.stat().st_size != entry.get("size"):
            problems.append(f"{name}: size mismatch")
        elif sha256_file(f) != entry.get("sha256"):
            problems.append(f"{name}: sha256 mismatch")
    signed = manifest.get("signature") is not None
    for f in sorted(d.iterdir()):
        if f.name not in outputs and f.name != MANIFEST and not (signed and f.name == SIGNATURE):
            problems.append(f"{f.name}: not listed in {MANIFEST}")
    return problems


def _check_signature(d: Path, manifest: dict[str, Any], public_key: str | None) -> list[str]:
    sig = manifest.get("signature")
    if sig is None:
        return [f"{MANIFEST}: not signed, but a public key was expected"] if public_key else []
    if not isinstance(sig, dict) or sig.get("algorithm") != "ed25519":
        return [f"{MANIFEST}: unsupported signature entry"]
    if public_key is not None and sig.get("public_key") != public_key:
        return [f"{MANIFEST}: signed by a different key than the one expected"]
    try:
        sig_text = (d / SIGNATURE).read_text("ascii")
    except (OSError, UnicodeDecodeError) as exc:
        return [f"{SIGNATURE}: unreadable: {exc}"]
    problem = verify_signature(str(sig.get("public_key")), (d / MANIFEST).read_bytes(), sig_text)
    return [problem] if problem else []


def _check_content(d: Path, manifest: dict[str, Any]) -> list[str]:
    """Schema of results.json, attestation and (same templates) views re-derived from it."""
    results, problem = _load_canonical(d / "results.json")
    if results is None:
        return [problem] if problem else []
    problems = [problem] if problem else []
    try:
        validate_results(results)
    except SchemaError as exc:
        return [*problems, f"results.json: {exc}"]
    statement, problem = _load_canonical(d / ATTESTATION)
    if problem:
        problems.append(problem)
    expected = build_statement(results, sha256_bytes((d / "results.json").read_bytes()))
    if statement is not None and statement != expected:
        problems.append(f"{ATTESTATION}: does not match results.json")
    templates = manifest.get("templates") or {}
    if templates.get("source") == "builtin" and templates.get("sha256") == builtin_templates_digest():
        env = environment()
        for name in VIEWS:
            if (d / name).is_file() and render_view(name, results, env).encode("utf-8") != (d / name).read_bytes():
                problems.append(f"{name}: does not match results.json")
    return problems


def verify_pack(pack_dir: str | os.PathLike[str], public_key: str | None = None) -> list[str]:
    """Recompute an evidence pack's hashes, signature, schema and views.

    Parameters
    ----------
    pack_dir : path
        The pack directory.
    public_key : str, optional
        Base64 raw Ed25519 public key the pack must be signed with (the trust anchor).
        Without it a signature is checked against the key recorded in the manifest,
        which proves integrity since signing but not who signed.

    Returns
    -------
    list of str
        One line per problem; empty when the pack is intact.

    Examples
    --------
    >>> verify_pack("/nonexistent")[0].startswith("manifest.json: unreadable")
    True
    """
    d = Path(pack_dir)
    manifest, problem = _load_canonical(d / MANIFEST)
    if not isinstance(manifest, dict):
        return [problem or f"{MANIFEST}: not an object"]
    problems = [problem] if problem else []
    problems += _check_signature(d, manifest, public_key)
    problems += _check_files(d, manifest)
    problems += _check_content(d, manifest)
    return problems
