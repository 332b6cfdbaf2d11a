"""Per-model outputs of the LM checks are computed once: generation and QA log-probs per (role, split)."""

from __future__ import annotations

from pathlib import Path

from audit.lm.compare import candidate_case
from audit.runner import run_audit

OFF = {c: {"enabled": False, "required": False} for c in ("sequence_membership", "lm_utility", "lm_divergence")}


def test_generation_and_qa_run_once_per_model_and_split_whatever_reads_them(bios_dir: Path) -> None:
    case = candidate_case(bios_dir, "extra/npo")
    cache = case.output_cache(0)
    try:
        run_audit(case, policy=OFF, cache=cache)
        run_audit(case, policy=OFF, cache=cache)  # a second audit on the same cache reuses everything
        passes = cache.forward_passes
    finally:
        cache.close()
    roles = ["original", "unlearned", *[r for r in {r for r, _ in passes} if r.startswith("retrained:")]]
    assert len(roles) == 5
    for role in roles:
        for key in ("generate:forget", "argmax_hits:forget", "generate:retain", "argmax_hits:retain",
                    "knowledge_probe:answer:forget", "knowledge_probe:perturbed:forget",
                    "knowledge_probe:answer:retain"):
            assert passes[(role, key)] == 1, (role, key, passes)
