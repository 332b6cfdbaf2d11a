"""One extension mechanism: a registry decorator for checks, model adapters and unlearning methods.

Third-party code registers what it adds with :func:`register` when its module is imported;
the engine looks registrations up next to its built-ins (decision record 0011)::

    # mypkg/audit_ext.py
    from audit.core.extensions import register

    @register("method", "my_forget")           # unlearn-audit methods --method my_forget
    def my_forget(model, forget, retain, *, seed, recipe=None): ...

    @register("adapter", "myformat")           # [models] unlearned = {path = "u.bin", format = "myformat"}
    def load_myformat(path, table): ...        # -> an object with predict_logits(X)

    SPEC = register("check")(CheckSpec("my_check", "My check", run=..., options=...))

* a **check** is a :class:`audit.checks.CheckSpec`; it joins :func:`audit.checks.registry`
  (its options join the declared policy as the ``[<id>]`` table, validated up front) and runs
  like a built-in check;
* a **method** follows the protocol of :mod:`audit.lab.methods.user`;
* an **adapter** is ``loader(path, table) -> model`` for the case file's ``format = "<name>"``
  (``table`` is the model's case-file table); the model needs ``predict_logits``.

The module is loaded by importing it: in Python ``import mypkg.audit_ext``, on the command line
``--extension mypkg.audit_ext`` (``run`` and ``methods``), through :func:`load_extensions`,
which applies the one rule of :mod:`audit.core.code_import` (``--allow-code`` outside the standard
library and site-packages). A name a built-in or another extension already uses is refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from audit.shared.errors import BadInput

__all__ = ["KINDS", "BUILTIN_FORMATS", "register", "registered", "unregister", "refuse_builtin_clash",
           "load_extensions"]

KINDS = ("check", "method", "adapter")
_REG: dict[str, dict[str, Any]] = {k: {} for k in KINDS}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
T = TypeVar("T")


#: the model formats :func:`audit.core.adapters.load_model` reads itself (an adapter may not take them)
BUILTIN_FORMATS = ("onnx", "skops", "torch", "torchscript", "pickle")


def refuse_builtin_clash(kind: str, builtins: Any) -> None:
    """Refuse an extension registered under a built-in's name (checked where the built-ins live).

    The registry stays below the checks and the methods: :func:`audit.checks.registry` and
    :func:`audit.lab.methods.user.resolve_methods` call this with their built-in names when
    they merge the extensions in; adapters' built-in formats are refused at :func:`register`.

    Parameters
    ----------
    kind : str
        ``check`` or ``method``.
    builtins : iterable of str
        The built-in names of that kind.

    Raises
    ------
    BadInput
        Naming ``extension``.

    Examples
    --------
    >>> refuse_builtin_clash("method", ["retrain"])
    >>> _ = register("method", "retrain_doc")(lambda model, forget, retain, *, seed: model)
    >>> refuse_builtin_clash("method", ["retrain_doc"])
    Traceback (most recent call last):
    ...
    audit.shared.errors.BadInput: extension: method 'retrain_doc' is already a built-in
    >>> unregister("method", "retrain_doc")
    """
    clash = sorted(set(_REG[kind]) & set(builtins))
    if clash:
        raise BadInput("extension", f"{kind} {clash[0]!r} is already a built-in")


def register(kind: str, name: str | None = None) -> Callable[[T], T]:
    """Decorator registering a check spec, an unlearning method or a model adapter loader.

    Parameters
    ----------
    kind : {"check", "method", "adapter"}
    name : str, optional
        The method's name or the adapter's ``format``; a check is registered under its
        ``SPEC.id``. Lower case ``[a-z0-9_]``, not a built-in's.

    Returns
    -------
    callable
        The decorator; it returns the object it registers unchanged.

    Examples
    --------
    >>> @register("method", "doc_noop")
    ... def doc_noop(model, forget, retain, *, seed):
    ...     return model
    >>> "doc_noop" in registered("method")
    True
    >>> unregister("method", "doc_noop")
    >>> register("adapter", "onnx")(lambda path, table: None)
    Traceback (most recent call last):
    ...
    audit.shared.errors.BadInput: extension: adapter 'onnx' is already a built-in
    """
    if kind not in KINDS:
        raise ValueError(f"unknown extension kind {kind!r}; use one of {KINDS}")

    def add(obj: T) -> T:
        if kind == "check":
            # a CheckSpec (audit.checks.base, a layer above this registry): its id and its run
            if not (isinstance(getattr(obj, "id", None), str) and callable(getattr(obj, "run", None))):
                raise BadInput("extension", f"a check is registered as a CheckSpec, got {type(obj).__name__}")
            key = obj.id
        else:
            if not callable(obj):
                raise BadInput("extension", f"{kind} {name!r} must be callable, got {type(obj).__name__}")
            key = str(name or getattr(obj, "__name__", ""))
        if not _NAME.match(key):
            raise BadInput("extension", f"{kind} name {key!r} must match [a-z][a-z0-9_]*")
        if kind == "adapter" and key in BUILTIN_FORMATS:  # checks and methods: refuse_builtin_clash
            raise BadInput("extension", f"{kind} {key!r} is already a built-in")
        if key in _REG[kind] and _REG[kind][key] is not obj:
            raise BadInput("extension", f"{kind} {key!r} is already registered by another extension")
        _REG[kind][key] = obj
        return obj

    return add


def registered(kind: str) -> dict[str, Any]:
    """``{name: object}`` registered for ``kind`` (a copy).

    Parameters
    ----------
    kind : str
        ``check``, ``method`` or ``adapter``.

    Returns
    -------
    dict

    Examples
    --------
    >>> registered("adapter")
    {}
    """
    return dict(_REG[kind])


def unregister(kind: str, name: str) -> None:
    """Remove a registration (tests, notebooks); unknown names are ignored.

    Parameters
    ----------
    kind, name : str
        What to remove.

    Returns
    -------
    None

    Examples
    --------
    >>> unregister("method", "never_registered") is None
    True
    """
    _REG[kind].pop(name, None)


def load_extensions(modules: list[str], allow_code: bool = False, base_dir: Path | None = None,
                    field: str = "--extension") -> list[dict[str, Any]]:
    """Import extension modules (their decorators register), under the one ``--allow-code`` rule.

    Returns what each module registered, for results.json: ``[{"module", "registered":
    {kind: [names]}}]``.

    Parameters
    ----------
    modules : list of str
        ``package.module`` names.
    allow_code : bool
        Permit modules outside the standard library / site-packages.
    base_dir : Path, optional
        The case directory (searched first).
    field : str
        The option named in errors.

    Returns
    -------
    list of dict

    Examples
    --------
    >>> load_extensions(["json"])
    [{'module': 'json', 'registered': {}}]
    """
    from audit.core.code_import import import_module

    out = []
    for mod in modules:
        before = {k: set(v) for k, v in _REG.items()}
        import_module(mod, field, base_dir=base_dir, allow_code=allow_code)
        new = {k: sorted(set(_REG[k]) - before[k]) for k in KINDS}
        out.append({"module": mod, "registered": {k: v for k, v in new.items() if v}})
    return out
