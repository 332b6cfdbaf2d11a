"""Fixtures of the report tests: hand-built results, real runs on a tiny case, keys."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.reports.fixtures import sample_results

FORGET_ID = "STUDENT-7F3A-{:05d}"


def write_key(path: Path, key: Ed25519PrivateKey | None = None) -> Path:
    key = key or Ed25519PrivateKey.generate()
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return path


@pytest.fixture()
def results() -> dict[str, Any]:
    return sample_results()


@pytest.fixture(scope="session")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_key(tmp_path_factory.mktemp("key") / "signing.pem")


@pytest.fixture(scope="session")
def signed_pack(tmp_path_factory: pytest.TempPathFactory, key_file: Path) -> Path:
    """A full signed pack (with PDF) from the hand-built results; treat as read-only."""
    from reports import write_pack

    return write_pack(sample_results(), tmp_path_factory.mktemp("signed") / "pack", sign_key=key_file)


@pytest.fixture(scope="session")
def private_case(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny case with distinctive ids, so a leak of a forget row is unmistakable."""
    d = tmp_path_factory.mktemp("private") / "case"
    shutil.copytree(tiny_dir, d)
    df = pd.read_csv(d / "data.csv")
    df["row_id"] = [FORGET_ID.format(i) for i in range(len(df))]
    df.to_csv(d / "data.csv", index=False)
    return d / "case.toml"


@pytest.fixture(scope="session")
def real_run(private_case: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """(results, pack dir) of a real audit of the tiny case, seed 0."""
    from audit.core.case_file import load_case
    from audit.engine.runner import run_audit, write_evidence

    case = load_case(private_case)
    results = run_audit(case, seed=0)
    pack = write_evidence(results, case, tmp_path_factory.mktemp("real") / "pack")
    return results, pack
