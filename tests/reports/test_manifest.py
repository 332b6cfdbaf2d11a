"""manifest.json, the in-toto test-result statement and the Ed25519 signature."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audit.shared.digest import file_sha256
from audit.shared.errors import BadInput
from reports import build_statement, verify_pack, write_pack
from reports.manifest import STATEMENT_TYPE, TEST_RESULT_TYPE, load_signing_key
from tests.reports.fixtures import SHA, sample_results, with_verdict


def _json(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))


def test_manifest_hashes_every_output_and_input(tmp_path: Path) -> None:
    model = tmp_path / "unlearned.onnx"
    model.write_bytes(b"\x00model bytes")
    pack = write_pack(sample_results(), tmp_path / "pack", inputs={"model:unlearned": model}, pdf=False)
    manifest = _json(pack / "manifest.json")
    files = {p.name for p in pack.iterdir()} - {"manifest.json"}
    assert set(manifest["outputs"]) == files
    for name, entry in manifest["outputs"].items():
        assert entry == {"sha256": file_sha256(pack / name), "size": (pack / name).stat().st_size}
    assert manifest["inputs"]["model:unlearned"] == {"path": "unlearned.onnx", "size": 12,
                                                     "sha256": file_sha256(model)}
    assert manifest["signature"] is None and manifest["templates"]["source"] == "builtin"


def test_missing_input_is_bad_input_and_nothing_written(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="inputs.data"):
        write_pack(sample_results(), tmp_path / "pack", inputs={"data": tmp_path / "nope.csv"}, pdf=False)
    assert not (tmp_path / "pack").exists() and list(tmp_path.iterdir()) == []


def test_statement_is_in_toto_v1_with_model_subjects(signed_pack: Path) -> None:
    st = _json(signed_pack / "attestation.intoto.json")
    assert st["_type"] == STATEMENT_TYPE == "https://in-toto.io/Statement/v1"
    assert st["predicateType"] == TEST_RESULT_TYPE == "https://in-toto.io/attestation/test-result/v0.1"
    digests = [s["digest"]["sha256"] for s in st["subject"]]
    assert digests == [SHA["original"], SHA["unlearned"], SHA["r0"], SHA["r1"]]
    assert [s["annotations"]["role"] for s in st["subject"]] == ["original", "unlearned", "retrained:0",
                                                                  "retrained:1"]
    pred = st["predicate"]
    assert pred["result"] == "FAILED"
    assert pred["passedTests"] == ["membership_inference"]
    assert pred["failedTests"] == ["subgroup_shift", "output_divergence"]
    assert pred["warnedTests"] == ["parameter_distance"]  # informative check, skipped
    config = {c["name"]: c["digest"]["sha256"] for c in pred["configuration"]}
    assert config["results.json"] == file_sha256(signed_pack / "results.json")
    assert config["data.parquet"] == SHA["data"]


@pytest.mark.parametrize(("verdict", "result"), [("pass", "PASSED"), ("warn", "WARNED"), ("fail", "FAILED"),
                                                 ("inconclusive", "FAILED"), ("error", "FAILED")])
def test_predicate_result_is_fail_closed(verdict: str, result: str) -> None:
    assert build_statement(with_verdict(sample_results(), verdict), "0" * 64)["predicate"]["result"] == result


def test_required_skipped_check_is_a_failed_test() -> None:
    r = sample_results()
    r["checks"][3]["required"] = True
    assert "parameter_distance" in build_statement(r, "0" * 64)["predicate"]["failedTests"]


def test_models_without_digest_are_not_subjects() -> None:
    r = sample_results()
    r["models"]["original"]["sha256"] = None
    subjects = build_statement(r, "0" * 64)["subject"]
    assert [s["annotations"]["role"] for s in subjects] == ["unlearned", "retrained:0", "retrained:1"]


def test_signature_verifies_with_recorded_public_key(signed_pack: Path, key_file: Path) -> None:
    manifest = _json(signed_pack / "manifest.json")
    sig = manifest["signature"]
    raw = base64.b64decode(sig["public_key"])
    expected = load_signing_key(key_file).public_key().public_bytes(serialization.Encoding.Raw,
                                                                    serialization.PublicFormat.Raw)
    assert raw == expected and sig["algorithm"] == "ed25519"
    signature = bytes.fromhex((signed_pack / "manifest.sig").read_text("ascii").strip())
    Ed25519PublicKey.from_public_bytes(raw).verify(signature, (signed_pack / "manifest.json").read_bytes())
    assert verify_pack(signed_pack) == []
    assert verify_pack(signed_pack, public_key=sig["public_key"]) == []


def test_pinned_key_rejects_other_signer_and_unsigned_packs(signed_pack: Path, tmp_path: Path) -> None:
    from tests.reports.conftest import write_key

    other = _json(write_pack(sample_results(), tmp_path / "other", pdf=False,
                             sign_key=write_key(tmp_path / "k.pem")) / "manifest.json")
    assert verify_pack(signed_pack, public_key=other["signature"]["public_key"]) == [
        "manifest.json: signed by a different key than the one expected"]
    unsigned = write_pack(sample_results(), tmp_path / "unsigned", pdf=False)
    assert verify_pack(unsigned, public_key=other["signature"]["public_key"]) == [
        "manifest.json: not signed, but a public key was expected"]


@pytest.mark.parametrize("kind", ["missing", "garbage", "rsa", "encrypted"])
def test_bad_signing_keys_are_bad_input(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    if kind == "garbage":
        path.write_text("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    elif kind == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    elif kind == "encrypted":
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        path.write_bytes(Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw")))
    with pytest.raises(BadInput, match="--sign-key"):
        write_pack(sample_results(), tmp_path / "pack", sign_key=path, pdf=False)
    assert not (tmp_path / "pack").exists()
