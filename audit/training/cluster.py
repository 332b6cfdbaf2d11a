"""Where parallel work runs: in this process, or on a Dask cluster through joblib.

The audit's parallel work — training extra references, shadow models and the calibration
grid's cells — is written against :mod:`joblib` only. Under
``joblib.parallel_config(backend="dask")`` (what :func:`compute_on` opens for a scheduler
address, from ``--dask ADDRESS`` or ``DASK_SCHEDULER_ADDRESS``) the same calls run on the
cluster's workers, unchanged; a Python user can open that context themselves around
:func:`audit.engine.runner.run_audit`. :func:`workers` tells the callers how many workers there are,
so a batched torch ensemble is split into one group per worker.

Results do not depend on where they were computed: every job is seeded by its own seed,
and the groups of a batched ensemble train independently (tested: torch references and
shadows on a two-worker ``LocalCluster`` are bit-identical to the ones trained in this
process; scikit-learn fits equal to float rounding, since a worker may run BLAS on another
number of threads).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import joblib

from audit.shared.errors import BadInput

__all__ = ["ENV_VAR", "scheduler_address", "compute_on", "workers", "parallel_map", "describe"]

ENV_VAR = "DASK_SCHEDULER_ADDRESS"
"""The environment variable read when no ``--dask`` address is given (Dask's own name)."""


def scheduler_address(flag: str | None, environ: dict[str, str] | None = None) -> str | None:
    """The scheduler address: the flag's value, else ``$DASK_SCHEDULER_ADDRESS``, else ``None``.

    An empty flag (``--dask ""``) means "this process", whatever the environment says.

    Parameters
    ----------
    flag : str or None
        ``--dask``.
    environ : dict, optional
        The environment (default ``os.environ``).

    Returns
    -------
    str or None

    Examples
    --------
    >>> scheduler_address("tcp://10.0.0.5:8786", {})
    'tcp://10.0.0.5:8786'
    >>> scheduler_address(None, {"DASK_SCHEDULER_ADDRESS": "tcp://sched:8786"})
    'tcp://sched:8786'
    >>> scheduler_address("", {"DASK_SCHEDULER_ADDRESS": "tcp://sched:8786"}) is None
    True
    """
    env = os.environ if environ is None else environ
    if flag is not None:
        return flag.strip() or None
    value = env.get(ENV_VAR, "").strip()
    return value or None


def _dask_backend() -> Any | None:
    """joblib's active Dask backend, or ``None`` when joblib runs locally."""
    backend, _ = joblib.parallel.get_active_backend()
    return backend if type(backend).__name__ == "DaskDistributedBackend" else None


def workers() -> int:
    """How many workers the active joblib backend offers: the Dask workers, else 1.

    Returns
    -------
    int

    Examples
    --------
    >>> workers()
    1
    """
    backend = _dask_backend()
    if backend is None:
        return 1
    return max(1, len(backend.client.scheduler_info().get("workers", {})))


def parallel_map(fn: Callable[..., Any], items: Sequence[Any], n_jobs: int = 1) -> list[Any]:
    """``[fn(item) for item in items]`` through joblib: on every Dask worker when a cluster is
    active, else with ``n_jobs`` local workers (1: in this process, no pickling).

    Parameters
    ----------
    fn : callable
        Applied to each item.
    items : sequence
        The work.
    n_jobs : int
        Local workers.

    Returns
    -------
    list

    Examples
    --------
    >>> parallel_map(abs, [-1, 2])
    [1, 2]

    Examples
    --------
    >>> parallel_map(abs, [-1, 2, -3])
    [1, 2, 3]
    """
    if _dask_backend() is None and n_jobs == 1:
        return [fn(item) for item in items]
    jobs = -1 if _dask_backend() is not None else n_jobs
    return list(joblib.Parallel(n_jobs=jobs)(joblib.delayed(fn)(item) for item in items))


def describe() -> dict[str, Any]:
    """Where this run's parallel work ran, for results.json's ``environment.compute``.

    Returns
    -------
    dict

    Examples
    --------
    >>> describe()
    {'backend': 'local', 'workers': 1}
    """
    backend = _dask_backend()
    if backend is None:
        return {"backend": "local", "workers": 1}
    return {"backend": "dask", "workers": workers()}


@contextmanager
def compute_on(address: str | None, field: str = "--dask", timeout: float = 10.0) -> Iterator[None]:
    """Run the enclosed work's joblib calls on the Dask scheduler at ``address`` (``None``: here).

    A missing ``distributed`` package or an unreachable scheduler is bad input naming
    ``field``, raised before any work.

    Parameters
    ----------
    address : str or None
        The scheduler (None: this process).
    field : str
        The option named in errors.
    timeout : float
        Seconds to reach the scheduler.

    Returns
    -------
    contextmanager

    Examples
    --------
    >>> with compute_on(None):
    ...     describe()["backend"]
    'local'
    """
    if address is None:
        yield
        return
    try:
        import distributed
    except ImportError as exc:
        raise BadInput(field, "running on a Dask cluster needs the 'distributed' package: "
                       "pip install 'unlearn-audit[dask]'") from exc
    try:
        client = distributed.Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        raise BadInput(field, f"cannot reach the Dask scheduler at {address!r}: "
                       f"{type(exc).__name__}: {exc}") from exc
    with client, joblib.parallel_config(backend="dask"):
        yield
