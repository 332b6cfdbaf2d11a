"""Manifest, in-toto test-result attestation and Ed25519 signature of an evidence pack.

* ``manifest.json`` lists the SHA-256 and size of every input (models, data) and every
  other file of the pack, and records the public key when the pack is signed.
* ``attestation.intoto.json`` is an in-toto Statement v1 with the test-result predicate
  (https://in-toto.io/attestation/test-result/v0.1) whose subjects are the audited models;
  its ``configuration`` also lists every input the manifest records (``input:<role>``, with
  path and size), so an edit of the manifest's inputs no longer matches the attestation.
* ``manifest.sig`` (only when signed) is the hex Ed25519 signature of the exact bytes of
  ``manifest.json``; since the manifest hashes every other file, it seals the whole pack.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audit.shared.digest import file_sha256
from audit.shared.errors import BadInput

__all__ = [
    "MANIFEST",
    "SIGNATURE",
    "ATTESTATION",
    "STATEMENT_TYPE",
    "TEST_RESULT_TYPE",
    "canonical_json",
    "sha256_bytes",
    "file_entry",
    "input_entries",
    "templates_digest",
    "build_statement",
    "build_manifest",
    "load_signing_key",
    "sign_bytes",
    "verify_signature",
]

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
ATTESTATION = "attestation.intoto.json"
MANIFEST_VERSION = "1.0"
TOOL = "unlearn-audit"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
TEST_RESULT_TYPE = "https://in-toto.io/attestation/test-result/v0.1"
_RESULT = {"pass": "PASSED", "warn": "WARNED"}  # everything else: FAILED (fail-closed)


def canonical_json(obj: Any) -> str:
    """The one serialisation used for every JSON file of a pack (sorted, indented).

    Parameters
    ----------
    obj : any
        A JSON-serialisable object (no NaN).

    Returns
    -------
    str
        Sorted keys, 2-space indent, UTF-8 characters kept, trailing newline.

    Examples
    --------
    >>> canonical_json({"b": 1, "a": [1, 2]})
    '{\\n  "a": [\\n    1,\\n    2\\n  ],\\n  "b": 1\\n}\\n'
    """
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``.

    Parameters
    ----------
    data : bytes
        Any bytes.

    Returns
    -------
    str
        64 hex digits.

    Examples
    --------
    >>> sha256_bytes(b"abc")[:16]
    'ba7816bf8f01cfea'
    """
    return hashlib.sha256(data).hexdigest()


def file_entry(path: Path) -> dict[str, Any]:
    """``{"sha256", "size"}`` of one file.

    Parameters
    ----------
    path : Path
        A file.

    Returns
    -------
    dict
        ``{"sha256": hex digest, "size": bytes}``.
    """
    return {"sha256": file_sha256(path), "size": path.stat().st_size}


def templates_digest(files: Mapping[str, bytes]) -> str:
    """SHA-256 over a set of templates (name and content of each), order-independent.

    Parameters
    ----------
    files : mapping of str to bytes
        Template name to content.

    Returns
    -------
    str
        64 hex digits.

    Examples
    --------
    >>> templates_digest({"a.j2": b"x"}) == templates_digest({"a.j2": b"x"})
    True
    """
    return sha256_bytes(b"".join(n.encode() + b"\0" + sha256_bytes(files[n]).encode() + b"\n"
                                 for n in sorted(files)))


def input_entries(inputs: Mapping[str, str | os.PathLike[str]] | None) -> dict[str, dict[str, Any]]:
    """``{role: {"path", "sha256", "size"}}`` of the input files; :class:`BadInput` if one is missing.

    Parameters
    ----------
    inputs : mapping of str to path-like, optional
        Role (``case``, ``data``, ``models.original`` ...) to the input file.

    Returns
    -------
    dict
        ``{role: {"path", "sha256", "size"}}`` (empty for None).
    """
    entries = {}
    for role, p in sorted((inputs or {}).items()):
        path = Path(p)
        if not path.is_file():
            raise BadInput(f"inputs.{role}", f"input file not found: {path}")
        entries[role] = {"path": path.name, **file_entry(path)}
    return entries


def _test_lists(checks: list[dict[str, Any]]) -> tuple[list[str], list[str], list[str]]:
    passed, warned, failed = [], [], []
    for c in checks:
        status = c["status"]
        if status == "pass":
            passed.append(c["id"])
        elif status == "warn" or (status == "skipped" and not c["required"]):
            warned.append(c["id"])
        else:  # fail, inconclusive, error, required skipped
            failed.append(c["id"])
    return passed, warned, failed


