"""The one file digest: hex SHA-256 of files, read in 1 MiB blocks.

Models (:mod:`audit.core.model_formats`, :mod:`audit.lm.loader`), the case's data and the evidence
pack's manifest (:mod:`reports.manifest`, :mod:`reports.verify`) all digest files with it.
"""

from __future__ import annotations

import hashlib
import os

__all__ = ["file_sha256"]


def file_sha256(*paths: str | os.PathLike[str], extra: str = "") -> str:
    """Hex SHA-256 over the bytes of ``paths`` (in order, read in 1 MiB blocks), then ``extra``.

    Parameters
    ----------
    *paths : path-like
        The files (a model's files, a data table, a pack member).
    extra : str
        Appended after the files (e.g. the architecture and kwargs a state dict is loaded into).

    Returns
    -------
    str
        64 hex digits.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> p = Path(tempfile.mkdtemp()) / "m.bin"; _ = p.write_bytes(b"abc")
    >>> file_sha256(p)[:16]
    'ba7816bf8f01cfea'
    """
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    h.update(extra.encode())
    return h.hexdigest()
