"""A second model family (a tiny Llama: rotary positions, RMSNorm) loads and is scored padding-aware."""

from __future__ import annotations

import numpy as np
import torch

from audit.lm.case import LanguageModelCase
from audit.lm.loader import load_causal_lm
from tests.audit.lm._tiny import tokenizer, vocab_size


def _llama(directory, seed):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=vocab_size(), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=16,
                      bos_token_id=2, eos_token_id=2, pad_token_id=0)
    LlamaForCausalLM(cfg).save_pretrained(str(directory))
    tokenizer(directory)
    return directory


def test_llama_directory_through_the_token_cache(tiny_lms, tmp_path):
    dirs = [_llama(tmp_path / f"llama{i}", i) for i in range(3)]
    lm = load_causal_lm(dirs[0], role="original")
    assert lm.format == "safetensors" and type(lm.model).__name__ == "LlamaForCausalLM"
    case = LanguageModelCase(dirs[0], dirs[1], [dirs[2]], tiny_lms.df)
    cache = case.output_cache(64)
    got = cache.token_logprobs("original", "test")
    for i in (0, 5, 29):  # texts of different lengths were padded together in one batch
        ids = case.tokens("test")[i]
        with torch.no_grad():
            lsm = torch.log_softmax(lm.model(input_ids=torch.tensor(ids[None])).logits[0, :-1], -1)
        np.testing.assert_allclose(got.row(i), lsm.gather(-1, torch.tensor(ids[1:, None]))[:, 0].numpy(), atol=1e-5)
    assert cache.calls[("original", "test")] == 1
