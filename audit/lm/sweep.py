"""Batched forward sweeps of language models: the joint sweep of a split, and prompt-continuation pairs.

Texts are batched longest first (right padding, attention masks, next-token targets shifted
by one); each batch runs through **every** model, and while all models' ``[tokens,
vocabulary]`` log-softmaxes of that batch are in memory, the per-token values are formed and
kept as float32: ``log p(x_t | x_<t)``, the mean ``mu_t`` and standard deviation ``sigma_t``
of ``log p`` under the model's own next-token distribution (Min-K%++), and for every
reference ``R`` and every other model ``c`` the token ``KL(R || c)`` and whether their top-1
tokens disagree. Then the batch's distributions are dropped, so memory is bounded by one batch
(:func:`batch_plan`: at most ``max_batch_bytes`` of log-probabilities over all models, at least
one text), not by the split. :class:`audit.lm.cache.TokenCache` runs the sweep on a split's
first read and counts the passes; see ``docs/decisions/0014-lm-divergence-joint-sweep.md``.

The conditional log-probabilities of continuations given prompts (:func:`join_pairs`,
:func:`continuation_logprobs`) run one model over prompt-continuation pairs, batched the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from audit.lm.ragged import Ragged
from audit.shared.errors import BadInput, one_line

if TYPE_CHECKING:  # pragma: no cover
    from audit.lm.loader import LanguageModel

__all__ = ["batch_plan", "next_token_logsoftmax", "joint_sweep", "join_pairs", "continuation_logprobs"]


def batch_plan(seqs: Sequence[np.ndarray], vocab: int, models: int, max_rows: int,
               max_batch_bytes: int) -> list[np.ndarray]:
    """Index batches, longest texts first, each within the byte bound (at least one text).

    A batch of ``b`` texts whose longest has ``L`` tokens holds ``4 b L vocab (models + 1)``
    bytes of float32 log-probabilities (every model's, and one more for the pair being formed).

    Parameters
    ----------
    seqs : sequence of ndarray
        The token ids of each text.
    vocab : int
        The largest vocabulary among the models.
    models : int
        Models run over each batch.
    max_rows : int
        Most texts per batch.
    max_batch_bytes : int
        Bound on one batch's log-probabilities (float32 bytes).

    Returns
    -------
    list of ndarray
        Indices into ``seqs`` per batch; together every text once, longest first (stable).

    Examples
    --------
    >>> seqs = [np.zeros(n) for n in (3, 9, 5, 9)]
    >>> [b.tolist() for b in batch_plan(seqs, vocab=10, models=1, max_rows=64, max_batch_bytes=1500)]
    [[1, 3], [2, 0]]
    """
    order = np.argsort([-len(s) for s in seqs], kind="stable")
    out, start = [], 0
    while start < len(order):
        longest = len(seqs[order[start]])
        rows = max(1, min(max_rows, max_batch_bytes // max(1, 4 * longest * vocab * (models + 1))))
        out.append(order[start:start + rows])
        start += rows
    return out


def next_token_logsoftmax(lm: LanguageModel, seqs: Sequence[np.ndarray], field: str,
                          where: str) -> tuple[Any, Any]:
    """One batched forward call: the log-softmax of the next-token predictions of ``seqs``.

    Parameters
    ----------
    lm : LanguageModel
        The model (``model``, ``tokenizer.pad_token_id``).
    seqs : sequence of ndarray
        One batch's token ids, right-padded with the pad token (0 without one).
    field : str
        The model's case-file field, named when it fails.
    where : str
        What the texts are (a split, or a key), for messages.

    Returns
    -------
    lsm : torch.Tensor, shape (b, L - 1, V)
        float32 log-probabilities of the token after each position but the last.
    ids : torch.Tensor, shape (b, L)
        The padded token ids (``ids[:, 1:]`` are the predicted tokens).

    Raises
    ------
    BadInput
        The model fails on the texts, or gives NaN/inf log-probabilities at a predicted
        (unpadded) position.

    Examples
    --------
    >>> import types, torch
    >>> class Uniform(torch.nn.Module):
    ...     def forward(self, input_ids, attention_mask):
    ...         return types.SimpleNamespace(logits=torch.zeros(*input_ids.shape, 4))
    >>> lm = types.SimpleNamespace(model=Uniform(), tokenizer=types.SimpleNamespace(pad_token_id=0))
    >>> lsm, ids = next_token_logsoftmax(lm, [np.array([1, 2, 3]), np.array([2, 1])], "models.unlearned", "test")
    >>> tuple(lsm.shape), ids.tolist()
    ((2, 2, 4), [[1, 2, 3], [2, 1, 0]])
    """
    import torch

    L = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), L), int(lm.tokenizer.pad_token_id or 0), dtype=torch.long)
    mask = torch.zeros((len(seqs), L), dtype=torch.long)
    for j, s in enumerate(seqs):
        ids[j, :len(s)] = torch.from_numpy(np.asarray(s, dtype=np.int64))
        mask[j, :len(s)] = 1
    try:
        with torch.inference_mode():
            logits = lm.model(input_ids=ids, attention_mask=mask).logits
    except Exception as exc:  # noqa: BLE001 - name the model and split, not a traceback
        raise BadInput(field, f"fails on the {where} texts: {one_line(exc)}") from exc
    lsm = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    if not bool(torch.isfinite(lsm[mask[:, 1:].bool()]).all()):
        raise BadInput(field, f"NaN/inf next-token log-probabilities on the {where} texts")
    return lsm, ids


def joint_sweep(seqs: Sequence[np.ndarray], roles: Sequence[str], references: Sequence[str],
                batches: Sequence[np.ndarray],
                forward: Callable[[str, list[np.ndarray]], tuple[Any, Any]]) -> dict[str, dict[Any, Ragged]]:
    """Every model over the texts, batch by batch: per-token values and the pairs' divergences.

    Parameters
    ----------
    seqs : sequence of ndarray
        The split's token ids, one array per text.
    roles : sequence of str
        Every model's role.
    references : sequence of str
        The reference roles (among ``roles``); each is paired with every other role.
    batches : sequence of ndarray
        Indices into ``seqs`` (:func:`batch_plan`).
    forward : callable
        ``forward(role, batch)``: ``(lsm, ids)`` of :func:`next_token_logsoftmax` for that
        role's model on the batch's texts.

    Returns
    -------
    dict
        ``out[what][key]``, a :class:`Ragged` per text laid out alike (``len(text) - 1``
        float32 values): ``what`` ``"logp"``, ``"mu"``, ``"sigma"`` keyed by role (sigma: the
        square root of the variance clamped at 0), and ``"kl"`` (clamped at 0), ``"dis"``
        (0.0 or 1.0) keyed by ``(reference, role)``.

    Examples
    --------
    >>> import types, torch
    >>> class Uniform(torch.nn.Module):
    ...     def forward(self, input_ids, attention_mask):
    ...         return types.SimpleNamespace(logits=torch.zeros(*input_ids.shape, 4))
    >>> lm = types.SimpleNamespace(model=Uniform(), tokenizer=types.SimpleNamespace(pad_token_id=0))
    >>> seqs = [np.array([1, 2, 3]), np.array([2, 1])]
    >>> out = joint_sweep(seqs, ["unlearned", "retrained:0"], ["retrained:0"], [np.array([0, 1])],
    ...                   lambda role, batch: next_token_logsoftmax(lm, batch, role, "test"))
    >>> out["logp"]["unlearned"].means().round(4).tolist(), out["kl"][("retrained:0", "unlearned")].values.tolist()
    ([-1.3863, -1.3863], [0.0, 0.0, 0.0])
    """
    pairs = [(r, c) for r in references for c in roles if c != r]
    lengths = np.array([max(len(s) - 1, 0) for s in seqs], dtype=np.int64)
    offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64)
    total = int(offsets[-1])
    flat = {(what, r): np.empty(total, np.float32) for what in ("logp", "mu", "sigma") for r in roles}
    flat.update({(what, p): np.empty(total, np.float32) for what in ("kl", "dis") for p in pairs})
    for idx in batches:
        batch = [seqs[i] for i in idx]
        lsm: dict[str, Any] = {}
        for r in roles:
            lsm[r], ids = forward(r, batch)
            target = ids[:, 1:].unsqueeze(-1)
            p = lsm[r].exp()
            mu = (p * lsm[r]).sum(-1)
            var = (p * lsm[r].square()).sum(-1) - mu.square()
            _scatter(flat, ("logp", r), lsm[r].gather(-1, target).squeeze(-1), idx, offsets, lengths)
            _scatter(flat, ("mu", r), mu, idx, offsets, lengths)
            _scatter(flat, ("sigma", r), var.clamp_min(0).sqrt(), idx, offsets, lengths)
        for r in references:
            p_r, top_r = lsm[r].exp(), lsm[r].argmax(-1)
            for c in roles:
                if c != r:
                    kl = (p_r * (lsm[r] - lsm[c])).sum(-1).clamp_min(0)
                    _scatter(flat, ("kl", (r, c)), kl, idx, offsets, lengths)
                    _scatter(flat, ("dis", (r, c)), (top_r != lsm[c].argmax(-1)).float(), idx, offsets, lengths)
        del lsm
    out: dict[str, dict[Any, Ragged]] = {w: {} for w in ("logp", "mu", "sigma", "kl", "dis")}
    for (what, key), values in flat.items():
        out[what][key] = Ragged(values, offsets)
    return out


def _scatter(flat: dict, key: tuple, values: Any, idx: np.ndarray, offsets: np.ndarray,
             lengths: np.ndarray) -> None:
    """Copy a batch's ``[b, L-1]`` values into the flat array of ``key``, each text at its offset."""
    arr = values.detach().float().numpy()
    dest = flat[key]
    for j, i in enumerate(idx):
        n = int(lengths[i])
        dest[offsets[i]:offsets[i] + n] = arr[j, :n]


def join_pairs(tokenizer: Any, prompts: Sequence[str], continuations: Sequence[str],
               limit: int) -> tuple[list[np.ndarray], list[int]]:
    """Each prompt and its continuation tokenized apart and joined, so the boundary is exact.

    Parameters
    ----------
    tokenizer : callable
        ``tokenizer(text, add_special_tokens=...)["input_ids"]`` (a Hugging Face tokenizer).
    prompts : sequence of str
        Prompts, tokenized with the tokenizer's special tokens.
    continuations : sequence of str
        One continuation per prompt, tokenized without special tokens.
    limit : int
        Most tokens per joined pair; a longer prompt loses its first tokens.

    Returns
    -------
    seqs : list of ndarray
        The joined int64 token ids of each pair.
    starts : list of int
        Where each pair's continuation starts in its ``seqs`` entry.

    Raises
    ------
    ValueError
        A pair has an empty prompt or continuation, or a continuation of at least ``limit`` tokens.

    Examples
    --------
    >>> tok = lambda text, add_special_tokens: {"input_ids": [0] * add_special_tokens + [len(w) for w in text.split()]}
    >>> seqs, starts = join_pairs(tok, ["a bb ccc"], ["dddd"], limit=3)
    >>> seqs[0].tolist(), starts
    ([2, 3, 4], [2])
    """
    seqs, starts = [], []
    for i, (p, c) in enumerate(zip(prompts, continuations, strict=True)):
        pi = tokenizer(p, add_special_tokens=True)["input_ids"]
        ci = tokenizer(c, add_special_tokens=False)["input_ids"]
        if not pi or not ci or len(ci) >= limit:
            raise ValueError(f"pair {i}: the prompt and the continuation need >= 1 token each and "
                             f"fit {limit} tokens together")
        pi = pi[max(0, len(pi) + len(ci) - limit):]
        seqs.append(np.asarray(pi + ci, dtype=np.int64))
        starts.append(len(pi))
    return seqs, starts


def continuation_logprobs(seqs: Sequence[np.ndarray], starts: Sequence[int], batches: Sequence[np.ndarray],
                          forward: Callable[[list[np.ndarray]], tuple[Any, Any]]) -> Ragged:
    """One model over joined pairs, batch by batch: ``log p`` of each continuation token.

    Parameters
    ----------
    seqs, starts : sequence
        The joined pairs and where their continuations start (:func:`join_pairs`).
    batches : sequence of ndarray
        Indices into ``seqs`` (:func:`batch_plan`).
    forward : callable
        ``forward(batch)``: ``(lsm, ids)`` of :func:`next_token_logsoftmax` on the batch's pairs.

    Returns
    -------
    Ragged
        One row per pair: the float32 log-probability of each continuation token given the
        prompt and the continuation's earlier tokens (nats).

    Examples
    --------
    >>> import types, torch
    >>> class Uniform(torch.nn.Module):
    ...     def forward(self, input_ids, attention_mask):
    ...         return types.SimpleNamespace(logits=torch.zeros(*input_ids.shape, 4))
    >>> lm = types.SimpleNamespace(model=Uniform(), tokenizer=types.SimpleNamespace(pad_token_id=0))
    >>> seqs = [np.array([1, 2, 3]), np.array([2, 1])]
    >>> out = continuation_logprobs(seqs, [1, 1], [np.array([0, 1])],
    ...                             lambda batch: next_token_logsoftmax(lm, batch, "models.original", "answer"))
    >>> out.lengths.tolist(), out.means().round(4).tolist()
    ([2, 1], [-1.3863, -1.3863])
    """
    rows: list[np.ndarray] = [np.zeros(0, np.float32)] * len(seqs)
    for idx in batches:
        batch = [seqs[i] for i in idx]
        lsm, ids = forward(batch)
        lp = lsm.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1).numpy()
        for j, i in enumerate(idx):
            rows[i] = lp[j, starts[i] - 1:len(seqs[i]) - 1].astype(np.float32)
    return Ragged.from_rows(rows)
