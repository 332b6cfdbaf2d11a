"""Every single-byte flip of a pack's files must make ``verify_pack`` report a problem."""

from __future__ import annotations

import json
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["FlipReport", "covered_files", "flip_pack", "flip_chunk"]


@dataclass
class FlipReport:
    """Flips tried and missed (``(file, offset)``) on one pack, per file."""

    pack: str
    tried: dict[str, int] = field(default_factory=dict)
    missed: list[tuple[str, int]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.tried.values())


def covered_files(pack: Path, signed: bool) -> list[str]:
    """Files whose every flip must be caught: all of a signed pack; the manifest's outputs otherwise.

    >>> covered_files(Path("/nonexistent"), signed=True)
    []
    """
    if not pack.is_dir():
        return []
    if signed:
        return sorted(p.name for p in pack.iterdir() if p.is_file())
    manifest = json.loads((pack / "manifest.json").read_text("utf-8"))
    return sorted(manifest["outputs"])


def flip_chunk(pack: str, jobs: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """XOR 0x01 each ``(file, offset)`` in a private copy of ``pack``; return the undetected ones."""
    from reports import verify_pack

    missed = []
    with tempfile.TemporaryDirectory(prefix="fuzz-flip-") as tmp:
        copy = Path(shutil.copytree(pack, Path(tmp) / "pack"))
        originals = {name: (copy / name).read_bytes() for name in {n for n, _ in jobs}}
        for name, offset in jobs:
            data = bytearray(originals[name])
            data[offset] ^= 0x01
            (copy / name).write_bytes(bytes(data))
            if not verify_pack(copy):
                missed.append((name, offset))
            (copy / name).write_bytes(originals[name])
    return missed


def flip_pack(pack: Path, signed: bool, workers: int = 2, stride: int = 1) -> FlipReport:
    """Flip every ``stride``-th byte of every covered file, ``workers`` processes in parallel.

    Examples
    --------
    >>> from tests.fuzz.base import build_base                   # doctest: +SKIP
    >>> report = flip_pack(build_base(Path("/tmp/b")).packs["signed"], signed=True)  # doctest: +SKIP
    >>> report.missed                                              # doctest: +SKIP
    []
    """
    report = FlipReport(pack.name)
    jobs: list[tuple[str, int]] = []
    for name in covered_files(pack, signed):
        offsets = range(0, (pack / name).stat().st_size, stride)
        report.tried[name] = len(offsets)
        jobs += [(name, i) for i in offsets]
    chunks = [jobs[i::workers] for i in range(workers)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for missed in pool.map(flip_chunk, [str(pack)] * workers, chunks):
            report.missed += missed
    report.missed.sort()
    return report
