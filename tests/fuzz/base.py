"""The one small valid case (and packs) every hostile input is derived from."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import TINY_CASE_TOML, write_tiny_case

__all__ = ["Base", "build_base", "CASE_TOML", "edit_toml", "append_toml", "copy_tree"]

CASE_TOML = TINY_CASE_TOML  # the tiny case of tests/conftest.py, which every input mutates


@dataclass(frozen=True)
class Base:
    """Read-only originals: copy them, never mutate them in place.

    Attributes
    ----------
    case : Path
        Directory of the valid tiny case (``case.toml``, ``data.csv``, four ``.skops``).
    key : Path
        Ed25519 private key (PEM) the signed pack was signed with.
    packs : dict of str to Path
        ``"signed"``, ``"unsigned"`` and ``"user"`` (user templates) evidence packs.
    templates : Path
        A user template directory (``report.md.j2``).
    models : Path
        Hostile model and data files (:func:`tests.fuzz.artifacts.build_models`).
    """

    case: Path
    key: Path
    packs: dict[str, Path]
    templates: Path
    models: Path


def build_base(root: Path) -> Base:
    """Write the tiny case, a signing key and three small packs under ``root``.

    The packs come from the hand-built results of the report tests (fast: no audit
    runs), with the case's files recorded as inputs.

    Examples
    --------
    >>> import tempfile
    >>> base = build_base(Path(tempfile.mkdtemp()))           # doctest: +SKIP
    >>> sorted(base.packs)                                      # doctest: +SKIP
    ['signed', 'unsigned', 'user']
    """
    from reports import write_pack
    from tests.fuzz.artifacts import build_models
    from tests.reports.conftest import write_key
    from tests.reports.fixtures import sample_results

    case = root / "case"
    case.mkdir(parents=True)
    write_tiny_case(case)
    key = write_key(root / "signing.pem")
    templates = root / "templates"
    templates.mkdir()
    (templates / "report.md.j2").write_text("# {{ r.case.name }}: {{ r.verdict }}\n")
    inputs = {"data": case / "data.csv", "model:original": case / "original.skops"}
    results = sample_results("fail")  # one check only: small packs keep every-byte flips affordable
    results["checks"] = [c for c in results["checks"] if c["id"] == "parameter_distance"]
    packs = {
        "signed": write_pack(results, root / "packs" / "signed", inputs=inputs, sign_key=key),
        "unsigned": write_pack(results, root / "packs" / "unsigned", inputs=inputs),
        "user": write_pack(results, root / "packs" / "user", inputs=inputs, template_dir=templates),
    }
    return Base(case=case, key=key, packs=packs, templates=templates,
                models=build_models(root / "models"))


def edit_toml(d: Path, old: str, new: str) -> None:
    """Replace ``old`` (which must occur) by ``new`` in ``d/case.toml``."""
    p = d / "case.toml"
    text = p.read_text()
    if old not in text:
        raise ValueError(f"{old!r} not in case.toml")
    p.write_text(text.replace(old, new, 1))


def append_toml(d: Path, text: str) -> None:
    """Append ``text`` to ``d/case.toml``."""
    p = d / "case.toml"
    p.write_text(p.read_text() + "\n" + text)


def copy_tree(src: Path, dest: Path) -> Path:
    """Copy a directory (symlinks kept as links); return ``dest``."""
    shutil.copytree(src, dest, symlinks=True)
    return dest
