"""Every flipped bit of a pack is detected: signed → every file; unsigned → every covered file.

One small pack of each kind is rendered once; each flip is written in place, verified and undone.
The slow tier flips the lowest bit of every byte of every file (every 7th byte of report.pdf,
whose bytes all go through the same sha256 comparison) and all eight bits of every byte of the
unsigned manifest; the default tier flips a bit of every 61st byte of every file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pytest

from reports import verify_pack, write_pack
from tests.reports.conftest import write_key
from tests.reports.fixtures import sample_results


def _small_results() -> dict:
    r = sample_results()
    r["checks"] = r["checks"][:1]
    r["checks"][0]["figures"] = []
    r["environment"]["packages"] = {}
    return r


@pytest.fixture(scope="module")
def packs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("flips")
    (d / "data.csv").write_text("x,label,split\n1,0,forget\n")
    (d / "model.onnx").write_bytes(b"\x08\x01model")
    inputs = {"data": d / "data.csv", "model:original": d / "model.onnx"}
    return {
        "signed": write_pack(_small_results(), d / "signed", inputs=inputs, sign_key=write_key(d / "k.pem")),
        "unsigned": write_pack(_small_results(), d / "unsigned", inputs=inputs),
    }


def _covered(pack: Path) -> list[str]:
    """Every file of a signed pack; the manifest and what it lists for an unsigned one."""
    manifest = json.loads((pack / "manifest.json").read_text())
    names = ["manifest.json", *manifest["outputs"]]
    return names + (["manifest.sig"] if manifest["signature"] else [])


def _missed(pack: Path, name: str, offsets: Iterable[int], bits: Iterable[int]) -> list[tuple[int, int]]:
    f = pack / name
    original = f.read_bytes()
    missed = []
    try:
        for offset in offsets:
            for bit in bits:
                data = bytearray(original)
                data[offset] ^= 1 << bit
                f.write_bytes(bytes(data))
                if not verify_pack(pack):
                    missed.append((offset, bit))
    finally:
        f.write_bytes(original)
    assert verify_pack(pack) == []
    return missed


def _sweep(pack: Path, stride: int, pdf_stride: int) -> dict[str, list[tuple[int, int]]]:
    missed = {}
    for name in _covered(pack):
        size = (pack / name).stat().st_size
        step = pdf_stride if name == "report.pdf" else stride
        missed[name] = _missed(pack, name, range(0, size, step), [0])
    return missed


@pytest.mark.parametrize("kind", ["signed", "unsigned"])
def test_sampled_flips_are_all_detected(packs: dict[str, Path], kind: str) -> None:
    pack = packs[kind]
    assert verify_pack(pack) == [] and len(_covered(pack)) == (8 if kind == "signed" else 7)
    missed = _sweep(pack, stride=61, pdf_stride=997)
    assert all(not m for m in missed.values()), missed


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["signed", "unsigned"])
def test_every_byte_of_every_covered_file(packs: dict[str, Path], kind: str) -> None:
    missed = _sweep(packs[kind], stride=1, pdf_stride=7)
    assert all(not m for m in missed.values()), missed


@pytest.mark.slow
def test_every_bit_of_the_unsigned_manifest(packs: dict[str, Path]) -> None:
    """Was: 645 of 1 863 single-bit flips of manifest.json went unnoticed (inputs, templates)."""
    pack = packs["unsigned"]
    size = (pack / "manifest.json").stat().st_size
    assert _missed(pack, "manifest.json", range(size), range(8)) == []
