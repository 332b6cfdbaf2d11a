"""Built-in scenarios, written to disk as ordinary case files."""

from __future__ import annotations

import importlib
import shutil
from collections.abc import Callable
from pathlib import Path

from audit.shared.errors import BadInput

__all__ = ["SCENARIOS", "build_scenario"]

# name -> "module:function"; each function is build(out_dir: Path, seed: int) -> case.toml path
SCENARIOS: dict[str, str] = {
    "digits": "audit.scenarios.digits:build_digits",
    "accent": "audit.scenarios.accent:build_accent",
    "cv-ranking": "audit.scenarios.cv_ranking:build_cv_ranking",
    "stream": "audit.scenarios.stream:build_stream",
    "bios": "audit.scenarios.bios:build_bios",
}


def _builder(name: str) -> Callable[..., Path]:
    if name not in SCENARIOS:
        raise BadInput("scenario", f"unknown scenario {name!r}; available: {sorted(SCENARIOS)}")
    mod, _, fn = SCENARIOS[name].partition(":")
    try:
        return getattr(importlib.import_module(mod), fn)
    except (ImportError, AttributeError) as exc:
        raise BadInput("scenario", f"scenario {name!r} is not available in this build: {exc}") from exc


def build_scenario(name: str, out_dir: str | Path, seed: int = 0) -> Path:
    """Write scenario ``name`` into ``out_dir`` and return the path of its ``case.toml``.

    Parameters
    ----------
    name : str
        ``digits``, ``accent`` or ``cv-ranking``.
    out_dir : str or Path
        Where the case is written.
    seed : int
        The scenario's seed.

    Returns
    -------
    Path
        The case file.

    Examples
    --------
    >>> import tempfile
    >>> p = build_scenario("digits", tempfile.mkdtemp())   # doctest: +SKIP
    """
    builder = _builder(name)  # an unknown name fails before anything is created
    out = Path(out_dir)
    created = [p for p in (out, *out.parents) if not p.exists()]
    out.mkdir(parents=True, exist_ok=True)
    try:
        return builder(out, seed=seed)
    except BaseException:
        if created:  # leave nothing behind: the directories this call made, with their contents
            shutil.rmtree(created[-1], ignore_errors=True)
        raise
