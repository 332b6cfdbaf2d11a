"""The check protocol: a spec (id, declared options) and the context a check runs in.

A check is a module in ``audit/checks/`` that defines a module-level ``SPEC``
(:class:`CheckSpec`). The registry discovers such modules automatically, so adding a
check means adding one module, and its policy options (type, default, range, what
tighter means; :class:`audit.core.options.Option`) are declared next to its code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from audit.core.decision import Settings
from audit.core.options import Option, defaults_of
from audit.core.results import CheckResult

if TYPE_CHECKING:  # pragma: no cover
    from audit.core.cache import OutputCache
    from audit.core.case import AuditCase

__all__ = ["CheckSpec", "CheckContext"]


@dataclass
class CheckContext:
    """Everything a check may read.

    Attributes
    ----------
    case : AuditCase
        Models, data, groups and request metadata.
    cache : OutputCache
        Per (model, split) outputs, computed once; checks never call models directly.
    policy : dict
        This check's policy section, defaults merged with user overrides.
    general : dict
        The ``[general]`` policy section (alpha, n_bootstrap, ...).
    rng : numpy.random.Generator
        Seeded from the run seed and the check id, so a check is reproducible alone.
    seed : int
        The run seed.
    """

    case: AuditCase
    cache: OutputCache
    policy: dict[str, Any]
    general: dict[str, Any]
    rng: np.random.Generator
    seed: int = 0
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def alpha(self) -> float:
        return float(self.general["alpha"])

    @property
    def n_boot(self) -> int:
        return int(self.general["n_bootstrap"])

    @property
    def settings(self) -> Settings:
        """The decision kernel's settings (alpha, retrain coverage, minimum rows)."""
        return Settings.from_policy(self.general)


@dataclass(frozen=True)
class CheckSpec:
    """Declaration of a check.

    ``options`` declares every policy key of the check (it must contain ``required`` and
    ``enabled``, see :func:`audit.core.options.switches`); a policy key that is not
    declared, or a value outside its declaration, is rejected as bad input before any
    check runs. ``defaults`` is derived from the declarations.

    Parameters
    ----------
    id, title : str
        The check's id (its policy section) and title.
    run : callable
        ``run(ctx) -> CheckResult``.
    options : mapping of str to Option
        The declared policy options.
    order : int
        Position in the run (identity first).
    modes : tuple of str
        ``model`` and/or ``method``.
    kind : str
        ``identity``, ``forgetting``, ``harm`` or ``context``.
    power : bool
        Its positive control can give the audit power.
    tasks : tuple of str
        Supported tasks.
    unsupported : str, optional
        Why another task is not supported.

    Examples
    --------
    >>> from audit.core.options import switches
    >>> spec = CheckSpec("demo", "Demo", run=lambda ctx: None, options=switches(False))
    >>> spec.defaults
    {'required': False, 'enabled': True}
    """

    id: str
    title: str
    run: Callable[[CheckContext], CheckResult]
    options: Mapping[str, Option]
    order: int = 100
    # the audit modes the runner runs it in: "model" (run_audit) and / or "method"
    # (run_method_checks, once per method; see audit/checks/method.py)
    modes: tuple[str, ...] = ("model",)
    # "forgetting": its positive control (the original as candidate) is the audit's power;
    # "harm": one-sided, needs no power; "identity" / "context": neither
    kind: str = "context"
    # whether failing the original counts as the audit's power: false where the original is
    # a degenerate candidate (the differencing attack compares O with itself: nothing
    # changed, which any light fine-tune of O escapes)
    power: bool = True
    # the tasks the check supports; on another task's case it is ``skipped`` with the reason,
    # and not required by default (:func:`audit.engine.policy.default_policy`)
    tasks: tuple[str, ...] = ("classification",)
    unsupported: str = ""  # why, in words, when the case's task is not among ``tasks``

    @property
    def defaults(self) -> dict[str, Any]:
        """``{option: default}`` (fresh copies) from the declarations."""
        return defaults_of(self.options)
