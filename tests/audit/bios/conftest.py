"""The tiny ``bios`` scenario and its known-answer audits, built once per test session (read-only).

``bios_dir``: ``build_bios(size="tiny", seed=0)`` — data, models, case.toml. ``bios_audits``:
the audits the fast tests read — a fresh retrain, the no-op (the original with weight noise, so
the identity check does not end the audit) and gradient ascent driven to collapse — each with
the forward passes its token cache counted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

#: the fast tier audits with the LM checks of this branch and utility (the membership and
#: divergence sweeps run in the slow tier, full policy)
FAST_POLICY = {c: {"enabled": False, "required": False} for c in ("sequence_membership", "lm_divergence")}


def noisy_original(case_dir: Path, dest: Path, scale: float = 1e-4) -> str:
    """The original with N(0, scale) on every weight: the no-op in all but its bytes."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from audit.lm.train import save_lm

    model = AutoModelForCausalLM.from_pretrained(str(case_dir / "original"), local_files_only=True)
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen))
    save_lm(model, AutoTokenizer.from_pretrained(str(case_dir / "original"), local_files_only=True), dest)
    return str(dest)


def known_answer_audits(case_dir: Path, work: Path, policy: dict | None) -> dict[str, dict[str, Any]]:
    """``{candidate: {"result": results, "passes": forward passes}}`` for retrain, noop, gradient ascent."""
    from audit.engine.runner import run_audit
    from audit.lm.compare import candidate_case

    out = {}
    for name, rel in (("retrain", "extra/retrained-other-seed"), ("noop", noisy_original(case_dir, work / "noop")),
                      ("gradient_ascent", "extra/gradient-ascent")):
        case = candidate_case(case_dir, rel)
        cache = case.output_cache(0)
        try:
            result = run_audit(case, policy=policy, cache=cache)
            again = run_audit(case, policy=policy, cache=cache) if name == "retrain" else None
            out[name] = {"result": result, "again": again, "passes": cache.forward_passes}
        finally:
            cache.close()
    return out


@pytest.fixture(scope="session")
def bios_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from audit.scenarios.bios import build_bios

    d = tmp_path_factory.mktemp("bios")
    assert build_bios(d, seed=0, size="tiny") == d / "case.toml"
    return d


@pytest.fixture(scope="session")
def bios_audits(bios_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return known_answer_audits(bios_dir, tmp_path_factory.mktemp("bios-candidates"), FAST_POLICY)
