"""TokenCache: per-token log-probabilities once per (model, split), padding-aware, checked by hand."""

from __future__ import annotations

import numpy as np
import torch

from audit.core.case_file import load_case
from audit.lm.cache import TokenCache


def test_each_model_runs_once_per_split_and_matches_an_unpadded_forward(tiny_lms, tmp_path):
    case = load_case(tiny_lms.case(tmp_path / "c", tiny_lms.retrain(0)))
    cache = TokenCache(case, max_rows=7)  # several batches of mixed lengths
    for _ in range(2):
        for split in ("forget", "test"):
            for role in case.models:
                cache.token_logprobs(role, split)
                cache.token_moments(role, split)
            cache.kl("retrained:0", "unlearned", split)
    assert set(cache.calls.values()) == {1} and len(cache.calls) == 2 * len(case.models)
    assert cache.batches[("original", "forget")] > 1
    lm, ids = case.models["original"], case.tokens("forget")[3]
    with torch.no_grad():
        lsm = torch.log_softmax(lm.model(input_ids=torch.tensor(ids[None])).logits[0, :-1], -1)
    expect = lsm.gather(-1, torch.tensor(ids[1:, None]))[:, 0].numpy()
    np.testing.assert_allclose(cache.token_logprobs("original", "forget").row(3), expect, atol=1e-5)
    mu, sigma = cache.token_moments("original", "forget")
    p = lsm.exp()
    np.testing.assert_allclose(mu.row(3), (p * lsm).sum(-1).numpy(), atol=1e-5)
    np.testing.assert_allclose(sigma.row(3), ((p * (lsm - (p * lsm).sum(-1, keepdim=True)) ** 2).sum(-1))
                               .sqrt().numpy(), atol=1e-4)
    assert cache.kl("retrained:0", "retrained:1", "forget").values.min() >= 0


def test_conditional_logprobs_is_cached_per_key(tiny_lms, tmp_path):
    case = load_case(tiny_lms.case(tmp_path / "c", tiny_lms.retrain(0)))
    cache = TokenCache(case)
    q, a = cache.questions("forget"), cache.answers("forget")
    first = cache.conditional_logprobs("original", "answer", q, a)
    again = cache.conditional_logprobs("original", "answer", q, a)
    assert first is again and cache.calls[("original", "answer")] == 1
    assert (first.lengths == 1).all() and (first.values < 0).all()


def test_texts_longer_than_the_position_limit_are_cut_and_counted(tiny_lms):
    from audit.lm.case import LanguageModelCase

    df = tiny_lms.df.copy()
    df.loc[0, "text"] = " ".join(["n1 from c2 likes h3 ."] * 5)  # 25 tokens > n_positions = 16
    root = tiny_lms.root
    case = LanguageModelCase(root / "original", root / "retrained-0", [root / "retrained-1"], df)
    assert case.max_tokens == 16 and case.truncated == {"forget": 1, "retain": 0, "test": 0}
    cache = TokenCache(case)
    assert cache.token_logprobs("original", "forget").lengths[0] == 15
    assert case.data_extra()["text"]["truncated"]["forget"] == 1
    assert len({len(t) for t in case.tokens("test")}) > 1  # mixed lengths: batches are padded
