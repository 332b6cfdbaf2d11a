"""Greedy continuations: batched equals one by one; extraction strength equals its generation definition."""

from __future__ import annotations

import numpy as np
import torch

from audit.checks.verbatim_memorisation import exact_match, extraction_strength, rouge_l_recall
from audit.core.torch_threads import one_thread
from audit.lm.generate import argmax_hits, continue_prefixes
from tests.audit.bios._tiny_lm import micro


def test_batched_left_padded_generation_equals_one_prompt_at_a_time() -> None:
    model, tok, df = micro()
    texts = list(df["text"][:6])
    batched = continue_prefixes(model, tok, texts, batch_size=5)
    single = [continue_prefixes(model, tok, [t], batch_size=1) for t in texts]
    assert batched.generated == [s.generated[0] for s in single]
    assert [len(g) for g in batched.generated] == [len(s) for s in batched.suffixes]


@one_thread()
def _greedy(model, prefix: list[int], n: int) -> list[int]:  # noqa: ANN001
    ids = list(prefix)
    with torch.no_grad():
        for _ in range(n):
            ids.append(int(model(torch.tensor([ids])).logits[0, -1].argmax()))
    return ids[len(prefix):]


def test_extraction_strength_is_the_shortest_sufficient_prefix() -> None:
    """ES from teacher-forced argmax hits = 1 - k/n for the smallest k whose greedy run reproduces the rest."""
    model, tok, df = micro()
    for text in list(df["text"][:5]):
        ids = tok(text)["input_ids"]
        n = len(ids) - 1
        k = next((k for k in range(n + 1) if _greedy(model, ids[: 1 + k], n - k) == ids[1 + k:]), n)
        assert extraction_strength(argmax_hits(model, tok, [text])[0]) == 1 - k / n


def test_rouge_l_recall_is_the_longest_common_subsequence() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        a, b = list(rng.integers(0, 4, size=6)), list(rng.integers(0, 4, size=5))
        best = 0
        for mask in range(1 << len(b)):  # brute force: the longest subsequence of b that is also one of a
            sub = [x for i, x in enumerate(b) if mask >> i & 1]
            it = iter(a)
            if all(any(x == y for y in it) for x in sub):
                best = max(best, len(sub))
        assert rouge_l_recall(a, b) == best / len(b)
    assert exact_match([1, 2], [1, 2]) == 1.0 and exact_match([1], [1, 2]) == 0.0
