"""Fine-tune only the last blocks of a pretrained causal LM, with the frozen prefix run once.

Fine-tuning a pretrained model on this two-core CPU is affordable when most of it is frozen:
the embeddings and the first ``L - k`` decoder blocks are fixed, so the hidden state entering
block ``L - k`` is the same for a training string whatever the seed and whatever the tail has
learnt. :class:`PrefixStates` computes it once per string (one forward pass of the frozen
prefix); :class:`TailLM` is a small causal LM of the same class holding the last ``k`` blocks,
the final norm and the head, which reads those states instead of token embeddings. Every
training step then costs the ``k`` blocks and the head instead of the whole model, and the
existing training loop (:func:`audit.lm.train.fit_steps`) and unlearning methods
(:func:`audit.lm.unlearn.unlearn`) run on a :class:`TailLM` unchanged: it takes
``input_ids`` / ``attention_mask`` (/ ``labels``) like any transformers causal LM.
:func:`merge_tail` writes the trained blocks back into a copy of the full model, which is
what gets saved and audited.

The split is only valid for architectures whose blocks read nothing but the hidden state
and the token positions (rotary decoders: Llama, Mistral, Qwen2, SmolLM ...); a GPT-2 adds
learnt position embeddings to its inputs and would add them twice. :func:`split_tail` does
not guess: it checks on a probe batch that the tail fed the prefix's states reproduces the
full model's logits, and raises ``ValueError`` otherwise. The head is frozen too: in tied
models (SmolLM2) it *is* the input embedding, which the cached states were computed with.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import torch

from audit.lm.train import encode_batch

__all__ = ["decoder_blocks", "split_tail", "PrefixStates", "TailLM", "merge_tail", "trainable_share"]


def decoder_blocks(model: Any) -> tuple[str, torch.nn.ModuleList]:
    """The decoder blocks of a transformers causal LM: ``(state-dict prefix, ModuleList)``.

    The blocks are the ``ModuleList`` with ``config.num_hidden_layers`` entries (``model.layers``
    in Llama-style models, ``transformer.h`` in GPT-2).

    Parameters
    ----------
    model : transformers.PreTrainedModel
        A causal LM.

    Returns
    -------
    tuple of (str, torch.nn.ModuleList)
        The blocks' dotted name and the blocks.

    Raises
    ------
    ValueError
        When no such list exists.

    Examples
    --------
    >>> from transformers import LlamaConfig, LlamaForCausalLM
    >>> m = LlamaForCausalLM(LlamaConfig(vocab_size=16, hidden_size=8, intermediate_size=16,
    ...                                  num_hidden_layers=3, num_attention_heads=2))
    >>> name, blocks = decoder_blocks(m)
    >>> name, len(blocks)
    ('model.layers', 3)
    """
    n = int(model.config.num_hidden_layers)
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == n:
            return name, module
    raise ValueError(f"{type(model).__name__} has no list of {n} decoder blocks")


def _tail_config(config: Any, k: int) -> Any:
    cfg = copy.deepcopy(config)
    n = int(cfg.num_hidden_layers)
    cfg.num_hidden_layers = k
    for attr in ("layer_types", "sliding_window_pattern_list"):  # per-layer lists follow the blocks
        value = getattr(cfg, attr, None)
        if isinstance(value, list) and len(value) == n:
            setattr(cfg, attr, value[n - k:])
    return cfg


def split_tail(model: Any, k: int, probe_ids: torch.Tensor, probe_mask: torch.Tensor,
               atol: float = 1e-3) -> torch.nn.Module:
    """A copy of ``model``'s last ``k`` blocks, final norm and head as a model of its own class.

    Parameters
    ----------
    model : transformers.PreTrainedModel
        The full causal LM (not modified).
    k : int
        Blocks in the tail, ``1 <= k <= num_hidden_layers``.
    probe_ids, probe_mask : torch.Tensor
        A right-padded batch on which the tail fed the prefix's hidden states must give the
        full model's logits (within ``atol``).
    atol : float
        Largest absolute logit difference accepted on the probe's unpadded positions.

    Returns
    -------
    transformers.PreTrainedModel
        The tail, in eval mode, every parameter frozen except those of its blocks and final
        norm (which :func:`merge_tail` copies back).

    Raises
    ------
    ValueError
        When ``k`` is out of range, the weights do not map, or the probe's logits differ (an
        architecture whose blocks read more than the hidden state, e.g. GPT-2's learnt
        position embeddings).

    Examples
    --------
    >>> from transformers import LlamaConfig, LlamaForCausalLM
    >>> _ = torch.manual_seed(0)
    >>> m = LlamaForCausalLM(LlamaConfig(vocab_size=16, hidden_size=8, intermediate_size=16,
    ...                                  num_hidden_layers=3, num_attention_heads=2)).eval()
    >>> ids = torch.tensor([[1, 5, 7, 2], [1, 3, 2, 0]]); mask = (ids != 0).long()
    >>> tail = split_tail(m, 1, ids, mask)
    >>> len(decoder_blocks(tail)[1]), trainable_share(tail, m) < 0.5
    (1, True)
    """
    name, blocks = decoder_blocks(model)
    n = len(blocks)
    if not 1 <= k <= n:
        raise ValueError(f"k = {k}: the tail needs between 1 and {n} blocks")
    tail = type(model)(_tail_config(model.config, k))
    state = {}
    for key, value in model.state_dict().items():
        if key.startswith(name + "."):
            idx, rest = key[len(name) + 1:].split(".", 1)
            if int(idx) < n - k:
                continue
            key = f"{name}.{int(idx) - (n - k)}.{rest}"
        state[key] = value
    missing, unexpected = tail.load_state_dict(state, strict=False)
    tied = {"lm_head.weight"} if getattr(model.config, "tie_word_embeddings", False) else set()
    if set(missing) - tied or unexpected:
        raise ValueError(f"the tail's weights do not map: missing {sorted(set(missing) - tied)[:3]}, "
                         f"unexpected {sorted(unexpected)[:3]}")
    tail.tie_weights()
    tail.eval()
    tail_name, _ = decoder_blocks(tail)
    for pname, p in tail.named_parameters():
        p.requires_grad_(pname.startswith(tail_name + ".") or _is_final_norm(pname))
    _check_tail(model, tail, n - k, probe_ids, probe_mask, atol)
    return tail


def _is_final_norm(pname: str) -> bool:
    last = pname.rsplit(".", 2)
    return len(last) >= 2 and ("norm" in last[-2] or last[-2].startswith("ln_f"))


def _check_tail(model: Any, tail: Any, at: int, ids: torch.Tensor, mask: torch.Tensor, atol: float) -> None:
    with torch.inference_mode():
        full = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        part = tail(inputs_embeds=full.hidden_states[at], attention_mask=mask).logits
    keep = mask.bool()
    diff = float((full.logits[keep] - part[keep]).abs().max())
    if not diff <= atol:
        raise ValueError(f"{type(model).__name__} cannot be split after block {at}: the tail fed the "
                         f"prefix's hidden states is off by {diff:.3g} in the logits (its blocks read more "
                         "than the hidden state, e.g. learnt position embeddings); fine-tune all blocks")


def trainable_share(part: torch.nn.Module, whole: torch.nn.Module) -> float:
    """Trainable parameters of ``part`` as a share of all parameters of ``whole``.

    Parameters
    ----------
    part, whole : torch.nn.Module
        Typically a tail from :func:`split_tail` and the full model.

    Returns
    -------
    float
        ``sum(trainable numel of part) / sum(numel of whole)``.

    Examples
    --------
    >>> lin = torch.nn.Linear(3, 1); _ = lin.bias.requires_grad_(False)
    >>> trainable_share(lin, lin)
    0.75
    """
    return sum(p.numel() for p in part.parameters() if p.requires_grad) / sum(p.numel() for p in whole.parameters())


class PrefixStates:
    """The frozen prefix's hidden states of a set of strings, computed once, looked up by token ids.

    Parameters
    ----------
    model : transformers.PreTrainedModel
        The full (frozen) model.
    at : int
        The block whose input is stored (``hidden_states[at]``: ``num_hidden_layers - k``).
    tokenizer : PreTrainedTokenizerBase
        Encodes the strings as the training loop does (:func:`audit.lm.train.encode_batch`).
    texts : sequence of str
        Every string the tail will be trained or unlearned on.
    max_len : int
        The training loop's longest sequence.
    batch_size : int
        Strings per forward pass.

    Examples
    --------
    >>> from transformers import LlamaConfig, LlamaForCausalLM
    >>> from audit.lm.tokenizer import build_tokenizer
    >>> tok = build_tokenizer(["a b c"])
    >>> m = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=8, intermediate_size=16,
    ...                                  num_hidden_layers=2, num_attention_heads=2)).eval()
    >>> states = PrefixStates(m, 1, tok, ["a b", "c"], 8)
    >>> len(states), tuple(states.lookup(*encode_batch(tok, ["c"], 8)).shape)
    (2, (1, 3, 8))
    """

    def __init__(self, model: Any, at: int, tokenizer: Any, texts: Sequence[str], max_len: int,
                 batch_size: int = 32) -> None:
        self._states: dict[tuple[int, ...], torch.Tensor] = {}
        uniq = list(dict.fromkeys(texts))
        for start in range(0, len(uniq), batch_size):
            ids, mask = encode_batch(tokenizer, uniq[start:start + batch_size], max_len)
            with torch.inference_mode():
                hs = model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states[at]
            for row, m, h in zip(ids, mask, hs, strict=True):
                n = int(m.sum())
                self._states[tuple(row[:n].tolist())] = h[:n].clone()
        self.width = int(next(iter(self._states.values())).shape[-1]) if self._states else 0

    def __len__(self) -> int:
        return len(self._states)

    def lookup(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The stored states of a right-padded batch, zeros on padding: ``(batch, width, hidden)``.

        Parameters
        ----------
        ids, mask : torch.Tensor
            ``(batch, width)`` token ids and attention mask (right padding).

        Returns
        -------
        torch.Tensor
            The prefix's hidden states of each row.

        Raises
        ------
        KeyError
            For a row whose tokens were not among the strings given at construction.
        """
        out = torch.zeros(ids.shape[0], ids.shape[1], self.width)
        for i, (row, m) in enumerate(zip(ids, mask, strict=True)):
            n = int(m.sum())
            key = tuple(row[:n].tolist())
            if key not in self._states:
                raise KeyError(f"row {i}: no prefix state for these tokens (they were not given to PrefixStates)")
            out[i, :n] = self._states[key]
        return out


