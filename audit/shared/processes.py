"""Process liveness, for removing what a killed run of ours left behind (packs' temporaries in
:mod:`reports.destination`, output caches in :mod:`audit.core.cache_dir`)."""

from __future__ import annotations

import os

__all__ = ["pid_alive"]


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (one we may not signal counts as alive).

    Parameters
    ----------
    pid : int
        A process id.

    Returns
    -------
    bool
        False only when no such process exists.

    Examples
    --------
    >>> pid_alive(os.getpid())
    True
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True
