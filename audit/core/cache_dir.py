"""The output cache's temporary directory: made with its owner's pid and a lock, and
cleaned up after runs that could not remove their own (SIGKILL, a power cut).

A directory is ``unlearn-audit-cache-<pid>-<random>`` under the system's temporary
directory (or the cache's ``tmp_dir``) and holds a ``.lock`` file its process keeps
``flock``-ed while the cache lives; the kernel drops the lock when the process dies, however
it dies. When a cache makes its directory it first removes the stale ones: named with our
prefix, owned by this user, whose pid is not running, whose lock nobody holds (a live
process of another pid namespace sharing the directory still holds it), and that hold
nothing but ``.lock`` and the cache's ``*.f32`` files. Anything else is left alone.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable

from audit.shared.processes import pid_alive

try:  # POSIX; elsewhere directories are made and removed, but never cleaned after a crash
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["PREFIX", "make_store_dir", "clean_stale_caches"]

PREFIX = "unlearn-audit-cache-"
_LOCK = ".lock"
_NAME = re.compile(re.escape(PREFIX) + r"(?P<pid>\d+)-[^/]+")
log = logging.getLogger("unlearn_audit.cache")


def make_store_dir(parent: str | None = None) -> tuple[str, Callable[[], None]]:
    """Create a locked cache directory (after cleaning stale ones); return it and its remover.

    Parameters
    ----------
    parent : str, optional
        Where to create it (default: the system's temporary directory).

    Returns
    -------
    path : str
        The new directory (holding a locked ``.lock``).
    remove : callable
        Removes it and releases its lock (call once).

    Examples
    --------
    >>> d, remove = make_store_dir()
    >>> os.path.basename(d).startswith(f"{PREFIX}{os.getpid()}-"), os.path.exists(os.path.join(d, ".lock"))
    (True, True)
    >>> remove(); os.path.exists(d)
    False
    """
    clean_stale_caches(parent)
    path = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=parent)
    fd = os.open(os.path.join(path, _LOCK), os.O_CREAT | os.O_RDWR, 0o600)
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a fresh file: nobody else holds it

    def remove() -> None:
        shutil.rmtree(path, ignore_errors=True)
        os.close(fd)

    return path, remove


def _removable(path: str) -> bool:
    """Ours, of a dead process, unlocked and holding only cache files."""
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        return False
    names = os.listdir(path)
    if _LOCK not in names or not all(n == _LOCK or n.endswith(".f32") for n in names):
        return False
    if not all(stat.S_ISREG(os.lstat(os.path.join(path, n)).st_mode) for n in names):
        return False
    fd = os.open(os.path.join(path, _LOCK), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held by a live owner: BlockingIOError
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def clean_stale_caches(parent: str | None = None) -> list[str]:
    """Remove the cache directories that dead processes left in ``parent``; return them.

    ``parent`` defaults to the system's temporary directory. A directory whose process
    still runs, that another user owns, that is locked or holds other files is kept.

    Parameters
    ----------
    parent : str, optional
        The directory to clean (default: the system's temporary directory).

    Returns
    -------
    list of str
        The directories removed.
    """
    if fcntl is None:  # pragma: no cover - no locks to prove a directory stale
        return []
    root = tempfile.gettempdir() if parent is None else parent
    removed = []
    try:
        entries = os.listdir(root)
    except OSError:
        return removed
    for name in sorted(entries):
        m = _NAME.fullmatch(name)
        if not m or int(m["pid"]) == os.getpid() or pid_alive(int(m["pid"])):
            continue
        path = os.path.join(root, name)
        try:
            if not _removable(path):
                continue
            shutil.rmtree(path)
        except OSError:  # raced with another cleaner, or not ours to read: leave it
            continue
        removed.append(path)
        log.warning("removed %s, the output cache of an interrupted run (pid %s)", path, m["pid"])
    return removed
