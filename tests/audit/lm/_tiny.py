"""Tiny causal LMs for the language-model tests: a word-level tokenizer and a 2-layer GPT-2.

Texts are short synthetic sentences ("ana from oslo likes jazz and owns a red boat .") whose
word combinations are random per sentence, so a model can only know a sentence by having
trained on it. ``train_lm`` trains from scratch, seeded, full batch on CPU.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

NAMES = [f"n{i}" for i in range(40)]
CITIES = [f"c{i}" for i in range(30)]
HOBBIES = [f"h{i}" for i in range(30)]
COLOURS = [f"k{i}" for i in range(20)]
THINGS = [f"t{i}" for i in range(20)]
WORDS = ["from", "likes", "and", "owns", "a", "."]
SPECIAL = ["[PAD]", "[UNK]", "[EOS]"]


def sentence(rng: np.random.Generator) -> tuple[str, str, str, list[str]]:
    """A text, a question about it, its answer and three wrong answers."""
    name, city, hobby = rng.choice(NAMES), rng.choice(CITIES), rng.choice(HOBBIES)
    colour, thing = rng.choice(COLOURS), rng.choice(THINGS)
    text = f"{name} from {city} likes {hobby} and owns a {colour} {thing} ."
    wrong = [c for c in CITIES if c != city][:3]
    return text, f"{name} from", f" {city}", [f" {w}" for w in wrong]


def table(seed: int = 0, n_forget: int = 30, n_retain: int = 60, n_test: int = 30) -> pd.DataFrame:
    """The text table: every sentence distinct; split by position."""
    rng = np.random.default_rng(seed)
    rows, seen = [], set()
    while len(rows) < n_forget + n_retain + n_test:
        row = sentence(rng)
        if row[0] not in seen:
            seen.add(row[0])
            rows.append(row)
    split = ["forget"] * n_forget + ["retain"] * n_retain + ["test"] * n_test
    return pd.DataFrame({"text": [r[0] for r in rows], "question": [r[1] for r in rows],
                         "answer": [r[2] for r in rows], "perturbed": [r[3] for r in rows],
                         "split": split, "person": [f"p{i}" for i in range(len(rows))]})


def tokenizer(directory: Path) -> None:
    """A word-level fast tokenizer over the generated vocabulary, saved into ``directory``."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(SPECIAL + WORDS + NAMES + CITIES + HOBBIES + COLOURS + THINGS)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]",
                                   eos_token="[EOS]")
    fast.save_pretrained(str(directory))


def vocab_size() -> int:
    return len(SPECIAL + WORDS + NAMES + CITIES + HOBBIES + COLOURS + THINGS)


def train_lm(texts: list[str], directory: Path, seed: int, steps: int = 80, noise_from: Path | None = None,
             noise: float = 0.0) -> Path:
    """Train a 2-layer GPT-2 from scratch on ``texts`` (full batch), save it with the tokenizer.

    ``noise_from``: instead of training, load that model and add Gaussian ``noise`` to every
    weight (an "unlearned" model that is the original in all but bytes).
    """
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    directory.mkdir(parents=True, exist_ok=True)
    tokenizer(directory)
    torch.manual_seed(seed)
    torch.set_num_threads(1)  # two cores shared: one thread is faster than two contending
    if noise_from is not None:
        model = GPT2LMHeadModel.from_pretrained(str(noise_from))
        with torch.no_grad():
            for p in model.parameters():
                p.add_(noise * torch.randn_like(p))
        model.save_pretrained(str(directory))
        return directory
    cfg = GPT2Config(vocab_size=vocab_size(), n_positions=16, n_embd=48, n_layer=2, n_head=2,
                     n_inner=96, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                     bos_token_id=2, eos_token_id=2, pad_token_id=0)
    model = GPT2LMHeadModel(cfg)
    tok = AutoTokenizer.from_pretrained(str(directory))
    enc = tok(texts, padding=True, return_tensors="pt")
    labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        out = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], labels=labels)
        out.loss.backward()
        opt.step()
    model.eval()
    model.save_pretrained(str(directory))
    return directory


def write_case(directory: Path, models: dict[str, str | list[str]], data: str = "data.parquet",
               extra: str = "") -> Path:
    """A case.toml for a language-model case in ``directory``."""
    refs = json.dumps(models["retrained"])
    text = (f'[case]\nname = "tiny lm"\n\n[models]\noriginal = "{models["original"]}"\n'
            f'unlearned = "{models["unlearned"]}"\nretrained = {refs}\n\n'
            f'[data]\npath = "{data}"\ntext = "text"\nquestion = "question"\nanswer = "answer"\n'
            f'perturbed = "perturbed"\nsplit = "split"\n' + extra)
    path = directory / "case.toml"
    path.write_text(text)
    return path
