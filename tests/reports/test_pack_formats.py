"""``write_pack(formats=...)``: only the views asked for are written, listed and verified."""

from __future__ import annotations

import json

import pytest

from audit.shared.errors import BadInput
from reports import verify_pack, write_pack
from reports.pack import FORMATS
from tests.reports.fixtures import sample_results


def _listed(pack) -> set[str]:
    return set(json.loads((pack / "manifest.json").read_text())["outputs"])


def test_pack_without_pdf_lists_no_pdf_and_verifies(tmp_path):
    pack = write_pack(sample_results(), tmp_path / "pack", formats=["json", "html", "md", "junit"])
    assert not (pack / "report.pdf").exists()
    assert "report.pdf" not in _listed(pack)
    assert {"report.html", "report.md", "junit.xml"} <= _listed(pack)
    assert verify_pack(pack) == []


def test_json_only_pack_has_results_and_attestation_and_verifies(tmp_path):
    pack = write_pack(sample_results(), tmp_path / "pack", formats=["md"])
    names = {p.name for p in pack.iterdir()}
    assert names == {"results.json", "report.md", "attestation.intoto.json", "manifest.json"}
    assert _listed(pack) == names - {"manifest.json"}
    assert verify_pack(pack) == []


def test_pdf_without_html_renders_the_pdf_only(tmp_path):
    pack = write_pack(sample_results(), tmp_path / "pack", formats=["pdf"])
    assert (pack / "report.pdf").read_bytes()[:5] == b"%PDF-"
    assert not (pack / "report.html").exists()
    assert verify_pack(pack) == []


def test_an_unlisted_view_added_later_is_flagged(tmp_path):
    pack = write_pack(sample_results(), tmp_path / "pack", formats=["json"])
    (pack / "report.html").write_text("<p>pass</p>")
    assert "report.html: not listed in manifest.json" in verify_pack(pack)


def test_unknown_format_is_bad_input_and_writes_nothing(tmp_path):
    with pytest.raises(BadInput) as exc:
        write_pack(sample_results(), tmp_path / "pack", formats=["json", "docx"])
    assert exc.value.field == "formats" and "docx" in exc.value.message
    assert not (tmp_path / "pack").exists() and list(tmp_path.iterdir()) == []


def test_formats_name_every_view():
    assert set(FORMATS.values()) == {"results.json", "report.html", "report.md", "junit.xml", "report.pdf"}
