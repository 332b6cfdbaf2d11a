"""A sampled pack-flip run (the full every-byte run is part of ``make fuzz``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reports import write_pack
from tests.fuzz.flips import covered_files, flip_pack
from tests.reports.conftest import write_key
from tests.reports.fixtures import sample_results


@pytest.mark.parametrize("signed", [True, False])
def test_sampled_flips_are_detected(tmp_path: Path, signed: bool) -> None:
    results = sample_results("fail")
    results["checks"] = [c for c in results["checks"] if c["id"] == "parameter_distance"]
    key = write_key(tmp_path / "k.pem") if signed else None
    pack = write_pack(results, tmp_path / "pack", sign_key=key, pdf=False)
    report = flip_pack(pack, signed=signed, workers=1, stride=97)
    assert set(report.tried) == set(covered_files(pack, signed))
    assert ("manifest.sig" in report.tried) == signed
    assert ("manifest.json" in report.tried) == signed  # unsigned: only what the manifest covers
    assert report.total > 100 and report.missed == []
