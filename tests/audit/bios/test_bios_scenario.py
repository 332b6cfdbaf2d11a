"""The bios case on disk: HF model directories (safetensors, tokenizer.json), the table, the case file."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from audit.core.case_file import load_case
from audit.scenarios import SCENARIOS
from audit.scenarios.bios import CANDIDATES


def test_bios_is_a_registered_scenario() -> None:
    assert SCENARIOS["bios"] == "audit.scenarios.bios:build_bios"


def test_case_loads_as_a_language_model_case(bios_dir: Path) -> None:
    case = load_case(bios_dir / "case.toml")
    assert case.task == "language_model"
    assert case.n == {"forget": 25, "retain": 175, "test": 50}  # 5 forget, 35 retain, 10 held-out people
    assert len(case.reference_roles) == 3


def test_model_directories_are_offline_safetensors_checkpoints(bios_dir: Path) -> None:
    for rel in {"original", "retrained-0", *CANDIDATES.values()}:
        d = bios_dir / rel
        assert (d / "model.safetensors").is_file() and (d / "tokenizer.json").is_file(), rel
        assert not list(d.glob("*.bin")), rel
    meta = {rel: json.loads((bios_dir / rel / "config.json").read_text())["unlearn_audit"]
            for rel in ("original", "retrained-0", "extra/retrained-other-seed", "extra/npo")}
    assert meta["original"]["trained_on"] == ["forget", "retain"]
    assert meta["retrained-0"]["trained_on"] == meta["extra/retrained-other-seed"]["trained_on"] == ["retain"]
    assert meta["retrained-0"]["seed"] != meta["extra/retrained-other-seed"]["seed"]
    assert meta["extra/npo"]["unlearned_with"] == "npo"


def test_table_has_questions_and_wrong_answers_per_row(bios_dir: Path) -> None:
    df = pd.read_parquet(bios_dir / "data.parquet")
    assert {"text", "question", "answer", "perturbed", "split", "id", "person"} <= set(df.columns)
    assert all(len(p) == 4 and a not in list(p) for a, p in zip(df["answer"], df["perturbed"], strict=True))
