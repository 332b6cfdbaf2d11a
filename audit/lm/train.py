"""Train a small GPT-2-style causal LM from scratch on CPU, seeded, and save it as a HF directory.

The model is ``transformers.GPT2LMHeadModel`` with dropout off, initialised under the
engine's seeding lock (:data:`audit.training.loop.SEEDING`, the pattern of
:func:`audit.training.recipes.seeded_mlp`: torch's global generator is seeded and drawn from while no
other thread can draw) and trained with AdamW on batches drawn by a private
``torch.Generator``, on one intra-op thread — so the weights depend on the seed and the data
alone. :func:`save_lm` writes ``config.json``, ``model.safetensors`` and the tokenizer files:
a directory ``transformers.AutoModelForCausalLM.from_pretrained(dir, local_files_only=True)``
loads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from audit.core.torch_threads import one_thread
from audit.lm.tokenizer import save_tokenizer
from audit.training.loop import SEEDING

__all__ = ["LMConfig", "TINY", "SCENARIO", "encode_batch", "new_model", "train_lm", "fit_steps", "save_lm"]


@dataclass(frozen=True)
class LMConfig:
    """Architecture and training schedule of a bios model.

    Parameters
    ----------
    n_embd, n_layer, n_head : int
        Width, depth and heads of the GPT-2 blocks.
    n_positions : int
        Longest sequence (tokens, ``[BOS]`` and ``[EOS]`` included).
    epochs, batch_size : int
        Passes over the training strings and strings per step.
    lr : float
        Peak AdamW learning rate (linear warm-up over the first 5 % of steps, then linear decay).
    """

    n_embd: int = 64
    n_layer: int = 2
    n_head: int = 4
    n_positions: int = 40
    epochs: int = 30
    batch_size: int = 32
    lr: float = 3e-3


TINY = LMConfig(n_embd=48, n_layer=2, n_head=2, epochs=40, batch_size=32, lr=5e-3)
SCENARIO = LMConfig()


def encode_batch(tokenizer: PreTrainedTokenizerFast, texts: Sequence[str],
                 max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(input_ids, attention_mask)``: ``[BOS] text [EOS]``, right-padded with ``[PAD]``.

    Parameters
    ----------
    tokenizer : PreTrainedTokenizerFast
        From :func:`audit.lm.tokenizer.build_tokenizer` (encoding prepends ``[BOS]``).
    texts : sequence of str
        The strings to encode (at least one).
    max_len : int
        Longest row in tokens: an encoding is cut to its first ``max_len - 1`` tokens
        before ``[EOS]`` is appended.

    Returns
    -------
    tuple of torch.Tensor
        ``(input_ids, attention_mask)``, both int64 of shape ``(len(texts), width)`` with
        ``width`` the longest row; the mask is 1 on real tokens, 0 on padding.

    Examples
    --------
    >>> from audit.lm.tokenizer import build_tokenizer
    >>> tok = build_tokenizer(["a b c"])
    >>> ids, mask = encode_batch(tok, ["a b", "c"], 8)
    >>> ids.tolist(), mask.tolist()
    ([[2, 4, 5, 1], [2, 6, 1, 0]], [[1, 1, 1, 1], [1, 1, 1, 0]])
    """
    rows = [tokenizer(t)["input_ids"][: max_len - 1] + [tokenizer.eos_token_id] for t in texts]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
    return ids, mask


def new_model(tokenizer: PreTrainedTokenizerFast, config: LMConfig, seed: int) -> GPT2LMHeadModel:
    """A freshly initialised GPT-2 whose weights depend on ``seed`` alone (dropout off).

    ``torch.manual_seed(seed)`` and the initialisation run under the engine's seeding lock,
    so no other thread draws from torch's global generator in between.

    Parameters
    ----------
    tokenizer : PreTrainedTokenizerFast
        Gives the vocabulary size and the ``[BOS]``, ``[EOS]`` and ``[PAD]`` ids.
    config : LMConfig
        The architecture (``n_embd``, ``n_layer``, ``n_head``, ``n_positions``).
    seed : int
        Seeds the initial weights.

    Returns
    -------
    transformers.GPT2LMHeadModel
        Untrained, with every dropout probability 0.

    Examples
    --------
    >>> from audit.lm.tokenizer import build_tokenizer
    >>> tok = build_tokenizer(["a b c"])
    >>> a, b = new_model(tok, TINY, 3), new_model(tok, TINY, 3)
    >>> bool(torch.equal(a.transformer.wte.weight, b.transformer.wte.weight))
    True
    """
    cfg = GPT2Config(vocab_size=len(tokenizer), n_positions=config.n_positions, n_embd=config.n_embd,
                     n_layer=config.n_layer, n_head=config.n_head, resid_pdrop=0.0, embd_pdrop=0.0,
                     attn_pdrop=0.0, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                     pad_token_id=tokenizer.pad_token_id)
    with SEEDING:
        torch.manual_seed(int(seed))
        model = GPT2LMHeadModel(cfg)
    return model


