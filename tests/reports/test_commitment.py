"""Keyed forget-id commitment: not brute-forceable from the pack, provable with the key."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from audit.cli.app import app
from audit.shared.commitment import (
    SCHEME,
    commit_ids,
    default_key_path,
    key_text,
    new_key,
    read_key,
)
from audit.shared.errors import BadInput

runner = CliRunner()


def _forget_ids(case_toml: Path) -> list[str]:
    df = pd.read_csv(case_toml.parent / "data.csv")
    return list(df.loc[df["split"] == "forget", "row_id"].astype(str))


def test_commitment_is_keyed_and_order_free() -> None:
    k1, k2 = new_key(), new_key()
    assert k1 != k2 and len(k1) == 32
    ids = ["a", "b", "c"]
    assert commit_ids(ids, k1) == commit_ids(reversed(ids), k1)
    assert commit_ids(ids, k1) != commit_ids(ids, k2)
    assert commit_ids(ids, k1) != commit_ids(ids[:2], k1)
    assert commit_ids(["a", "a"], k1) != commit_ids(["a"], k1)  # a multiset: duplicates count


def test_key_file_round_trip_and_bad_files(tmp_path: Path) -> None:
    key = new_key()
    (tmp_path / "k").write_text(key_text(key))
    assert read_key(tmp_path / "k") == key
    for name, text in (("short", "ab" * 16), ("nothex", "zz" * 32), ("bin", "\xff\xfe")):
        (tmp_path / name).write_text(text, "latin-1")
        with pytest.raises(BadInput, match="--commitment-key"):
            read_key(tmp_path / name)


def test_real_pack_records_the_scheme_and_keeps_the_key_outside(
        real_run: tuple[dict[str, Any], Path], private_case: Path) -> None:
    results, pack = real_run
    data = json.loads((pack / "results.json").read_text())["data"]
    assert data["forget_set_commitment_scheme"] == SCHEME
    key_path = default_key_path(pack)
    assert key_path.parent == pack.parent and stat.S_IMODE(key_path.stat().st_mode) == 0o600
    key = read_key(key_path)
    assert data["forget_set_sha256"] == commit_ids(_forget_ids(private_case), key)
    everything = b"".join(p.read_bytes() for p in pack.rglob("*") if p.is_file())
    assert key.hex().encode() not in everything and key not in everything


def test_the_forget_set_cannot_be_confirmed_from_the_pack(
        real_run: tuple[dict[str, Any], Path], private_case: Path) -> None:
    """An attacker who guesses the exact forget set cannot confirm it without the key.

    The old scheme's salt came from the public data digest: this recomputation matched it.
    """
    _, pack = real_run
    data = json.loads((pack / "results.json").read_text())["data"]
    guess = _forget_ids(private_case)  # the right answer
    salt = hashlib.sha256(b"unlearn-audit:id-salt:" + data["sha256"].encode()).digest()
    old = hashlib.sha256("\n".join(sorted(hashlib.sha256(salt + i.encode()).hexdigest()
                                          for i in guess)).encode()).hexdigest()
    assert data["forget_set_sha256"] != old
    assert all(data["forget_set_sha256"] != commit_ids(guess, new_key()) for _ in range(3))
    assert data["forget_set_sha256"] == commit_ids(guess, read_key(default_key_path(pack)))


def test_verify_forget_ids_match_mismatch_and_bad_input(
        real_run: tuple[dict[str, Any], Path], private_case: Path, tmp_path: Path) -> None:
    _, pack = real_run
    key = str(default_key_path(pack))
    ids = _forget_ids(private_case)
    (tmp_path / "ids").write_text("\r\n".join(reversed(ids)) + "\r\n")
    ok = runner.invoke(app, ["verify", str(pack), "--forget-ids", str(tmp_path / "ids"), "--key", key])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["forget_ids_match"] is True
    (tmp_path / "fewer").write_text("\n".join(ids[1:]))
    (tmp_path / "other-key").write_text(key_text(new_key()))
    for ids_file, key_file in ((tmp_path / "fewer", key), (tmp_path / "ids", str(tmp_path / "other-key"))):
        bad = runner.invoke(app, ["verify", str(pack), "--forget-ids", str(ids_file), "--key", key_file])
        assert bad.exit_code == 1 and "do not match the pack's commitment" in bad.stderr
    (tmp_path / "garbage").write_text("not a key")
    res = runner.invoke(app, ["verify", str(pack), "--forget-ids", str(tmp_path / "ids"),
                              "--key", str(tmp_path / "garbage")])
    assert res.exit_code == 2 and "--key" in res.stderr
    res = runner.invoke(app, ["verify", str(pack), "--forget-ids", str(tmp_path / "ids")])
    assert res.exit_code == 2 and "--key" in res.stderr


def test_cli_uses_a_controller_key_and_writes_a_new_one_where_asked(
        private_case: Path, tmp_path: Path) -> None:
    key = new_key()
    (tmp_path / "controller.key").write_text(key_text(key))
    out = tmp_path / "pack"
    res = runner.invoke(app, ["run", str(private_case), "--out", str(out), "--no-pdf",
                              "--commitment-key", str(tmp_path / "controller.key")])
    assert res.exit_code in (0, 1, 3), res.output
    data = json.loads((out / "results.json").read_text())["data"]
    assert data["forget_set_sha256"] == commit_ids(_forget_ids(private_case), key)
    assert not default_key_path(out).exists()  # the controller's key is used, not a new one
    out2, new_path = tmp_path / "pack2", tmp_path / "keys" / "req-42.key"
    res = runner.invoke(app, ["run", str(private_case), "--out", str(out2), "--no-pdf",
                              "--commitment-key", str(new_path)])
    assert stat.S_IMODE(new_path.stat().st_mode) == 0o600 and not default_key_path(out2).exists()
    data = json.loads((out2 / "results.json").read_text())["data"]
    assert data["forget_set_sha256"] == commit_ids(_forget_ids(private_case), read_key(new_path))


def test_a_key_path_inside_the_pack_is_refused(private_case: Path, tmp_path: Path) -> None:
    out = tmp_path / "pack"
    res = runner.invoke(app, ["run", str(private_case), "--out", str(out),
                              "--commitment-key", str(out / "key")])
    assert res.exit_code == 2 and "inside the pack" in res.stderr and not out.exists()
