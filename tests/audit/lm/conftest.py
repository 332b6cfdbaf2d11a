"""Tiny language models trained once per test session (read-only for the tests).

``lm_case_dir``: a directory with ``original`` (trained on forget + retain texts), three
references ``retrained-0..2`` (retain texts only, seeds 1..3), ``data.parquet`` and helpers to
add a fresh retrain (``retrain(seed)``) or the original with a little weight noise
(``noisy_original``) as candidates, each built once.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.audit.lm._tiny import table, train_lm, write_case


class TinyLMs:
    """The session's tiny models; candidates are trained on first use and kept."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.df = table(0)
        self.train_texts = self.df.loc[self.df.split != "test", "text"].tolist()
        self.retain_texts = self.df.loc[self.df.split == "retain", "text"].tolist()
        self.df.to_parquet(root / "data.parquet")
        train_lm(self.train_texts, root / "original", seed=0)
        for i in range(3):
            train_lm(self.retain_texts, root / f"retrained-{i}", seed=1 + i)

    @property
    def references(self) -> list[str]:
        return [f"retrained-{i}" for i in range(3)]

    def retrain(self, seed: int) -> str:
        """A fresh retrain on the retain texts (seed ``100 + seed``), as a directory name."""
        name = f"retrain-seed{seed}"
        if not (self.root / name).exists():
            train_lm(self.retain_texts, self.root / name, seed=100 + seed)
        return name

    def noisy_original(self) -> str:
        """The original with N(0, 1e-3) added to every weight: O in all but bytes."""
        name = "original-noisy"
        if not (self.root / name).exists():
            train_lm([], self.root / name, seed=99, noise_from=self.root / "original", noise=1e-3)
        return name

    def case(self, dest: Path, unlearned: str, extra: str = "") -> Path:
        """A case directory in ``dest`` (models linked, not copied) with ``unlearned`` as U."""
        dest.mkdir(parents=True, exist_ok=True)
        for name in {"original", unlearned, *self.references}:
            if not (dest / name).exists():
                (dest / name).symlink_to(self.root / name, target_is_directory=True)
        shutil.copy(self.root / "data.parquet", dest / "data.parquet")
        return write_case(dest, {"original": "original", "unlearned": unlearned,
                                 "retrained": self.references}, extra=extra)


@pytest.fixture(scope="session")
def tiny_lms(tmp_path_factory: pytest.TempPathFactory) -> TinyLMs:
    return TinyLMs(tmp_path_factory.mktemp("tiny-lms"))
