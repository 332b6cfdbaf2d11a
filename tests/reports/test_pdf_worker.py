"""report.pdf renders in a worker process while the rest of the pack is written; the pack stays atomic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pypdf import PdfReader

import reports.pack
from reports import verify_pack, write_pack
from reports.pdf import PdfJob
from tests.reports.fixtures import sample_results


def test_the_builtin_renderer_runs_in_a_worker_process(tmp_path: Path) -> None:
    job = PdfJob("<h1>Verdict: PASS</h1>", tmp_path / "r.pdf")
    assert not job.in_process
    job.wait()
    assert "PASS" in PdfReader(tmp_path / "r.pdf").pages[0].extract_text()


def test_a_failing_renderer_raises_in_the_caller(tmp_path: Path) -> None:
    def boom(html: str) -> bytes:
        raise RuntimeError("no fonts")

    job = PdfJob("<p>x</p>", tmp_path / "r.pdf", render=boom)
    assert job.in_process
    with pytest.raises(RuntimeError, match="no fonts"):
        job.wait()
    assert not (tmp_path / "r.pdf").exists()


def test_cancel_stops_the_worker_and_writes_nothing(tmp_path: Path) -> None:
    big = "<table>" + "".join(f"<tr><td>{i}</td><td>row {i}</td></tr>" for i in range(20_000)) + "</table>"
    job = PdfJob(big, tmp_path / "r.pdf")
    proc = job._proc
    job.cancel()
    assert proc is not None and proc.poll() is not None  # ended
    assert not (tmp_path / "r.pdf").exists()
    job.cancel()  # idempotent


def test_other_files_are_written_while_the_pdf_renders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, list[str]] = {}
    real = reports.pack.PdfJob

    class Spy(real):  # type: ignore[misc, valid-type]
        def __init__(self, html: str, path: Path, render=None) -> None:  # noqa: ANN001
            seen["at_start"] = sorted(p.name for p in Path(path).parent.iterdir())
            super().__init__(html, path)  # the real worker process

        def wait(self) -> None:
            seen["at_wait"] = sorted(p.name for p in self.path.parent.iterdir())
            super().wait()

    monkeypatch.setattr(reports.pack, "PdfJob", Spy)
    out = write_pack(sample_results(), tmp_path / "pack")
    assert "report.md" not in seen["at_start"] and "junit.xml" not in seen["at_start"]
    assert {"report.md", "junit.xml", "attestation.intoto.json"} <= set(seen["at_wait"])
    assert "manifest.json" not in seen["at_wait"]  # the manifest waits for the PDF
    manifest = json.loads((out / "manifest.json").read_text())
    assert "report.pdf" in json.dumps(manifest) and not any(p.name.endswith(".part") for p in out.iterdir())
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF-") and verify_pack(out) == []
