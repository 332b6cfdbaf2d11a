"""A very small trained GPT-2 on a handful of bios rows, shared by the unit tests (module-cached)."""

from __future__ import annotations

import functools
import itertools
from typing import Any

from audit.lm.bios import BiosConfig, make_bios, training_strings
from audit.lm.tokenizer import build_tokenizer
from audit.lm.train import LMConfig, train_lm

MICRO = LMConfig(n_embd=32, n_layer=1, n_head=2, epochs=12, batch_size=16, lr=1e-2)


@functools.lru_cache(maxsize=1)
def micro() -> tuple[Any, Any, Any]:
    """``(model, tokenizer, frame)``: 12 training people, 4 held out, a one-layer model."""
    df = make_bios(5, BiosConfig(n_train=12, n_test=4, forget_fraction=0.25))
    tok = build_tokenizer([*df["text"], *df["question"], *df["answer"], *itertools.chain(*df["perturbed"])])
    return train_lm(tok, training_strings(df), MICRO, seed=0), tok, df
