"""``verify_pack``: recompute everything an evidence pack claims and list the problems.

What it proves (README, "Threat model"):

* every pack: ``manifest.json`` is canonical and follows its strict schema; every file it
  lists has its SHA-256 and size, nothing else is in the pack; ``results.json`` follows its
  schema; the attestation is exactly the one ``results.json`` and the manifest's inputs give;
  every view is re-rendered — with the installed templates (built-in packs, whose recorded
  digest must match) or with the templates shipped in the pack (user templates) — and must
  match byte for byte. So any single changed byte of any file is detected: **integrity**.
* signed packs, in addition: the Ed25519 signature over ``manifest.json``. Pinned to a
  public key (``public_key``), that is **authenticity** — who vouched for the pack.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from audit.shared.digest import file_sha256
from reports.destination import TEMPLATES_DIR, pack_file_names
from reports.manifest import (
    ATTESTATION,
    MANIFEST,
    SIGNATURE,
    build_statement,
    canonical_json,
    sha256_bytes,
    templates_digest,
    verify_signature,
)
from reports.pack import builtin_templates_digest
from reports.render import VIEWS, environment, render_view, shipped_environment
from reports.schema import SchemaError, manifest_problem, validate_results

__all__ = ["verify_pack", "trust_statement", "UNSIGNED"]

UNSIGNED = "unsigned: integrity, not authenticity"


@lru_cache(maxsize=16)
def _parse(raw: bytes) -> tuple[Any, str | None]:
    """(object, problem) of a JSON file's bytes; cached, since verify reads the same files again."""
    try:
        obj = json.loads(raw.decode("utf-8"))
    except ValueError as exc:
        return None, f"unreadable: {exc}"
    if canonical_json(obj).encode("utf-8") != raw:
        return obj, "not in canonical form (edited after writing?)"
    return obj, None


