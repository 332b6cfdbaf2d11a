"""report.pdf opens and carries the verdict (rendered by WeasyPrint from report.html)."""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from reports.pdf import html_to_pdf


def test_pdf_opens_and_contains_verdict(signed_pack: Path) -> None:
    reader = PdfReader(signed_pack / "report.pdf")
    assert len(reader.pages) >= 2
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Verdict:" in text and "FAIL" in text
    assert "District A withdrawal" in text and "REQ-2026-0042" in text
    assert "<script>alert(1)</script>" in text  # a group value is printed as text


def test_pdf_never_fetches_external_resources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "secret.css").write_text("p { color: red }")
    (tmp_path / "pixel.png").write_bytes(b"not fetched")
    html = (f'<link rel="stylesheet" href="{(tmp_path / "secret.css").as_uri()}">'
            f'<p>verdict</p><img src="{(tmp_path / "pixel.png").as_uri()}">'
            '<img src="http://127.0.0.1:9/x.png">')
    opened: list[str] = []
    original = urllib.request.OpenerDirector.open

    def spy(self: Any, url: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(str(getattr(url, "full_url", url)))
        return original(self, url, *args, **kwargs)

    monkeypatch.setattr(urllib.request.OpenerDirector, "open", spy)
    pdf = html_to_pdf(html)
    assert pdf.startswith(b"%PDF-") and opened == []


@pytest.mark.parametrize("verdict", ["PASS", "INCONCLUSIVE"])
def test_pdf_text_follows_html(verdict: str, tmp_path: Path) -> None:
    (tmp_path / "r.pdf").write_bytes(html_to_pdf(f"<h1>Verdict: {verdict}</h1>"))
    assert verdict in PdfReader(tmp_path / "r.pdf").pages[0].extract_text()
