"""One BLAS thread around small fits: ``one_blas_thread()``.

The attack and similarity models fitted inside the checks are small (a logistic regression on
a dozen features, a few thousand rows). Their BLAS calls gain nothing from threads, and when
another process holds a core the threads spin waiting on each other: an lbfgs fit on 12
features took 110 ms instead of 20 ms (measured on the shared 2-core machine).
``threadpoolctl.threadpool_limits`` finds the loaded BLAS libraries on every call (4 ms each,
measured); the controller here finds them once, on first use.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from functools import cache

from threadpoolctl import ThreadpoolController

__all__ = ["one_blas_thread"]


@cache
def _controller() -> ThreadpoolController:
    return ThreadpoolController()


def one_blas_thread() -> AbstractContextManager:
    """Limit BLAS (OpenBLAS, MKL, ...) to one thread inside the block, restored on exit.

    Returns
    -------
    contextmanager

    Examples
    --------
    >>> import numpy as np
    >>> with one_blas_thread():
    ...     float(np.ones(3) @ np.ones(3))
    3.0
    """
    return _controller().limit(limits=1, user_api="blas")
