"""Keyed commitment to the forget set's ids (scheme ``hmac-sha256-v1``).

The pack records ``HMAC-SHA256(key, sorted per-id HMACs)`` and nothing else about the ids.
Without the 256-bit key the commitment reveals nothing, so a forgotten id cannot be
brute-forced from the pack (the old salt was derived from the public data digest). The key
never enters the pack: the data controller supplies it (``--commitment-key FILE``) or the
tool generates one per request and writes it *next to* the pack, mode 0600. With the key
and a claimed id list anyone can check the commitment (``unlearn-audit verify PACK
--forget-ids FILE --key FILE``).

Key file: 64 lower- or upper-case hex characters (32 bytes), optionally followed by a newline.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from audit.shared.errors import BadInput

__all__ = [
    "SCHEME",
    "KEY_BYTES",
    "KEY_SUFFIX",
    "new_key",
    "key_text",
    "read_key",
    "commit_ids",
    "read_id_list",
    "default_key_path",
    "pack_commitment_problem",
]

SCHEME = "hmac-sha256-v1"
KEY_BYTES = 32
KEY_SUFFIX = ".commitment-key"
_ID_DOMAIN = b"unlearn-audit:forget-id:" + SCHEME.encode() + b"\0"
_SET_DOMAIN = b"unlearn-audit:forget-set:" + SCHEME.encode() + b"\0"


def new_key() -> bytes:
    """A fresh random 256-bit key (``secrets``).

    Returns
    -------
    bytes
        32 random bytes.
    """
    return secrets.token_bytes(KEY_BYTES)


def key_text(key: bytes) -> str:
    """The key file's text: hex and a newline.

    Parameters
    ----------
    key : bytes
        32 bytes.

    Returns
    -------
    str

    Examples
    --------
    >>> key_text(bytes(32)) == "00" * 32 + "\\n"
    True
    """
    return key.hex() + "\n"


def read_key(path: str | os.PathLike[str], field: str = "--commitment-key") -> bytes:
    """Read a key file (64 hex characters); :class:`BadInput` naming ``field`` otherwise.

    Parameters
    ----------
    path : path-like
        The key file.
    field : str
        The option named in errors.

    Returns
    -------
    bytes

    Examples
    --------
    >>> read_key("/nonexistent/key")
    Traceback (most recent call last):
    audit.shared.errors.BadInput: --commitment-key: key file not readable: /nonexistent/key
    """
    p = Path(path)
    try:
        raw = p.read_bytes()[: 4 * KEY_BYTES]
        text = raw.decode("ascii").strip()
        key = bytes.fromhex(text)
    except OSError:
        raise BadInput(field, f"key file not readable: {p}") from None
    except (UnicodeDecodeError, ValueError):
        raise BadInput(field, f"{p} is not a key file (expected {2 * KEY_BYTES} hex characters)") from None
    if len(key) != KEY_BYTES:
        raise BadInput(field, f"{p} holds {len(key)} bytes; a {KEY_BYTES}-byte key is required")
    return key


def commit_ids(ids: Iterable[str], key: bytes) -> str:
    """Hex commitment of a multiset of ids under ``key`` (order does not matter).

    Parameters
    ----------
    ids : iterable of str
        The forget ids.
    key : bytes
        The commitment key.

    Returns
    -------
    str
        ``hmac-sha256-v1`` hex commitment.

    Examples
    --------
    >>> k = bytes(range(32))
    >>> commit_ids(["b", "a"], k) == commit_ids(["a", "b"], k)
    True
    >>> commit_ids(["a"], k) == commit_ids(["a"], bytes(32))
    False
    """
    if len(key) != KEY_BYTES:
        raise ValueError(f"a {KEY_BYTES}-byte key is required")
    tags = sorted(hmac.new(key, _ID_DOMAIN + str(i).encode("utf-8"), hashlib.sha256).hexdigest()
                  for i in ids)
    return hmac.new(key, _SET_DOMAIN + "\n".join(tags).encode("ascii"), hashlib.sha256).hexdigest()


def read_id_list(path: str | os.PathLike[str], field: str = "--forget-ids") -> list[str]:
    """One id per line (UTF-8; ``\\r\\n`` accepted, blank lines ignored).

    Parameters
    ----------
    path : path-like
        The id file.
    field : str
        The option named in errors.

    Returns
    -------
    list of str

    Examples
    --------
    >>> read_id_list("/nonexistent/ids")
    Traceback (most recent call last):
    audit.shared.errors.BadInput: --forget-ids: id file not readable: /nonexistent/ids
    """
    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except OSError:
        raise BadInput(field, f"id file not readable: {p}") from None
    except UnicodeDecodeError:
        raise BadInput(field, f"{p} is not UTF-8 text") from None
    ids = [line.rstrip("\r") for line in text.split("\n")]
    ids = [i for i in ids if i.strip()]
    if not ids:
        raise BadInput(field, f"{p} lists no ids")
    return ids


def default_key_path(out: str | os.PathLike[str]) -> Path:
    """Where a generated key goes: beside the pack, ``<out>.commitment-key``.

    Parameters
    ----------
    out : path-like
        The pack directory.

    Returns
    -------
    Path

    Examples
    --------
    >>> default_key_path("runs/pack").as_posix()
    'runs/pack.commitment-key'
    """
    out = Path(out)
    return out.with_name(out.name + KEY_SUFFIX)


def pack_commitment_problem(results_path: str | os.PathLike[str], ids: Iterable[str],
                            key: bytes) -> list[str]:
    """Why ``ids`` under ``key`` do not open the commitment in a pack's results.json (or ``[]``).

    Parameters
    ----------
    results_path : path-like
        A pack's results.json.
    ids : iterable of str
        The claimed forget ids.
    key : bytes
        The commitment key.

    Returns
    -------
    list of str
        Problems (empty when the ids open the commitment).

    Examples
    --------
    >>> pack_commitment_problem("/nonexistent/results.json", ["a"], bytes(32))
    ['results.json: unreadable']
    """
    try:
        data = json.loads(Path(results_path).read_text("utf-8"))["data"]
        recorded, scheme = data.get("forget_set_sha256"), data.get("forget_set_commitment_scheme")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return ["results.json: unreadable"]
    if scheme != SCHEME or not isinstance(recorded, str):
        return [f"results.json: no {SCHEME} commitment to the forget ids (scheme {scheme!r})"]
    if not hmac.compare_digest(commit_ids(ids, key), recorded):
        return ["forget ids: the claimed ids and key do not match the pack's commitment"]
    return []
