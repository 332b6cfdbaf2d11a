"""Packs from real audits: schema, privacy of the forget set, determinism, verification."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
from pypdf import PdfReader

from reports import validate_results, verify_pack
from tests.reports.conftest import FORGET_ID

_TIMESTAMPS = ("started_at", "finished_at")
_TIMINGS = ('"seconds"', '"forward_seconds"', '"overhead"')  # cost: wall-clock figures


def _without_timings(cost: dict[str, Any]) -> dict[str, Any]:
    """``cost`` with its wall-clock figures removed; the counts must be reproducible."""
    drop = {"seconds", "forward_seconds", "overhead"}
    out = {k: v for k, v in cost.items() if k not in drop and k != "checks"}
    out["checks"] = {c: {k: v for k, v in m.items() if k not in drop} for c, m in cost["checks"].items()}
    return out


def _forget_values(case_toml: Path) -> list[str]:
    """Every raw value of every forget row as it could appear in text (ids, features, labels)."""
    df = pd.read_csv(case_toml.parent / "data.csv")
    forget = df[df["split"] == "forget"]
    values = list(forget["row_id"].astype(str))
    for col in ("f0", "f1", "f2", "f3"):
        for v in forget[col]:
            values += [repr(float(v)), f"{v:.6f}", f"{v:.4g}" if abs(v) >= 1 else f"{v:.6g}"]
    return [v for v in values if len(v) >= 7]  # short strings (e.g. "0.1") are not identifying


def test_real_pack_verifies_and_validates(real_run: tuple[dict[str, Any], Path]) -> None:
    results, pack = real_run
    assert verify_pack(pack) == []
    validate_results(json.loads((pack / "results.json").read_text("utf-8")))
    manifest = json.loads((pack / "manifest.json").read_text("utf-8"))
    assert set(manifest["inputs"]) == {"data", "model:original", "model:unlearned", "model:retrained:0",
                                       "model:retrained:1"}
    st = json.loads((pack / "attestation.intoto.json").read_text("utf-8"))
    assert st["subject"][1]["digest"]["sha256"] == results["models"]["unlearned"]["sha256"]


def test_no_forget_row_value_leaves_the_case(real_run: tuple[dict[str, Any], Path], private_case: Path) -> None:
    _, pack = real_run
    needles = _forget_values(private_case)
    assert len(needles) > 100 and FORGET_ID.format(0) in needles
    texts = {p.name: p.read_bytes().decode("latin-1") for p in pack.iterdir()}
    texts["report.pdf (text)"] = "\n".join(pg.extract_text() for pg in PdfReader(pack / "report.pdf").pages)
    assert "STUDENT-7F3A" not in "".join(texts.values())  # not even the id prefix
    for name, text in texts.items():
        leaked = [v for v in needles if v in text]
        assert not leaked, f"{name} contains forget-row values {leaked[:5]}"


def test_privacy_scan_can_fail(private_case: Path) -> None:
    """The scan above would notice a leak: the raw data file itself contains the values."""
    raw = (private_case.parent / "data.csv").read_text()
    assert sum(v in raw for v in _forget_values(private_case)) > 100


def test_same_case_and_seed_give_identical_results_json(real_run: tuple[dict[str, Any], Path],
                                                        private_case: Path, tmp_path: Path) -> None:
    from audit.core.case_file import load_case
    from audit.engine.runner import run_audit, write_evidence
    from audit.shared.commitment import default_key_path, read_key

    _, first = real_run  # same key (the controller's), same case, same seed: same results.json
    case = load_case(private_case, commitment_key=read_key(default_key_path(first)))
    second = write_evidence(run_audit(case, seed=0), case, tmp_path / "again", pdf=False)

    def strip(path: Path) -> dict[str, Any]:
        r = json.loads((path / "results.json").read_text("utf-8"))
        r["cost"] = _without_timings(r["cost"])
        return {k: v for k, v in r.items() if k not in _TIMESTAMPS}

    a, b = strip(first), strip(second)
    assert a == b
    raw_a = (first / "results.json").read_text("utf-8").splitlines()
    raw_b = (second / "results.json").read_text("utf-8").splitlines()
    diff = [(x, y) for x, y in zip(raw_a, raw_b, strict=True) if x != y]
    assert all(any(t in x for t in (*_TIMESTAMPS, *_TIMINGS)) for x, _ in diff)  # byte-identical but for times
    assert a["cost"]["forward_passes"] > 0 and a["cost"]["checks"]  # the counts are there, and equal
