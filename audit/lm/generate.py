"""Greedy continuations of text prefixes, and teacher-forced argmax hits, once per (role, split).

For every text of a split, tokenised as the model reads it (``[BOS]`` where its tokenizer
adds one): the first ``ceil(prefix_fraction * n)`` of its ``n`` text tokens are the prefix;
the model continues it greedily for as many tokens as the true suffix has (at most
``max_new_tokens``). The same forward pass family also gives, per predicted token, whether
the model's argmax given the *true* preceding tokens is the true token — what extraction
strength needs (a greedy continuation from a true prefix reproduces the rest exactly iff
every later argmax is a hit). Both are computed once per (role, split) through the LM
case's ``TokenCache.memo`` and batched (left padding for generation, right padding for the
teacher-forced pass, attention masks throughout).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from audit.core.torch_threads import one_thread

__all__ = ["Continuations", "continue_prefixes", "argmax_hits", "cached_continuations", "cached_hits"]


@dataclass
class Continuations:
    """Per text: the prefix token ids, the true suffix ids and the model's greedy continuation ids.

    Attributes
    ----------
    prefixes : list of list of int
        Per text of ``n`` tokens after its leading ``[BOS]`` (kept in the prompt when the text
        starts with one), the prompt: that ``[BOS]`` and the first ``ceil(prefix_fraction * n)``
        tokens, at least one and, when ``n >= 2``, at most ``n - 1``.
    suffixes : list of list of int
        Per text, the true tokens after the prefix, at most ``max_new_tokens`` of them.
    generated : list of list of int
        Per text, the model's greedy continuation of the prefix, as long as its suffix.
    """

    prefixes: list[list[int]]
    suffixes: list[list[int]]
    generated: list[list[int]]


def _as_ids(tokenizer: Any, texts: Sequence[str] | Sequence[Sequence[int]]) -> list[list[int]]:
    """Texts tokenised as the model reads them; token-id sequences are taken as they are."""
    return [tokenizer(t)["input_ids"] if isinstance(t, str) else [int(i) for i in t] for t in texts]


def _split_ids(tokenizer: Any, ids: list[int], frac: float, max_new: int) -> tuple[list[int], list[int]]:
    lead = 1 if ids and tokenizer.bos_token_id is not None and ids[0] == tokenizer.bos_token_id else 0
    n = len(ids) - lead
    cut = lead + min(max(1, math.ceil(frac * n)), max(1, n - 1))
    return ids[:cut], ids[cut : cut + max_new]


@one_thread()
@torch.no_grad()
def continue_prefixes(model: Any, tokenizer: Any, texts: Sequence[str] | Sequence[Sequence[int]], *, prefix_fraction: float = 0.5,
                      max_new_tokens: int = 32, batch_size: int = 64) -> Continuations:
    """Greedy continuations of each text's prefix, as long as its true suffix.

    Parameters
    ----------
    model, tokenizer
        A transformers causal LM and its tokenizer (with a pad token).
    texts : sequence of str, or of token-id sequences
        The texts whose prefixes are continued (already tokenised: taken as they are).
    prefix_fraction : float
        Share of each text's tokens given as the prompt (at least one, leaving one to predict).
    max_new_tokens : int
        Longest continuation (and longest suffix compared).
    batch_size : int
        Prompts per ``generate`` call (left-padded).

    Returns
    -------
    Continuations

    Examples
    --------
    >>> from audit.lm.tokenizer import build_tokenizer
    >>> from audit.lm.train import TINY, new_model
    >>> tok = build_tokenizer(["a b c d"])
    >>> c = continue_prefixes(new_model(tok, TINY, 0), tok, ["a b c d", "a b"])
    >>> [len(s) for s in c.suffixes], [len(g) for g in c.generated]
    ([2, 1], [2, 1])
    """
    pairs = [_split_ids(tokenizer, t, prefix_fraction, max_new_tokens) for t in _as_ids(tokenizer, texts)]
    generated: list[list[int]] = [[] for _ in pairs]
    order = sorted(range(len(pairs)), key=lambda i: (len(pairs[i][1]), len(pairs[i][0])))
    pad = tokenizer.pad_token_id
    for s in range(0, len(order), batch_size):
        idx = order[s : s + batch_size]
        width = max(len(pairs[i][0]) for i in idx)
        ids = torch.full((len(idx), width), pad, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for row, i in enumerate(idx):
            p = pairs[i][0]
            ids[row, width - len(p):] = torch.tensor(p)
            mask[row, width - len(p):] = 1
        new = max(len(pairs[i][1]) for i in idx)
        out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=new, min_new_tokens=new,
                             do_sample=False, num_beams=1, pad_token_id=pad,
                             eos_token_id=None) if new > 0 else ids
        for row, i in enumerate(idx):
            generated[i] = out[row, width : width + len(pairs[i][1])].tolist()
    return Continuations([p for p, _ in pairs], [s for _, s in pairs], generated)


@one_thread()
@torch.no_grad()
def argmax_hits(model: Any, tokenizer: Any, texts: Sequence[str] | Sequence[Sequence[int]], *,
                batch_size: int = 64) -> list[np.ndarray]:
    """Per text, per predicted token: is the model's argmax given the true prefix the true token?

    Parameters
    ----------
    model, tokenizer
        A transformers causal LM and its tokenizer (with a pad token).
    texts : sequence of str, or of token-id sequences
        The texts scored (strings are tokenised as the model reads them, ``[BOS]`` included;
        token-id sequences are taken as they are).
    batch_size : int
        Texts per forward pass (right-padded, with an attention mask).

    Returns
    -------
    list of numpy.ndarray
        Per text of ``m`` tokens, a bool array of shape ``(m - 1,)``: entry ``j`` is whether
        the argmax after tokens ``0..j`` is token ``j + 1``.

    Examples
    --------
    >>> from audit.lm.tokenizer import build_tokenizer
    >>> from audit.lm.train import TINY, new_model
    >>> tok = build_tokenizer(["a b c d"])
    >>> [h.shape for h in argmax_hits(new_model(tok, TINY, 0), tok, ["a b c d", "a"])]
    [(4,), (1,)]
    """
    rows = _as_ids(tokenizer, texts)
    out: list[np.ndarray] = [np.zeros(0, dtype=bool)] * len(rows)
    for s in range(0, len(rows), batch_size):
        chunk = rows[s : s + batch_size]
        width = max(len(r) for r in chunk)
        ids = torch.full((len(chunk), width), tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for i, r in enumerate(chunk):
            ids[i, : len(r)] = torch.tensor(r)
            mask[i, : len(r)] = 1
        pred = model(input_ids=ids, attention_mask=mask).logits[:, :-1].argmax(-1)
        hit = (pred == ids[:, 1:]).numpy()
        for i, r in enumerate(chunk):
            out[s + i] = hit[i, : len(r) - 1].copy()
    return out


def _split_tokens(cache: Any, split: str) -> list[list[int]]:
    """The split's texts in the case's shared tokenisation (cut to the models' length)."""
    return [[int(i) for i in ids] for ids in cache.token_ids(split)]


def cached_continuations(cache: Any, role: str, split: str, *, prefix_fraction: float,
                         max_new_tokens: int) -> Continuations:
    """:func:`continue_prefixes` of ``role`` on ``split``'s texts, computed once via ``cache.memo``.

    The texts are the split's shared tokenisation (``cache.token_ids``); the pass is counted
    with ``cache.count_forward`` under ``generate:<split>``. The memo key includes
    ``prefix_fraction`` and ``max_new_tokens``, so other settings compute anew.

    Parameters
    ----------
    cache : TokenCache
        The language-model case's :class:`audit.lm.cache.TokenCache`.
    role : str
        The model that generates.
    split : str
        ``"forget"``, ``"retain"`` or ``"test"``.
    prefix_fraction : float
        Share of each text's tokens given as the prompt.
    max_new_tokens : int
        Longest continuation (and longest suffix compared).

    Returns
    -------
    Continuations
        The prefixes, true suffixes and greedy continuations, in the split's row order.
    """
    def compute() -> Continuations:
        lm = cache.lm(role)
        seqs = _split_tokens(cache, split)
        cache.count_forward(role, len(seqs), f"generate:{split}")
        return continue_prefixes(lm.model, lm.tokenizer, seqs, prefix_fraction=prefix_fraction,
                                 max_new_tokens=max_new_tokens)

    return cache.memo(f"greedy[prefix={prefix_fraction:g},new={max_new_tokens}]", role, split, compute)


def cached_hits(cache: Any, role: str, split: str) -> list[np.ndarray]:
    """:func:`argmax_hits` of ``role`` on ``split``'s texts, computed once via ``cache.memo``.

    The texts are the split's shared tokenisation (``cache.token_ids``); the pass is counted
    with ``cache.count_forward`` under ``argmax_hits:<split>``.

    Parameters
    ----------
    cache : TokenCache
        The language-model case's :class:`audit.lm.cache.TokenCache`.
    role : str
        The model scored.
    split : str
        ``"forget"``, ``"retain"`` or ``"test"``.

    Returns
    -------
    list of numpy.ndarray
        Per text, the bool hits of its predicted tokens, in the split's row order.
    """
    def compute() -> list[np.ndarray]:
        lm = cache.lm(role)
        seqs = _split_tokens(cache, split)
        cache.count_forward(role, len(seqs), f"argmax_hits:{split}")
        return argmax_hits(lm.model, lm.tokenizer, seqs)

    return cache.memo("argmax_hits", role, split, compute)
