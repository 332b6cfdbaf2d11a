"""One torch thread for small work: :func:`one_thread`, and the forward-pass rule (decision record 0023).

Torch splits an op over its intra-op threads (as many as the machine has cores). For a small
model that gains nothing, and when another process holds a core the threads spin waiting on
each other: on the shared 2-core machine the digits MLP's forward pass over its three splits
took 79 ms on torch's two threads and 1.0 ms on one (115 ms and 1.3 ms with one core kept
busy); training a digits MLP 29 s instead of 0.7 s. :func:`one_thread` is used by every
training loop; :func:`forward_threads` is what ``TorchModule.predict_logits`` runs a batch
under: one thread below :data:`ONE_THREAD_FLOPS`, torch's own threads above.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

import torch

__all__ = ["one_thread", "forward_threads", "ONE_THREAD_FLOPS"]

ONE_THREAD_FLOPS = 2**28
"""A forward batch estimated below this many floating-point operations (~2.7e8) runs on one
thread: at most ~6 ms of one core's work (a 4 096-row batch of the digits MLP is 7.8e7), so a
machine with many idle cores loses little, while the spinning threads cost 10-80x on a busy one.
Above it, torch's threads are kept (at 2.7e10 per batch they were within 12 % of one thread on
the busy 2-core machine and can halve the time on an idle one)."""


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch ops on one intra-op thread inside the block (restored afterwards).

    The models trained in this project are small (GEMMs of 32-64 rows): splitting them over
    threads gains nothing on a quiet machine and, when another process holds a core, torch's
    spinning threads wait on each other - training a digits MLP took 29 s instead of 0.7 s
    with one busy core (measured side by side). Also usable as a decorator.

    Returns
    -------
    contextmanager
        Restores torch's thread count on exit.

    Examples
    --------
    >>> n = torch.get_num_threads()
    >>> with one_thread():
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == n
    True
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def forward_threads(flops: float) -> AbstractContextManager:
    """The thread scope of a forward batch: :func:`one_thread` below :data:`ONE_THREAD_FLOPS`.

    Parameters
    ----------
    flops : float
        The batch's estimated floating-point operations (``TorchModule``: twice its parameter
        count per row — exact for linear layers, low for a convolution, whose weights are
        reused over positions).

    Returns
    -------
    contextmanager
        :func:`one_thread` for a small batch, a no-op above the threshold.

    Examples
    --------
    >>> with forward_threads(2 * 9_500 * 1_000):  # the digits MLP on 1 000 rows
    ...     torch.get_num_threads()
    1
    >>> n = torch.get_num_threads()
    >>> with forward_threads(1e12):  # torch's own threads
    ...     torch.get_num_threads() == n
    True
    """
    return one_thread() if flops < ONE_THREAD_FLOPS else nullcontext()