class TailLM(torch.nn.Module):
    """A tail (:func:`split_tail`) that reads token ids, through the stored prefix states.

    ``forward(input_ids, attention_mask, labels=None)`` returns the tail's output (``.logits``,
    ``.loss``), as the full model would on those tokens: what :func:`audit.lm.train.fit_steps`
    and :func:`audit.lm.unlearn.unlearn` call. ``copy.deepcopy`` copies the tail and shares
    nothing trainable with the original.

    Parameters
    ----------
    tail : transformers.PreTrainedModel
        From :func:`split_tail`.
    states : PrefixStates
        The prefix states of every string it will read.

    Examples
    --------
    >>> from transformers import LlamaConfig, LlamaForCausalLM
    >>> from audit.lm.tokenizer import build_tokenizer
    >>> tok = build_tokenizer(["a b c"])
    >>> m = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=8, intermediate_size=16,
    ...                                  num_hidden_layers=2, num_attention_heads=2)).eval()
    >>> ids, mask = encode_batch(tok, ["a b", "c"], 8)
    >>> t = TailLM(split_tail(m, 1, ids, mask), PrefixStates(m, 1, tok, ["a b", "c"], 8))
    >>> bool(torch.allclose(t(input_ids=ids, attention_mask=mask).logits[0],
    ...                     m(input_ids=ids, attention_mask=mask).logits[0], atol=1e-4))
    True
    """

    def __init__(self, tail: Any, states: PrefixStates) -> None:
        super().__init__()
        self.tail = tail
        self.states = states

    @property
    def config(self) -> Any:
        """The tail's config (read by callers that inspect ``model.config``)."""
        return self.tail.config

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                labels: torch.Tensor | None = None) -> Any:
        """The tail's output on the stored prefix states of ``input_ids`` (see the class docstring).

        Parameters
        ----------
        input_ids, attention_mask : torch.Tensor
            ``(batch, width)`` right-padded token ids and mask; every row's tokens must have been
            given to the :class:`PrefixStates`.
        labels : torch.Tensor, optional
            Next-token targets (``-100`` ignored), as for any transformers causal LM.

        Returns
        -------
        transformers.modeling_outputs.CausalLMOutputWithPast
            ``.logits`` (and ``.loss`` with ``labels``).
        """
        embeds = self.states.lookup(input_ids, attention_mask)
        return self.tail(inputs_embeds=embeds, attention_mask=attention_mask, labels=labels)


