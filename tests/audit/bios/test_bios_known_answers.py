"""Known answers on bios: a fresh retrain passes, the no-op fails, gradient ascent to collapse fails.

Fast tier: seed 0 of the tiny scenario (built once per session). Slow tier: seeds 1 and 2,
each a fresh tiny scenario (people, models and unlearning all re-drawn).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from audit.lm.compare import candidate_case
from audit.runner import run_audit

LM_CHECKS = ("verbatim_memorisation", "knowledge_probe")


def _audit(case_dir: Path, unlearned: str) -> dict:
    return run_audit(candidate_case(case_dir, unlearned), seed=0)


def _status(result: dict, check: str) -> str:
    return next(c["status"] for c in result["checks"] if c["id"] == check)


def _noisy_original(case_dir: Path, dest: Path) -> str:
    """The original with N(0, 1e-4) on every weight: the no-op in all but its bytes."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from audit.lm.train import save_lm

    model = AutoModelForCausalLM.from_pretrained(str(case_dir / "original"), local_files_only=True)
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1e-4 * torch.randn(p.shape, generator=gen))
    save_lm(model, AutoTokenizer.from_pretrained(str(case_dir / "original"), local_files_only=True), dest)
    return str(dest)


def _known_answers(case_dir: Path, tmp: Path) -> dict[str, dict]:
    out = {name: _audit(case_dir, rel) for name, rel in
           (("retrain", "extra/retrained-other-seed"), ("gradient_ascent", "extra/gradient-ascent"))}
    out["noop"] = _audit(case_dir, _noisy_original(case_dir, tmp / "noop"))
    return out


def _assert_known(res: dict[str, dict]) -> None:
    retrain, noop, ga = res["retrain"], res["noop"], res["gradient_ascent"]
    for check in LM_CHECKS:
        assert _status(retrain, check) == "pass", (check, retrain["checks"])
        assert _status(noop, check) == "fail", check
        # the original (positive control) is told apart from the retrains: it memorised the forget people
        ctl = next(c["controls"] for c in retrain["checks"] if c["id"] == check)
        assert ctl["positive"]["status"] == "fail" and ctl["negative"]["failed"] == 0, ctl
    assert retrain["verdict"] in ("pass", "warn")
    assert noop["verdict"] == "fail" and ga["verdict"] == "fail"
    # the collapse is caught as damage (utility, or U reproducing / knowing less than a retrain)
    harm = [m for c in ga["checks"] for m in c["metrics"] if m.get("status") == "fail"]
    assert any(m["split"] in ("retain", "test") for m in harm), harm


def test_known_answers_seed0(bios_dir: Path, tmp_path: Path) -> None:
    _assert_known(_known_answers(bios_dir, tmp_path))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_known_answers_more_seeds(seed: int, tmp_path: Path) -> None:
    from audit.scenarios.bios import build_bios

    build_bios(tmp_path / "case", seed=seed, size="tiny")
    _assert_known(_known_answers(tmp_path / "case", tmp_path))
