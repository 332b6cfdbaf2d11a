"""Where a pack may be written: never over something that is not ours, never leaving debris.

* ``--out`` must be absent, an empty directory, or a pack this tool wrote — recognised by
  its content, not its file names: ``manifest.json`` parses, lists ``results.json`` (a
  JSON object with a ``schema_version``), every file of the directory is listed, and every
  listed file's SHA-256 and size match (:func:`is_previous_pack`).
* Temporary directories are named ``.<out>.tmp-<pid>-<random>`` in the nearest existing
  ancestor of ``--out``; a later run removes one whose process is dead, whose owner is the
  current user and which holds nothing but pack files; any other leftover is reported, never
  deleted (:func:`clean_stale`).
* Missing parent directories are created only at the final rename (:func:`make_parents`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from pathlib import Path

from audit.shared.errors import BadInput
from audit.shared.processes import pid_alive
from reports.manifest import ATTESTATION, MANIFEST, SIGNATURE, file_entry
from reports.render import VIEWS

#: every file an evidence pack may hold (what ``--out`` may overwrite)
PACK_FILES = ("results.json", *VIEWS, "report.pdf", ATTESTATION, MANIFEST, SIGNATURE)
_PDF_PART = ".report.pdf.part"  # the PDF worker's file, renamed to report.pdf once complete

__all__ = [
    "TEMPLATES_DIR",
    "is_previous_pack",
    "check_destination",
    "existing_ancestor",
    "temp_prefix",
    "clean_stale",
    "make_parents",
    "umask_mode",
    "pack_file_names",
]

log = logging.getLogger("unlearn_audit.pack")

#: sub-directory of a pack holding the templates its views were rendered with (user templates)
TEMPLATES_DIR = "templates"


def pack_file_names(d: Path) -> list[str] | None:
    """Relative names of the regular files of a pack directory, ``templates/x`` included.

    ``None`` when the directory holds anything a pack cannot: a symlink, a special file,
    a sub-directory other than ``templates`` or anything nested deeper.

    Parameters
    ----------
    d : Path
        A directory that may hold a pack.

    Returns
    -------
    list of str or None
        Sorted relative names, or None for a directory no pack could be.
    """
    names = []
    for p in sorted(d.iterdir()):
        if p.is_symlink():
            return None
        if p.is_dir() and p.name == TEMPLATES_DIR:
            for q in sorted(p.iterdir()):
                if q.is_symlink() or not q.is_file():
                    return None
                names.append(f"{TEMPLATES_DIR}/{q.name}")
        elif p.is_file():
            names.append(p.name)
        else:
            return None
    return names


def is_previous_pack(out: Path) -> bool:
    """True when ``out`` is, byte for byte, an evidence pack its manifest describes.

    Parameters
    ----------
    out : Path
        The destination directory.

    Returns
    -------
    bool

    Examples
    --------
    >>> is_previous_pack(Path("/nonexistent"))
    False
    """
    try:
        manifest = json.loads((out / MANIFEST).read_text("utf-8"))
        outputs = manifest["outputs"]
        results = json.loads((out / "results.json").read_text("utf-8"))
        if not isinstance(outputs, dict) or "results.json" not in outputs or "schema_version" not in results:
            return False
        names = pack_file_names(out)
        if names is None or not set(names) <= set(outputs) | {MANIFEST, SIGNATURE}:
            return False
        return all(file_entry(out / name) == entry for name, entry in outputs.items())
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return False


def check_destination(out: Path, field: str = "out") -> None:
    """Refuse (:class:`BadInput`, nothing touched) an ``out`` that is not ours to replace.

    Parameters
    ----------
    out : Path
        The destination of the pack: absent, empty, or an unchanged pack of ours.
    field : str
        The option named in the error.

    Returns
    -------
    None
        Raises :class:`audit.shared.errors.BadInput` otherwise.

    Examples
    --------
    >>> import tempfile
    >>> check_destination(Path(tempfile.mkdtemp()) / "new-pack") is None
    True
    """
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise BadInput(field, f"{out} exists and is not a directory; refusing to overwrite")
    if out.exists() and any(out.iterdir()) and not is_previous_pack(out):
        raise BadInput(field, f"{out} exists and is not an evidence pack written by unlearn-audit "
                              "(or was changed since); refusing to overwrite")


def existing_ancestor(path: Path) -> Path:
    """The nearest ancestor of ``path`` (itself included) that exists.

    Parameters
    ----------
    path : Path
        Any path.

    Returns
    -------
    Path

    Examples
    --------
    >>> existing_ancestor(Path("/nonexistent/a/b")).as_posix()
    '/'
    """
    p = path.absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def temp_prefix(name: str, kind: str = "tmp") -> str:
    """Prefix of this process's temporary entries for ``name`` (``kind``: tmp or old).

    Parameters
    ----------
    name : str
        The final entry's name.
    kind : {"tmp", "old"}
        A new pack being written, or a previous one moved aside.

    Returns
    -------
    str
        ``.<name>.<kind>-<pid>-`` (the process id lets a later run tell a stale leftover).

    Examples
    --------
    >>> import os
    >>> temp_prefix("pack") == f".pack.tmp-{os.getpid()}-"
    True
    """
    return f".{name}.{kind}-{os.getpid()}-"


def _stale_is_ours(p: Path) -> bool:
    if p.lstat().st_uid != os.getuid():
        return False
    if p.is_file() and not p.is_symlink():  # a secret's temporary file
        return p.stat().st_size <= 256
    names = pack_file_names(p) if p.is_dir() and not p.is_symlink() else None
    # a killed run may also leave its PDF worker's unfinished file
    return names is not None and all(n in PACK_FILES or n == _PDF_PART or n.startswith(f"{TEMPLATES_DIR}/")
                                     for n in names)


def clean_stale(where: Path, names: list[str]) -> list[Path]:
    """Remove the provably stale temporaries of earlier runs for ``names``; report the rest.

    Returns the paths removed. A leftover whose process still runs, that another user owns,
    or that holds anything but pack files is logged (``unlearn_audit.pack``) and kept; so is
    an ``.old-`` directory (it may hold the only copy of a previous pack).

    Parameters
    ----------
    where : Path
        The directory holding the destination.
    names : list of str
        The destination names whose temporaries to look for.

    Returns
    -------
    list of Path
        The entries removed.
    """
    removed = []
    pattern = re.compile(r"\.(?P<name>.+)\.(?P<kind>tmp|old)-(?P<pid>\d+)-[^/]+")
    try:
        entries = sorted(where.iterdir())
    except OSError:
        return removed
    for p in entries:
        m = pattern.fullmatch(p.name)
        if not m or m["name"] not in names or int(m["pid"]) == os.getpid():
            continue
        if m["kind"] == "old":
            log.warning("an interrupted run left a previous pack at %s; move it back or delete it", p)
        elif pid_alive(int(m["pid"])):
            log.warning("%s belongs to a running process (pid %s); left alone", p, m["pid"])
        elif not _stale_is_ours(p):
            log.warning("%s looks like a stale temporary of an interrupted run but holds other "
                        "content or belongs to another user; left alone", p)
        else:
            shutil.rmtree(p) if p.is_dir() else p.unlink()
            removed.append(p)
            log.warning("removed %s, left by an interrupted run (pid %s)", p, m["pid"])
    return removed


def make_parents(path: Path) -> list[Path]:
    """Create the missing parents of ``path``; return those created (outermost first).

    Parameters
    ----------
    path : Path
        The destination.

    Returns
    -------
    list of Path
        The directories created, outermost first (removed again if the write fails).

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> [p.name for p in make_parents(root / "a" / "b" / "pack")]
    ['a', 'b']
    """
    missing = []
    p = path.absolute().parent
    while not p.exists():
        missing.append(p)
        p = p.parent
    missing.reverse()
    for d in missing:
        d.mkdir()
    return missing


def _umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux >= 4.7)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    current = os.umask(0o022)  # elsewhere: set and restore (not thread-safe, hence the fallback)
    os.umask(current)
    return current


def umask_mode(base: int = 0o777) -> int:
    """``base`` with the process umask applied (what ``mkdir`` would give).

    Parameters
    ----------
    base : int
        The requested mode.

    Returns
    -------
    int

    Examples
    --------
    >>> umask_mode(0o777) == 0o777 & ~_umask()
    True
    """
    return base & ~_umask()
