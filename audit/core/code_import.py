"""Importing code a case file names (``architecture = "pkg.mod:Class"``) — only when asked.

Importing a module runs its top-level code, so where a module comes from decides whether
it may be imported without ``--allow-code``:

* the Python standard library, site-packages and this project's own packages are already
  trusted by whoever installed them: importable without the flag;
* a module in the **case file's directory** is code that came with the case (as untrusted
  as a pickle): it needs ``--allow-code``; it is looked up there *first*, and imported with
  the case directory on ``sys.path`` only for the duration of the import, its entries in
  ``sys.modules`` removed afterwards, so another case's module of the same name is never
  reused;
* anything else (the working directory, ``PYTHONPATH``, an editable install elsewhere)
  needs ``--allow-code``.

The module's *origin* is found with ``importlib`` finders, which read no module code.
What is imported must then be what the caller needs (for ``architecture``: a
``torch.nn.Module`` subclass, checked before it is called).
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import site
import sys
import sysconfig
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from audit.shared.errors import BadInput

__all__ = ["import_object", "import_module", "module_origin", "trusted_roots"]


@cache
def trusted_roots() -> tuple[Path, ...]:
    """Directories whose modules are importable without ``--allow-code``.

    The standard library, every site-packages directory and the parent directory of
    this project's packages (``audit``, ``attacks``, ``reports``).

    >>> any((Path(sysconfig.get_paths()["stdlib"]).resolve() == r) for r in trusted_roots())
    True
    """
    paths = sysconfig.get_paths()
    roots = [paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths]
    roots += list(site.getsitepackages()) + [site.getusersitepackages()]
    return tuple(dict.fromkeys(Path(r).resolve() for r in roots))


def _own_package_dirs() -> tuple[Path, ...]:
    here = Path(__file__).resolve().parents[2]  # audit/core/code_import.py → the project root
    return tuple(here / name for name in ("audit", "attacks", "reports"))


def _spec_location(spec: importlib.machinery.ModuleSpec) -> Path | None:
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations))).resolve()
    if spec.origin and spec.has_location:
        return Path(spec.origin).resolve()
    return None


def module_origin(module: str, base_dir: Path | None) -> tuple[str, Path | None]:
    """Where the top-level package of ``module`` would be imported from, without running it.

    Returns ``(kind, path)`` with kind ``"case"`` (the case directory), ``"trusted"``
    (stdlib, site-packages, built-in, this project), ``"other"`` or ``"missing"``.

    Parameters
    ----------
    module : str
        ``package.module``.
    base_dir : Path or None
        The case directory (searched first).

    Returns
    -------
    kind : str
    path : Path or None

    Examples
    --------
    >>> module_origin("json.decoder", None)[0], module_origin("audit.training.recipes", None)[0]
    ('trusted', 'trusted')
    >>> module_origin("no_such_module_xyz", None)
    ('missing', None)
    """
    top = module.split(".")[0]
    if base_dir is not None:
        local = importlib.machinery.PathFinder.find_spec(top, [str(base_dir)])
        if local is not None:
            return "case", _spec_location(local)
    if top in sys.builtin_module_names:
        return "trusted", None
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        return "missing", None
    where = _spec_location(spec)
    if where is None:  # frozen or built-in
        return "trusted", None
    if any(where == d or d in where.parents for d in _own_package_dirs()):
        return "trusted", where
    if any(r in where.parents for r in trusted_roots()):
        return "trusted", where
    return "other", where


@contextmanager
def _scoped_case_import(base_dir: Path, top: str) -> Iterator[None]:
    """Import with ``base_dir`` first on ``sys.path``; restore ``sys.path`` and ``sys.modules``."""
    mine = [k for k in sys.modules if k == top or k.startswith(top + ".")]
    saved = {k: sys.modules.pop(k) for k in mine}
    sys.path.insert(0, str(base_dir))
    try:
        yield
    finally:
        sys.path.remove(str(base_dir))
        for k in [k for k in sys.modules if k == top or k.startswith(top + ".")]:
            del sys.modules[k]
        sys.modules.update(saved)


def _import(mod_name: str, label: str, field: str, base_dir: Path | None, allow_code: bool) -> Any:
    """Import ``mod_name`` under the rule above; messages name ``label`` and ``field``."""
    kind, where = module_origin(mod_name, base_dir)
    if kind == "missing":
        raise BadInput(field, f"cannot import {label!r}: no module named {mod_name.split('.')[0]!r}")
    if kind in ("case", "other") and not allow_code:
        place = "in the case directory" if kind == "case" else "outside the installed packages"
        raise BadInput(field, f"{mod_name!r} is code {place} ({where}); importing it runs it — "
                       "pass --allow-code to trust it")
    try:
        if kind == "case" and base_dir is not None:
            with _scoped_case_import(base_dir, mod_name.split(".")[0]):
                return importlib.import_module(mod_name)
        return importlib.import_module(mod_name)
    except ImportError as exc:
        raise BadInput(field, f"cannot import {label!r}: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - the module's own code failed while importing
        raise BadInput(field, f"importing {mod_name!r} failed: {type(exc).__name__}: {exc}") from exc


def import_module(module: str, field: str, base_dir: Path | None = None, allow_code: bool = False) -> Any:
    """Import the module ``"package.module"`` (an extension), under the same rule as :func:`import_object`.

    Parameters
    ----------
    module : str
        ``package.module``.
    field : str
        The option named in errors.
    base_dir : Path, optional
        The case directory.
    allow_code : bool
        Permit modules outside the standard library / site-packages.

    Returns
    -------
    module

    Examples
    --------
    >>> import_module("json", "--extension").__name__
    'json'
    >>> import_module("json:dumps", "--extension")
    Traceback (most recent call last):
    ...
    audit.shared.errors.BadInput: --extension: expected 'package.module', got 'json:dumps'
    """
    if not isinstance(module, str) or not module or not all(p.isidentifier() for p in module.split(".")):
        raise BadInput(field, f"expected 'package.module', got {module!r}")
    return _import(module, module, field, base_dir, allow_code)


def import_object(spec: str, field: str, base_dir: Path | None = None, allow_code: bool = False) -> Any:
    """Import ``"pkg.module:Name"`` for a case file, refusing untrusted code without ``allow_code``.

    Parameters
    ----------
    spec : str
        ``"package.module:Name"``.
    field : str
        Named in every error, e.g. ``"models.original.architecture"``.
    base_dir : Path, optional
        The case file's directory, searched first.
    allow_code : bool
        ``--allow-code``: modules from the case directory or outside installed packages
        may be imported (their top-level code runs).

    Returns
    -------
    object
        The named attribute of the imported module.

    Examples
    --------
    >>> import_object("audit.training.recipes:MLP", "models.x.architecture").__name__
    'MLP'
    >>> import_object("audit.training.recipes", "models.x.architecture")
    Traceback (most recent call last):
    ...
    audit.shared.errors.BadInput: models.x.architecture: expected 'package.module:Name', got 'audit.training.recipes'
    """
    if not isinstance(spec, str):
        raise BadInput(field, f"expected 'package.module:Name', got {spec!r}")
    mod_name, sep, attr = spec.partition(":")
    if not sep or not mod_name or not attr.isidentifier() or not all(
            p.isidentifier() for p in mod_name.split(".")):
        raise BadInput(field, f"expected 'package.module:Name', got {spec!r}")
    module = _import(mod_name, spec, field, base_dir, allow_code)
    try:
        return getattr(module, attr)
    except AttributeError as exc:
        raise BadInput(field, f"cannot import {spec!r}: {exc}") from exc
