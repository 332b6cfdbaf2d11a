"""verify proves what it can: inputs, manifest keys, user templates, signatures, and says so."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import reports.verify
from audit.cli.app import app
from audit.shared.digest import file_sha256
from reports import verify_pack, write_pack
from reports.manifest import canonical_json
from tests.reports.conftest import write_key
from tests.reports.fixtures import sample_results

runner = CliRunner()


def pack_with_inputs(tmp_path: Path, **kwargs: object) -> Path:
    """A pack whose manifest records two input files (a data table and a model)."""
    (tmp_path / "data.csv").write_text("x,label,split\n1,0,forget\n")
    (tmp_path / "model.onnx").write_bytes(b"\x08\x01model")
    inputs = {"data": tmp_path / "data.csv", "model:original": tmp_path / "model.onnx"}
    return write_pack(sample_results(), tmp_path / "pack", inputs=inputs, pdf=False, **kwargs)


def _rehash(pack: Path) -> None:
    """What a forger without the key does after an edit: recompute every digest."""
    manifest = json.loads((pack / "manifest.json").read_text())
    for name, entry in manifest["outputs"].items():
        entry.update(sha256=file_sha256(pack / name), size=(pack / name).stat().st_size)
    (pack / "manifest.json").write_text(canonical_json(manifest))


def test_an_edited_input_entry_no_longer_matches_the_attestation(tmp_path: Path) -> None:
    pack = pack_with_inputs(tmp_path)
    manifest = json.loads((pack / "manifest.json").read_text())
    manifest["inputs"]["data"]["size"] += 1
    (pack / "manifest.json").write_text(canonical_json(manifest))
    assert verify_pack(pack) == [
        "attestation.intoto.json: does not match results.json (or the manifest's inputs)"]


def test_user_templates_ship_in_the_pack_and_their_views_are_checked(tmp_path: Path) -> None:
    t = tmp_path / "t"
    t.mkdir()
    (t / "report.md.j2").write_text("verdict {{ r.verdict }}\n")
    pack = write_pack(sample_results(), tmp_path / "pack", template_dir=t, pdf=False)
    shutil.rmtree(t)  # the user's directory is gone: the pack still re-renders itself
    assert verify_pack(pack) == []
    (pack / "report.md").write_text("verdict pass\n")
    _rehash(pack)
    assert verify_pack(pack) == ["report.md: does not match results.json"]
    (pack / "templates" / "report.md.j2").write_text("verdict pass\n")
    _rehash(pack)
    assert verify_pack(pack) == ["manifest.json: the shipped templates do not match their recorded digest"]


def test_built_in_templates_of_another_version_are_reported(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    pack = write_pack(sample_results(), tmp_path / "pack", pdf=False)
    monkeypatch.setattr(reports.verify, "builtin_templates_digest", lambda: "0" * 64)
    assert any("cannot re-render the views" in p for p in verify_pack(pack))


def test_signed_results_and_attestation_rewritten_to_pass_fail(tmp_path: Path) -> None:
    key = write_key(tmp_path / "k.pem")
    pack = write_pack(sample_results("fail"), tmp_path / "pack", sign_key=key, pdf=False)
    forged = write_pack(sample_results("pass"), tmp_path / "forged", pdf=False)
    for name in ("results.json", "attestation.intoto.json", "report.html", "report.md", "junit.xml"):
        shutil.copy(forged / name, pack / name)
    _rehash(pack)
    assert verify_pack(pack) == ["manifest.sig: signature does not match manifest.json"]
    # ... and stripping the signature leaves an unsigned pack, which a gate can refuse
    manifest = json.loads((pack / "manifest.json").read_text())
    manifest["signature"] = None
    (pack / "manifest.json").write_text(canonical_json(manifest))
    (pack / "manifest.sig").unlink()
    assert verify_pack(pack) == []
    assert verify_pack(pack, require_signature=True) == [
        "manifest.json: not signed, but a signature is required"]


def test_cli_says_what_verify_proved(tmp_path: Path) -> None:
    unsigned = write_pack(sample_results(), tmp_path / "unsigned", pdf=False)
    res = runner.invoke(app, ["verify", str(unsigned)])
    assert res.exit_code == 0 and "unsigned: integrity, not authenticity" in res.stderr
    res = runner.invoke(app, ["verify", str(unsigned), "--require-signature"])
    assert res.exit_code == 1 and "signature is required" in res.stderr
    signed = write_pack(sample_results(), tmp_path / "signed", pdf=False, sign_key=write_key(tmp_path / "k"))
    res = runner.invoke(app, ["verify", str(signed), "--require-signature"])
    assert res.exit_code == 0 and "not pinned" in res.stderr
    public = json.loads((signed / "manifest.json").read_text())["signature"]["public_key"]
    res = runner.invoke(app, ["verify", str(signed), "--public-key", public])
    assert res.exit_code == 0 and "integrity and authenticity" in json.loads(res.stdout)["trust"]


def test_unknown_manifest_keys_and_stray_directories_are_problems(tmp_path: Path) -> None:
    pack = write_pack(sample_results(), tmp_path / "pack", pdf=False)
    manifest = json.loads((pack / "manifest.json").read_text())
    manifest["note"] = "trust me"
    (pack / "manifest.json").write_text(canonical_json(manifest))
    assert verify_pack(pack)[0].startswith("manifest.json invalid at <root>")
    del manifest["note"]
    (pack / "manifest.json").write_text(canonical_json(manifest))
    (pack / "extra").mkdir()
    assert verify_pack(pack) == ["pack holds a symlink, a special file or an unexpected directory"]