def _load_canonical(path: Path) -> tuple[Any, str | None, bytes]:
    """Parse a JSON file of the pack and insist on its canonical serialisation (never mutate)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, f"{path.name}: unreadable: {exc}", b""
    obj, problem = _parse(raw)
    return obj, f"{path.name}: {problem}" if problem else None, raw


def _check_files(d: Path, manifest: dict[str, Any]) -> list[str]:
    problems = []
    outputs = manifest["outputs"]
    for name, entry in sorted(outputs.items()):
        f = d / name
        if not f.is_file() or f.is_symlink():
            problems.append(f"{name}: missing")
        elif f.stat().st_size != entry["size"]:
            problems.append(f"{name}: size mismatch")
        elif file_sha256(f) != entry["sha256"]:
            problems.append(f"{name}: sha256 mismatch")
    names = pack_file_names(d)
    if names is None:
        return [*problems, "pack holds a symlink, a special file or an unexpected directory"]
    signed = manifest["signature"] is not None
    for name in names:
        if name not in outputs and name != MANIFEST and not (signed and name == SIGNATURE):
            problems.append(f"{name}: not listed in {MANIFEST}")
    return problems


def _check_signature(d: Path, manifest: dict[str, Any], public_key: str | None,
                     require: bool) -> list[str]:
    sig = manifest["signature"]
    if sig is None:
        if public_key:
            return [f"{MANIFEST}: not signed, but a public key was expected"]
        return [f"{MANIFEST}: not signed, but a signature is required"] if require else []
    if public_key is not None and sig["public_key"] != public_key:
        return [f"{MANIFEST}: signed by a different key than the one expected"]
    try:
        sig_text = (d / SIGNATURE).read_text("ascii")
    except (OSError, UnicodeDecodeError) as exc:
        return [f"{SIGNATURE}: unreadable: {exc}"]
    problem = verify_signature(sig["public_key"], (d / MANIFEST).read_bytes(), sig_text)
    return [problem] if problem else []


def _views_environment(d: Path, templates: dict[str, Any]) -> tuple[Any, str | None]:
    """The environment to re-render the views with, or why there is none."""
    if templates["source"] == "builtin":
        if templates["sha256"] != builtin_templates_digest():
            return None, (f"{MANIFEST}: rendered with built-in templates {templates['sha256']}, "
                          f"installed ones are {builtin_templates_digest()}; cannot re-render the views")
        return environment(), None
    shipped = d / TEMPLATES_DIR
    files = {p.name: p.read_bytes() for p in sorted(shipped.iterdir()) if p.is_file()} if shipped.is_dir() else {}
    if not files or templates_digest(files) != templates["sha256"]:
        return None, f"{MANIFEST}: the shipped templates do not match their recorded digest"
    return shipped_environment(shipped), None


@lru_cache(maxsize=4)
def _rendered(raw: bytes, env: Any) -> dict[str, bytes | str]:
    """Each view re-rendered from results.json (bytes), or why it cannot be (str).

    Cached on the exact bytes and environment, so verifying one pack again is cheap.
    """
    results = _parse(raw)[0]
    out: dict[str, bytes | str] = {}
    for name in VIEWS:
        try:
            out[name] = render_view(name, results, env).encode("utf-8")
        except Exception as exc:  # noqa: BLE001 - a pack's own templates may be anything
            out[name] = f"{type(exc).__name__}: {exc}"
    return out


@lru_cache(maxsize=4)
def _manifest_problem(raw: bytes) -> str | None:
    return manifest_problem(_parse(raw)[0])


@lru_cache(maxsize=4)
def _schema_problem(raw: bytes) -> str | None:
    try:
        validate_results(_parse(raw)[0])
    except SchemaError as exc:
        return f"results.json: {exc}"
    return None


def _check_views(d: Path, raw: bytes, templates: dict[str, Any], outputs: dict[str, Any]) -> list[str]:
    """Re-render every view the manifest lists (a pack may leave views out: ``--formats``)."""
    env, problem = _views_environment(d, templates)
    if env is None:
        return [problem or "cannot re-render the views"]
    problems = []
    for name, body in _rendered(raw, env).items():
        if name not in outputs:
            continue  # not written; a file the manifest does not list is flagged by _check_files
        if isinstance(body, str):
            problems.append(f"{name}: cannot be re-rendered: {body}")
        elif not (d / name).is_file() or body != (d / name).read_bytes():
            problems.append(f"{name}: does not match results.json")
    return problems


def _check_content(d: Path, manifest: dict[str, Any]) -> list[str]:
    """Schema of results.json, attestation (with the inputs) and views re-derived from it."""
    results, problem, raw = _load_canonical(d / "results.json")
    if not isinstance(results, dict):
        return [problem or "results.json: not an object"]
    problems = [problem] if problem else []
    schema_problem = _schema_problem(raw)
    if schema_problem:
        return [*problems, schema_problem]
    statement, problem, _ = _load_canonical(d / ATTESTATION)
    if problem:
        problems.append(problem)
    expected = build_statement(results, sha256_bytes(raw), manifest["inputs"])
    if statement is not None and statement != expected:
        problems.append(f"{ATTESTATION}: does not match results.json (or the manifest's inputs)")
    return problems + _check_views(d, raw, manifest["templates"], manifest["outputs"])


def verify_pack(pack_dir: str | os.PathLike[str], public_key: str | None = None,
                require_signature: bool = False) -> list[str]:
    """Recompute an evidence pack's hashes, signature, schema, attestation and views.

    Parameters
    ----------
    pack_dir : path
        The pack directory.
    public_key : str, optional
        Base64 raw Ed25519 public key the pack must be signed with (the trust anchor).
        Without it a signature is checked against the key recorded in the manifest,
        which proves integrity since signing but not who signed.
    require_signature : bool
        An unsigned pack is a problem.

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
    manifest, problem, raw = _load_canonical(d / MANIFEST)
    if manifest is None:
        return [problem or f"{MANIFEST}: unreadable"]
    schema_problem = _manifest_problem(raw)
    if schema_problem:  # nothing in it can be trusted enough to check the rest against
        return [p for p in (problem, schema_problem) if p]
    problems = [problem] if problem else []
    sig = manifest["signature"]
    if sig is not None:
        from base64 import b64decode

        if sha256_bytes(b64decode(sig["public_key"])) != sig["key_id"]:
            problems.append(f"{MANIFEST}: key_id is not the digest of the public key")
    problems += _check_signature(d, manifest, public_key, require_signature)
    problems += _check_files(d, manifest)
    problems += _check_content(d, manifest)
    return problems


def trust_statement(pack_dir: str | os.PathLike[str], public_key: str | None = None) -> str:
    """One plain sentence on what a clean ``verify`` of this pack proves.

    Parameters
    ----------
    pack_dir : path-like
        The pack.
    public_key : str, optional
        The public key the verifier was given.

    Returns
    -------
    str

    Examples
    --------
    >>> trust_statement("/nonexistent")
    'unsigned: integrity, not authenticity'
    """
    try:
        sig = json.loads((Path(pack_dir) / MANIFEST).read_text("utf-8")).get("signature")
    except (OSError, ValueError, AttributeError):
        sig = None
    if not isinstance(sig, dict):
        return UNSIGNED
    if public_key:
        return f"signed by the pinned key {sig.get('key_id')}: integrity and authenticity"
    return (f"signed by key {sig.get('key_id')} recorded in the pack, not pinned: integrity since "
            "signing; pass --public-key to prove who signed")
