"""The user's own unlearning method: ``--method mypkg.unlearn:forget`` next to the built-ins.

**Protocol** (one for every user method)::

    def forget(model, forget, retain, *, seed, recipe=None):
        '''Return a model with ``predict_logits(X) -> [n, classes]`` that has forgotten ``forget``.'''

* ``model`` — the original, trained by the method audit's recipe on forget + retain
  (a private copy: changing it in place is harmless);
* ``forget``, ``retain`` — ``(X, y)`` pairs, ``X`` float32 ``[n, features]`` (the planted
  column last), ``y`` int64 class indices;
* ``seed`` — keyword-only, an integer: the method must be deterministic given it;
* ``recipe`` — optional keyword: the :class:`audit.training.recipes.Recipe` (``recipe.fit(X, y,
  n_classes, seed)``), passed only when the function accepts it.

A spec that is not a built-in name is ``"package.module:function"``, imported through
:func:`audit.core.code_import.import_object` (the one home of the rule): a module outside the
standard library and site-packages runs only with ``--allow-code``. A bad path, an object
that is not callable or a signature that cannot take the protocol's arguments is bad
input naming ``--method`` before any training starts.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit.core.code_import import import_object
from audit.core.extensions import refuse_builtin_clash, registered
from audit.lab.methods import METHODS
from audit.shared.errors import BadInput

__all__ = ["MethodSpec", "resolve_methods", "split_specs"]

FIELD = "--method"


@dataclass(frozen=True)
class MethodSpec:
    """A method to audit: its name, the callable in the built-ins' convention, where it came from.

    ``fn(model, forget, retain, recipe, seed)`` is the built-ins' calling convention
    (:mod:`audit.lab.methods.base`); a user callable is wrapped into it.

    Parameters
    ----------
    name : str
        The method's name in the audit.
    fn : callable
        The method in the built-ins' convention.
    source : str
        ``builtin``, ``extension`` or ``user``.
    import_path : str, optional
        ``pkg.mod:function`` of a user's method.
    """

    name: str
    fn: Callable[..., Any]
    source: str  # "built-in" | "import" | "extension"
    import_path: str | None = None

    @property
    def key(self) -> str:
        """The method's id in results.json (``method_<key>``): lower case, ``[a-z0-9_]``.

        >>> MethodSpec("mypkg.unlearn:Forget", print, "import", "mypkg.unlearn:Forget").key
        'mypkg_unlearn_forget'
        """
        return re.sub(r"[^a-z0-9_]", "_", self.name.lower())

    def record(self) -> dict[str, Any]:
        """Its results.json entry.

        Returns
        -------
        dict
            ``name``, ``source``, ``import_path`` and ``check_id``.

        Examples
        --------
        >>> resolve_methods(["noop"])[0].record()
        {'name': 'noop', 'source': 'built-in', 'import_path': None, 'check_id': 'method_noop'}
        """
        return {"name": self.name, "source": self.source, "import_path": self.import_path,
                "check_id": f"method_{self.key}"}


def split_specs(values: list[str]) -> list[str]:
    """Flatten repeated / comma-separated ``--method`` values, keeping order, dropping blanks.

    Parameters
    ----------
    values : list of str
        The ``--method`` values.

    Returns
    -------
    list of str

    Examples
    --------
    >>> split_specs(["retrain,noop", " ", "sisa"])
    ['retrain', 'noop', 'sisa']

    >>> split_specs(["retrain,noop", " pkg.mod:fn ", "noop"])
    ['retrain', 'noop', 'pkg.mod:fn']
    """
    out: list[str] = []
    for v in values:
        for s in v.split(","):
            if s.strip() and s.strip() not in out:
                out.append(s.strip())
    return out


def _check_signature(fn: Any, spec: str) -> bool:
    """Whether ``fn`` takes ``(model, forget, retain, *, seed)``; returns whether it takes ``recipe``."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise BadInput(FIELD, f"{spec!r}: cannot read its signature ({exc})") from exc
    takes_recipe = "recipe" in sig.parameters or any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    try:
        sig.bind(None, None, None, seed=0, **({"recipe": None} if takes_recipe else {}))
    except TypeError as exc:
        raise BadInput(FIELD, f"{spec!r} must take (model, forget, retain, *, seed[, recipe]): {exc}") from exc
    return takes_recipe


def _wrap(fn: Callable[..., Any], spec: str, takes_recipe: bool) -> Callable[..., Any]:
    def call(model: Any, forget: Any, retain: Any, recipe: Any, seed: int) -> Any:
        out = fn(model, forget, retain, seed=seed, **({"recipe": recipe} if takes_recipe else {}))
        if not callable(getattr(out, "predict_logits", None)):
            raise BadInput(FIELD, f"{spec!r} returned {type(out).__name__}, which has no predict_logits(X)")
        return out

    call.__name__ = getattr(fn, "__name__", "user_method")
    return call


def resolve_methods(specs: list[str | MethodSpec], allow_code: bool = False,
                    base_dir: Path | None = None) -> list[MethodSpec]:
    """Built-in names and ``package.module:function`` specs, checked before any work.

    Parameters
    ----------
    specs : list of str or MethodSpec
        Method names (:data:`audit.lab.methods.METHODS`) or import paths (a :class:`MethodSpec`
        already resolved is kept as is).
    allow_code : bool
        ``--allow-code``: a module outside the standard library and site-packages may be
        imported (its top-level code runs).
    base_dir : Path, optional
        The case file's directory, searched first for a module (which then needs
        ``--allow-code``).

    Returns
    -------
    list of MethodSpec

    Examples
    --------
    >>> [m.source for m in resolve_methods(["retrain", "noop"])]
    ['built-in', 'built-in']
    >>> resolve_methods(["json:dumps"])
    Traceback (most recent call last):
    ...
    audit.shared.errors.BadInput: --method: 'json:dumps' must take (model, forget, retain, *, seed[, recipe]): too many positional arguments
    >>> resolve_methods(["nope"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    audit.shared.errors.BadInput: --method: unknown method 'nope'; built-ins: fedavg_recover, ..., or give 'package.module:function'
    """
    refuse_builtin_clash("method", METHODS)
    out: list[MethodSpec] = []
    for spec in specs:
        if isinstance(spec, MethodSpec):
            out.append(spec)
            continue
        if spec in METHODS:
            out.append(MethodSpec(spec, METHODS[spec], "built-in"))
            continue
        ext = registered("method").get(spec)
        if ext is not None:  # registered by an extension (audit.core.extensions.register)
            out.append(MethodSpec(spec, _wrap(ext, spec, _check_signature(ext, spec)), "extension"))
            continue
        if ":" not in spec:
            raise BadInput(FIELD, f"unknown method {spec!r}; built-ins: {', '.join(sorted(METHODS))}, "
                           "or give 'package.module:function'")
        fn = import_object(spec, FIELD, base_dir=base_dir, allow_code=allow_code)
        if not callable(fn) or inspect.isclass(fn):
            raise BadInput(FIELD, f"{spec!r} is a {type(fn).__name__}, not a function")
        out.append(MethodSpec(spec, _wrap(fn, spec, _check_signature(fn, spec)), "import", spec))
    if not out:
        raise BadInput(FIELD, "need at least one method")
    keys = [m.key for m in out]
    clash = sorted({m.name for m in out if keys.count(m.key) > 1})
    if clash:
        raise BadInput(FIELD, f"methods {clash} would share one results id (method_<name> with "
                       "every character outside a-z, 0-9 and _ replaced by _)")
    return out
