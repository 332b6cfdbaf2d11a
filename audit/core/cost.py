"""Cost accounting: what each check did (forward passes, resamples, models trained) and how long it took.

A :class:`Meter` is active while a check runs (:func:`metered`); code anywhere below it
calls :func:`tally` to count work, and the runner records the meter's figures per check
in results.json's ``cost`` section. Outside a meter, :func:`tally` does nothing, so the
engine's building blocks can count unconditionally.

Seconds are wall-clock and vary from run to run like ``started_at``; the counts are
deterministic for a given case, policy and seed.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from attacks.normal import counting

__all__ = ["Meter", "metered", "tally"]

_ACTIVE: ContextVar[Meter | None] = ContextVar("unlearn_audit_meter", default=None)


@dataclass
class Meter:
    """Counts and wall time of one unit of work (one check).

    Parameters
    ----------
    counts : Counter
        Work done by kind (forward passes, bootstrap resamples, attack models).
    seconds : float
        Wall time.
    """

    counts: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, float | int]:
        """``{"seconds": ..., <count>: ...}`` with counts in a stable order.

        Returns
        -------
        dict of str to float or int

        Examples
        --------
        >>> m = Meter(Counter({"forward_passes": 2}), 0.5)
        >>> m.to_dict()
        {'seconds': 0.5, 'forward_passes': 2}
        """
        out: dict[str, float | int] = {"seconds": round(self.seconds, 4)}
        for k in sorted(self.counts):
            v = self.counts[k]
            out[k] = round(float(v), 4) if isinstance(v, float) else int(v)
        return out


def tally(kind: str, n: float = 1) -> None:
    """Add ``n`` to counter ``kind`` of the active meter (no-op without one).

    Parameters
    ----------
    kind : str
        The counter.
    n : float
        Amount added.

    Returns
    -------
    None

    Examples
    --------
    >>> with metered() as m:
    ...     tally("bootstrap_resamples", 1000)
    ...     tally("bootstrap_resamples", 1000)
    >>> m.counts["bootstrap_resamples"]
    2000
    >>> tally("bootstrap_resamples")  # no meter: nothing happens
    """
    meter = _ACTIVE.get()
    if meter is not None:
        meter.counts[kind] += n


@contextmanager
def metered() -> Iterator[Meter]:
    """Measure the enclosed block: wall time plus every :func:`tally` inside it.

    Meters do not nest: an inner block counts into its own meter only.

    Returns
    -------
    contextmanager of Meter
        The meter, filled when the block ends.
    """
    meter = Meter()
    token = _ACTIVE.set(meter)
    start = time.perf_counter()
    try:
        with counting(tally):  # the attacks' resampling kernels report what they drew
            yield meter
    finally:
        meter.seconds = time.perf_counter() - start
        _ACTIVE.reset(token)
