"""Per-model outputs of the LM checks are computed once: generation and QA log-probs per (role, split)."""

from __future__ import annotations


def test_generation_and_qa_run_once_per_model_and_split_whatever_reads_them(bios_audits: dict) -> None:
    rec = bios_audits["retrain"]
    assert rec["again"]["verdict"] == rec["result"]["verdict"]  # the second audit read the same cache
    passes = rec["passes"]
    roles = sorted({r for r, _ in passes})
    assert len(roles) == 5  # original, unlearned, three references
    for role in roles:
        for key in ("generate:forget", "argmax_hits:forget", "generate:retain", "argmax_hits:retain",
                    "knowledge_probe:answer:forget", "knowledge_probe:perturbed:forget",
                    "knowledge_probe:answer:retain"):
            assert passes[(role, key)] == 1, (role, key, passes)