def merge_tail(model: Any, tail: Any) -> Any:
    """A copy of ``model`` with its last blocks and final norm replaced by ``tail``'s.

    Parameters
    ----------
    model : transformers.PreTrainedModel
        The full model the tail was split from (not modified).
    tail : transformers.PreTrainedModel or TailLM
        The trained tail.

    Returns
    -------
    transformers.PreTrainedModel
        The full model with the tail's trainable weights, in eval mode.

    Examples
    --------
    >>> from transformers import LlamaConfig, LlamaForCausalLM
    >>> m = LlamaForCausalLM(LlamaConfig(vocab_size=16, hidden_size=8, intermediate_size=16,
    ...                                  num_hidden_layers=3, num_attention_heads=2)).eval()
    >>> ids = torch.tensor([[1, 5, 7, 2]]); mask = torch.ones_like(ids)
    >>> tail = split_tail(m, 1, ids, mask)
    >>> with torch.no_grad():
    ...     _ = decoder_blocks(tail)[1][0].mlp.up_proj.weight.add_(1.0)
    >>> merged = merge_tail(m, tail)
    >>> bool(torch.equal(merged.model.layers[2].mlp.up_proj.weight, decoder_blocks(tail)[1][0].mlp.up_proj.weight))
    True
    """
    tail = tail.tail if isinstance(tail, TailLM) else tail
    name, blocks = decoder_blocks(model)
    tail_name, tail_blocks = decoder_blocks(tail)
    offset = len(blocks) - len(tail_blocks)
    out = copy.deepcopy(model)
    state = {}
    for key, p in tail.named_parameters():
        if not p.requires_grad:
            continue
        if key.startswith(tail_name + "."):
            idx, rest = key[len(tail_name) + 1:].split(".", 1)
            key = f"{name}.{int(idx) + offset}.{rest}"
        state[key] = p.detach().clone()
    missing, unexpected = out.load_state_dict(state, strict=False)
    if unexpected:
        raise ValueError(f"tail weights not in the model: {sorted(unexpected)[:3]}")
    return out.eval()
