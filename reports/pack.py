"""The evidence pack: written to a temporary directory, then renamed into place."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reports.render import render_html
from reports.schema import validate_results

__all__ = ["write_pack", "dump_results", "sha256_file", "verify_pack"]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def dump_results(results: dict[str, Any]) -> str:
    """Canonical text of results.json (sorted keys, 2-space indent, trailing newline)."""
    return json.dumps(results, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def write_pack(
    results: dict[str, Any],
    out_dir: str | os.PathLike[str],
    *,
    inputs: Mapping[str, str | os.PathLike[str]] | None = None,
    sign_key: str | os.PathLike[str] | None = None,
    template_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Validate ``results`` and write the evidence pack atomically to ``out_dir``.

    An existing ``out_dir`` is replaced only if it is empty or a previous pack
    (contains ``manifest.json``); otherwise :class:`FileExistsError` is raised.
    """
    if sign_key is not None or template_dir is not None:
        raise NotImplementedError("signing and user templates arrive with the reports issue")
    validate_results(results)
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not (out / "manifest.json").exists():
        raise FileExistsError(f"{out} exists and is not an evidence pack; refusing to overwrite")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        (tmp / "results.json").write_text(dump_results(results), encoding="utf-8")
        (tmp / "report.html").write_text(render_html(results), encoding="utf-8")
        manifest = {
            "inputs": {
                k: {"path": Path(p).name, "sha256": sha256_file(Path(p)), "size": Path(p).stat().st_size}
                for k, p in sorted((inputs or {}).items())
            },
            "outputs": {
                f.name: {"sha256": sha256_file(f), "size": f.stat().st_size}
                for f in sorted(tmp.iterdir())
            },
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.replace(out, old / "pack")
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def verify_pack(pack_dir: str | os.PathLike[str]) -> list[str]:
    """Recompute every output hash listed in manifest.json; return the problems found."""
    d = Path(pack_dir)
    try:
        manifest = json.loads((d / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError) as exc:
        return [f"manifest.json unreadable: {exc}"]
    problems = []
    for name, entry in sorted(manifest.get("outputs", {}).items()):
        f = d / name
        if not f.is_file():
            problems.append(f"{name}: missing")
        elif sha256_file(f) != entry.get("sha256"):
            problems.append(f"{name}: sha256 mismatch")
    return problems
