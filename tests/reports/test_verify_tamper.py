"""verify_pack detects any change: a flipped byte in every file, added or removed files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reports import verify_pack, write_pack
from reports.manifest import canonical_json
from tests.reports.fixtures import sample_results


def _copy(pack: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "copy"
    shutil.copytree(pack, dest)
    return dest


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset % len(data)] ^= 0x01
    path.write_bytes(bytes(data))


def test_intact_pack_verifies(signed_pack: Path) -> None:
    assert verify_pack(signed_pack) == []
    assert {p.name for p in signed_pack.iterdir()} == {
        "results.json", "report.html", "report.md", "report.pdf", "junit.xml",
        "attestation.intoto.json", "manifest.json", "manifest.sig"}


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_a_flipped_byte_in_every_file_is_detected(signed_pack: Path, tmp_path: Path, where: str) -> None:
    names = sorted(p.name for p in signed_pack.iterdir())
    assert len(names) == 8
    for name in names:
        pack = _copy(signed_pack, tmp_path / name)
        size = (pack / name).stat().st_size
        _flip(pack / name, {"first": 0, "middle": size // 2, "last": size - 1}[where])
        problems = verify_pack(pack)
        assert problems, f"flipping the {where} byte of {name} went unnoticed"


def test_every_byte_of_the_signature_and_manifest_matters(signed_pack: Path, tmp_path: Path) -> None:
    pack = _copy(signed_pack, tmp_path)
    for name in ("manifest.sig", "manifest.json"):
        original = (pack / name).read_bytes()
        for offset in range(0, len(original), max(1, len(original) // 29)):
            _flip(pack / name, offset)
            assert verify_pack(pack), (name, offset)
            (pack / name).write_bytes(original)
        assert verify_pack(pack) == []


def test_consistent_rewrite_of_an_unsigned_pack_is_caught_by_content_checks(tmp_path: Path) -> None:
    """Re-hashing after editing results.json still fails: the views no longer match it."""
    pack = write_pack(sample_results(), tmp_path / "pack", pdf=False)
    results = json.loads((pack / "results.json").read_text())
    results["verdict"] = "pass"
    (pack / "results.json").write_text(canonical_json(results))
    manifest = json.loads((pack / "manifest.json").read_text())
    from audit.shared.digest import file_sha256

    for name, entry in manifest["outputs"].items():
        entry.update(sha256=file_sha256(pack / name), size=(pack / name).stat().st_size)
    (pack / "manifest.json").write_text(canonical_json(manifest))
    problems = verify_pack(pack)
    assert "attestation.intoto.json: does not match results.json (or the manifest's inputs)" in problems
    assert "report.html: does not match results.json" in problems


def test_added_and_removed_files_are_detected(signed_pack: Path, tmp_path: Path) -> None:
    pack = _copy(signed_pack, tmp_path / "added")
    (pack / "extra.txt").write_text("hello")
    assert verify_pack(pack) == ["extra.txt: not listed in manifest.json"]
    for name in ("report.pdf", "manifest.sig", "results.json"):
        pack = _copy(signed_pack, tmp_path / f"removed-{name}")
        (pack / name).unlink()
        assert verify_pack(pack), name


def test_schema_violation_is_reported(tmp_path: Path) -> None:
    pack = write_pack(sample_results(), tmp_path / "pack", pdf=False)
    results = json.loads((pack / "results.json").read_text())
    results["checks"][0]["status"] = "great"
    (pack / "results.json").write_text(canonical_json(results))
    assert any("results.json invalid at checks/0/status" in p for p in verify_pack(pack))
