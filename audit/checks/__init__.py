"""Check registry: every module in this package that defines ``SPEC`` is a check; extensions
add theirs with :func:`audit.core.extensions.register` (``register("check")(SPEC)``)."""

from __future__ import annotations

import importlib
import pkgutil

from audit.checks.base import CheckContext, CheckSpec
from audit.shared.errors import BadInput

__all__ = ["CheckContext", "CheckSpec", "registry", "builtin_registry"]

_REGISTRY: dict[str, CheckSpec] | None = None


def registry() -> dict[str, CheckSpec]:
    """Return ``{check_id: CheckSpec}`` in run order: the built-ins and registered extensions.

    Returns
    -------
    dict of str to CheckSpec

    Examples
    --------
    >>> "utility" in registry()
    True
    """
    from audit.core.extensions import refuse_builtin_clash, registered

    extra = registered("check")
    if not extra:
        return builtin_registry()
    refuse_builtin_clash("check", builtin_registry())
    odd = sorted(name for name, spec in extra.items() if not isinstance(spec, CheckSpec))
    if odd:
        raise BadInput("extension", f"check {odd[0]!r} is registered as a {type(extra[odd[0]]).__name__}, "
                       "not a CheckSpec")
    found = sorted([*builtin_registry().values(), *extra.values()], key=lambda s: (s.order, s.id))
    return {s.id: s for s in found}


def builtin_registry() -> dict[str, CheckSpec]:
    """The built-in checks: ``{check_id: CheckSpec}`` in run order (discovered once, then cached).

    Returns
    -------
    dict of str to CheckSpec
    """
    global _REGISTRY
    if _REGISTRY is None:
        found: list[CheckSpec] = []
        for info in pkgutil.iter_modules(__path__):
            if info.ispkg or info.name.startswith("_") or info.name == "base":
                continue
            mod = importlib.import_module(f"{__name__}.{info.name}")
            spec = getattr(mod, "SPEC", None)
            if isinstance(spec, CheckSpec):
                found.append(spec)
        found.sort(key=lambda s: (s.order, s.id))
        _REGISTRY = {s.id: s for s in found}
    return _REGISTRY