def _labels(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return ids.masked_fill(mask == 0, -100)


@one_thread()
def fit_steps(model: GPT2LMHeadModel, tokenizer: PreTrainedTokenizerFast, texts: Sequence[str],
              config: LMConfig, seed: int) -> GPT2LMHeadModel:
    """Train ``model`` in place on ``texts`` (next-token cross-entropy) and return it in eval mode.

    ``config.epochs`` passes, each over a fresh permutation of the strings in batches of
    ``config.batch_size`` (padding excluded from the loss); AdamW (weight decay 0.01,
    betas 0.9 / 0.98) at peak ``config.lr`` with linear warm-up over the first 5 % of the
    steps and linear decay after, gradients clipped to norm 1, on one intra-op thread. The
    order of the strings comes from ``torch.Generator().manual_seed(seed)``; nothing else is
    random (dropout is off), so the result is a function of its arguments.

    Parameters
    ----------
    model : transformers.GPT2LMHeadModel
        The model trained (modified in place), e.g. from :func:`new_model`.
    tokenizer : PreTrainedTokenizerFast
        Encodes the texts (:func:`encode_batch`, cut to ``config.n_positions`` tokens).
    texts : sequence of str
        The training strings.
    config : LMConfig
        The schedule (``epochs``, ``batch_size``, ``lr``, ``n_positions``).
    seed : int
        Seeds the batch order.

    Returns
    -------
    transformers.GPT2LMHeadModel
        ``model`` itself, trained, in eval mode.
    """
    ids, mask = encode_batch(tokenizer, texts, config.n_positions)
    gen = torch.Generator().manual_seed(int(seed))
    n = len(ids)
    steps_per_epoch = -(-n // config.batch_size)
    total = max(1, steps_per_epoch * config.epochs)
    warm = max(1, total // 20)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.01, betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    model.train()
    for _ in range(config.epochs):
        perm = torch.randperm(n, generator=gen)
        for start in range(0, n, config.batch_size):
            idx = perm[start : start + config.batch_size]
            width = int(mask[idx].sum(1).max())
            b_ids, b_mask = ids[idx, :width], mask[idx, :width]
            out = model(input_ids=b_ids, attention_mask=b_mask, labels=_labels(b_ids, b_mask))
            opt.zero_grad()
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
    return model.eval()


def train_lm(tokenizer: PreTrainedTokenizerFast, texts: Sequence[str], config: LMConfig,
             seed: int) -> GPT2LMHeadModel:
    """A GPT-2 trained from scratch on ``texts`` with ``seed`` (initialisation and order).

    Parameters
    ----------
    tokenizer : PreTrainedTokenizerFast
        From :func:`audit.lm.tokenizer.build_tokenizer`.
    texts : sequence of str
        The training strings (:func:`audit.lm.bios.training_strings`).
    config : LMConfig
        Architecture and schedule (:data:`TINY` for tests, :data:`SCENARIO` for the scenario).
    seed : int
        Seeds the initialisation and the batch order.

    Returns
    -------
    transformers.GPT2LMHeadModel
        In eval mode.

    Examples
    --------
    >>> from audit.lm.tokenizer import build_tokenizer
    >>> texts = ["Bako was born in 1967 .", "Tiru was born in 1980 ."]
    >>> tok = build_tokenizer(texts)
    >>> m = train_lm(tok, texts, LMConfig(n_embd=16, n_layer=1, n_head=1, epochs=2, batch_size=2), seed=0)
    >>> m.training
    False
    """
    return fit_steps(new_model(tokenizer, config, seed), tokenizer, texts, config, seed)


def save_lm(model: GPT2LMHeadModel, tokenizer: PreTrainedTokenizerFast, directory: str | Path,
            meta: dict | None = None) -> Path:
    """Write ``model`` (safetensors) and ``tokenizer`` into ``directory``; return the directory.

    ``meta`` (e.g. the seed, the training splits, the :class:`LMConfig`) is recorded in
    ``config.json`` under ``unlearn_audit``.

    Parameters
    ----------
    model : transformers.GPT2LMHeadModel
        The model saved; when ``meta`` is given, its ``config.unlearn_audit`` is set to it.
    tokenizer : PreTrainedTokenizerFast
        Saved alongside (:func:`audit.lm.tokenizer.save_tokenizer`).
    directory : str or Path
        Where the files go; created, with its parents, if needed.
    meta : dict, optional
        Provenance recorded in ``config.json``; :class:`LMConfig` values are stored as dicts.

    Returns
    -------
    Path
        ``directory``, holding ``config.json``, ``generation_config.json``,
        ``model.safetensors`` and the tokenizer files.

    Examples
    --------
    >>> import tempfile
    >>> from audit.lm.tokenizer import build_tokenizer
    >>> tok = build_tokenizer(["a b"])
    >>> d = save_lm(new_model(tok, TINY, 0), tok, tempfile.mkdtemp(), {"seed": 0})
    >>> sorted(p.name for p in d.iterdir() if p.suffix in (".json", ".safetensors"))[:2]
    ['config.json', 'generation_config.json']
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    if meta is not None:
        model.config.unlearn_audit = {k: (asdict(v) if isinstance(v, LMConfig) else v) for k, v in meta.items()}
    model.save_pretrained(str(out), safe_serialization=True)
    save_tokenizer(tokenizer, out)
    return out