def build_statement(results: dict[str, Any], results_sha256: str,
                    inputs: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """in-toto Statement v1 (test-result predicate) for a results dict.

    Subjects are the models with a known digest (original, unlearned, retrained:i);
    ``configuration`` points at the policy in force, the data, results.json and every
    input entry of the manifest (:func:`input_entries`).

    Parameters
    ----------
    results : dict
        The results dict.
    results_sha256 : str
        Digest of results.json as written.
    inputs : mapping, optional
        The manifest's input entries (:func:`input_entries`).

    Returns
    -------
    dict
        The in-toto Statement.
    """
    models = results["models"]
    roles = [("original", models["original"]), ("unlearned", models["unlearned"])]
    roles += [(f"retrained:{i}", m) for i, m in enumerate(models["retrained"])]
    subjects = [
        {"name": m.get("file") or role, "digest": {"sha256": m["sha256"]}, "annotations": {"role": role}}
        for role, m in roles if m.get("sha256")
    ]
    configuration = [{"name": "results.json", "digest": {"sha256": results_sha256}}]
    if results.get("policy") is not None:
        policy_digest = sha256_bytes(canonical_json(results["policy"]).encode())
        configuration.append({"name": "policy", "digest": {"sha256": policy_digest}})
    if results["data"].get("sha256"):
        configuration.append({"name": results["data"].get("file") or "data",
                              "digest": {"sha256": results["data"]["sha256"]}})
    for role, entry in sorted((inputs or {}).items()):
        configuration.append({"name": f"input:{role}", "digest": {"sha256": entry.get("sha256")},
                              "annotations": {"path": entry.get("path"), "size": entry.get("size")}})
    passed, warned, failed = _test_lists(results["checks"])
    return {
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": TEST_RESULT_TYPE,
        "predicate": {
            "result": _RESULT.get(results["verdict"], "FAILED"),
            "configuration": configuration,
            "passedTests": passed,
            "warnedTests": warned,
            "failedTests": failed,
        },
    }


def build_manifest(
    pack_dir: Path,
    inputs: Mapping[str, Mapping[str, Any]],
    *,
    public_key: Ed25519PublicKey | None,
    templates: Mapping[str, Any],
    outputs: list[str],
) -> dict[str, Any]:
    """Manifest of the pack files ``outputs`` (relative names) and the input entries.

    Parameters
    ----------
    pack_dir : Path
        The pack being written.
    inputs : mapping
        Input entries (:func:`input_entries`).
    public_key : Ed25519PublicKey or None
        The signer's public key (recorded when the pack is signed).
    templates : mapping
        What rendered the views (built-in or user templates, with their digest).
    outputs : list of str
        The pack files the manifest covers (relative names).

    Returns
    -------
    dict
        The manifest (validated by ``schema/manifest.schema.json``).
    """
    signature = None
    if public_key is not None:
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        signature = {"algorithm": "ed25519", "file": SIGNATURE, "signed": MANIFEST,
                     "public_key": base64.b64encode(raw).decode("ascii"),
                     "key_id": sha256_bytes(raw)}
    return {"manifest_version": MANIFEST_VERSION, "tool": TOOL, "hash": "sha256",
            "inputs": {role: dict(e) for role, e in inputs.items()},
            "outputs": {name: file_entry(pack_dir / name) for name in sorted(outputs)},
            "templates": dict(templates), "signature": signature}


def load_signing_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """Read an unencrypted PEM (PKCS#8) Ed25519 private key; :class:`BadInput` otherwise.

    Parameters
    ----------
    path : path-like
        The PEM file.

    Returns
    -------
    Ed25519PrivateKey
    """
    p = Path(path)
    try:
        key = serialization.load_pem_private_key(p.read_bytes(), password=None)
    except FileNotFoundError:
        raise BadInput("--sign-key", f"key file not found: {p}") from None
    except (ValueError, TypeError, OSError) as exc:
        raise BadInput("--sign-key", f"not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise BadInput("--sign-key", f"an Ed25519 key is required, got {type(key).__name__}")
    return key


def sign_bytes(key: Ed25519PrivateKey, data: bytes) -> str:
    """Hex Ed25519 signature of ``data`` followed by a newline (the manifest.sig text).

    Parameters
    ----------
    key : Ed25519PrivateKey
        The signing key.
    data : bytes
        The bytes signed (manifest.json).

    Returns
    -------
    str
        The hex signature and a newline.

    Examples
    --------
    >>> from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    >>> len(sign_bytes(Ed25519PrivateKey.generate(), b"m"))
    129
    """
    return key.sign(data).hex() + "\n"


def verify_signature(public_key_b64: str, data: bytes, sig_text: str) -> str | None:
    """Check a manifest.sig text against ``data``; return a problem or ``None``.

    Parameters
    ----------
    public_key_b64 : str
        The Ed25519 public key, raw bytes in base64.
    data : bytes
        The signed bytes (manifest.json).
    sig_text : str
        manifest.sig's text.

    Returns
    -------
    str or None
        What is wrong, or None for a valid signature.
    """
    try:
        raw = base64.b64decode(public_key_b64, validate=True)
        pub = Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, TypeError) as exc:
        return f"{MANIFEST}: recorded public key unusable: {exc}"
    if not sig_text.endswith("\n") or sig_text.count("\n") != 1:
        return f"{SIGNATURE}: malformed"
    try:
        sig = bytes.fromhex(sig_text[:-1])
    except ValueError:
        return f"{SIGNATURE}: not hexadecimal"
    if sig_text[:-1] != sig.hex():
        return f"{SIGNATURE}: not canonical lower-case hex"
    try:
        pub.verify(sig, data)
    except InvalidSignature:
        return f"{SIGNATURE}: signature does not match {MANIFEST}"
    return None
