"""Baseline unlearning methods for causal LMs: gradient ascent, gradient difference, NPO.

Each method takes a model (a ``transformers`` causal LM, or a loaded
:class:`~audit.lm.loader.LanguageModel` / anything with ``.model`` and ``.tokenizer``), the
forget and retain training strings and a seed, and returns an unlearned **copy** (the
input is never changed). Losses, per forget sequence ``y`` with ``log pi(y)`` the sum of its
token log-probabilities:

* ``gradient_ascent`` — maximise the forget NLL: ``L = -E_f[-log pi(y) / |y|]``;
* ``gradient_difference`` — ascent on forget plus descent on retain:
  ``L = -NLL_f + retain_weight * NLL_r`` (Liu et al. 2022; the TOFU baseline "grad diff");
* ``npo`` — Negative Preference Optimization (Zhang et al. 2024, eq. 3):
  ``L = (2 / beta) E_f[log(1 + (pi_theta(y) / pi_ref(y)) ** beta)]``, computed as
  ``(2 / beta) softplus(beta * (log pi_theta(y) - log pi_ref(y)))``, with ``pi_ref`` the
  frozen input model; its gradient is gradient ascent weighted by how much of the
  sequence's likelihood is left, so it slows down instead of collapsing;
* ``npo_retain`` — NPO plus ``retain_weight`` x the retain NLL (the paper's NPO-RT).

Batches come from a private ``torch.Generator`` seeded with ``seed``; dropout is off in the
bios models, so an unlearned model is a function of its inputs.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from audit.core.torch_threads import one_thread
from audit.lm.train import encode_batch

__all__ = ["UnlearnConfig", "METHODS", "sequence_nll", "npo_loss", "unlearn", "gradient_ascent", "gradient_difference",
           "npo", "npo_retain"]


@dataclass(frozen=True)
class UnlearnConfig:
    """Schedule of an unlearning run.

    Parameters
    ----------
    steps : int
        Optimiser steps (each on one forget batch, and one retain batch where the method uses it).
    lr : float
        Adam learning rate.
    batch_size : int
        Strings per batch.
    beta : float
        NPO's inverse temperature.
    retain_weight : float
        Weight of the retain NLL (gradient difference, NPO + retain).
    max_len : int
        Longest sequence in tokens.
    """

    steps: int = 60
    lr: float = 1e-3
    batch_size: int = 32
    beta: float = 0.1
    retain_weight: float = 1.0
    max_len: int = 40


def sequence_nll(model: Any, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per sequence: the summed next-token NLL and the number of predicted tokens.

    A token is predicted when it and its position are unmasked (``mask[:, 1:] == 1``); the
    first token (``[BOS]``) is never predicted.

    Parameters
    ----------
    model : transformers causal LM
        The model scored (gradients flow unless the caller disables them).
    ids, mask : torch.Tensor
        ``(batch, width)`` input ids and attention mask, right-padded (:func:`audit.lm.train.encode_batch`).

    Returns
    -------
    tuple of torch.Tensor
        ``(nll, n)``, both ``(batch,)`` in the logits' dtype: the summed token NLL (nats)
        and the count of predicted tokens of each sequence.

    Examples
    --------
    >>> from audit.lm.tokenizer import build_tokenizer
    >>> from audit.lm.train import TINY, new_model
    >>> tok = build_tokenizer(["a b c"]); m = new_model(tok, TINY, 0)
    >>> ids, mask = encode_batch(tok, ["a b", "c"], 8)
    >>> nll, n = sequence_nll(m, ids, mask)
    >>> n.tolist()
    [3.0, 2.0]
    """
    logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]
    target, keep = ids[:, 1:], mask[:, 1:].to(logits.dtype)
    tok_nll = F.cross_entropy(logits.transpose(1, 2), target, reduction="none")
    return (tok_nll * keep).sum(1), keep.sum(1)


def npo_loss(logp: torch.Tensor, logp_ref: torch.Tensor, beta: float) -> torch.Tensor:
    """NPO's loss ``(2/beta) mean log(1 + (pi/pi_ref)^beta)`` from sequence log-probabilities.

    At ``pi = pi_ref`` each term is ``(2/beta) log 2``; it falls to 0 as ``pi`` -> 0.

    Parameters
    ----------
    logp : torch.Tensor, shape (batch,)
        Summed token log-probabilities of each forget sequence under the model being unlearned.
    logp_ref : torch.Tensor, shape (batch,)
        The same under the frozen reference (the input model).
    beta : float
        NPO's inverse temperature.

    Returns
    -------
    torch.Tensor
        The scalar loss, ``(2 / beta) * mean(softplus(beta * (logp - logp_ref)))``.

    Examples
    --------
    >>> round(float(npo_loss(torch.zeros(3), torch.zeros(3), 0.5)), 4)   # (2 / 0.5) log 2
    2.7726
    """
    return (2.0 / beta) * F.softplus(beta * (logp - logp_ref)).mean()


def _batches(n: int, size: int, gen: torch.Generator):  # noqa: ANN202
    while True:
        perm = torch.randperm(n, generator=gen)
        for s in range(0, n, size):
            yield perm[s : s + size]


def _mean_nll(model: Any, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    nll, n = sequence_nll(model, ids, mask)
    return nll.sum() / n.sum()


def _ga(model, ref, f, r, cfg):  # noqa: ANN001, ANN202
    return -_mean_nll(model, *f)


def _gd(model, ref, f, r, cfg):  # noqa: ANN001, ANN202
    return -_mean_nll(model, *f) + cfg.retain_weight * _mean_nll(model, *r)


def _npo(model, ref, f, r, cfg):  # noqa: ANN001, ANN202
    nll, _ = sequence_nll(model, *f)
    with torch.no_grad():
        ref_nll, _ = sequence_nll(ref, *f)
    return npo_loss(-nll, -ref_nll, cfg.beta)


def _npo_rt(model, ref, f, r, cfg):  # noqa: ANN001, ANN202
    return _npo(model, ref, f, r, cfg) + cfg.retain_weight * _mean_nll(model, *r)


#: name -> (loss, whether it reads retain batches, whether it needs the frozen reference)
METHODS: dict[str, tuple[Callable[..., torch.Tensor], bool, bool]] = {
    "gradient_ascent": (_ga, False, False),
    "gradient_difference": (_gd, True, False),
    "npo": (_npo, False, True),
    "npo_retain": (_npo_rt, True, True),
}


def _unwrap(model: Any, tokenizer: Any) -> tuple[Any, Any]:
    if hasattr(model, "model") and hasattr(model, "tokenizer"):
        return model.model, tokenizer or model.tokenizer
    if tokenizer is None:
        raise ValueError("a bare model needs tokenizer=")
    return model, tokenizer


@one_thread()
def unlearn(method: str, model: Any, forget_texts: Sequence[str], retain_texts: Sequence[str], *, seed: int,
            config: UnlearnConfig | None = None, tokenizer: Any = None) -> Any:
    """Apply ``method`` to a copy of ``model``; return the unlearned copy in eval mode.

    Parameters
    ----------
    method : str
        One of :data:`METHODS`.
    model : transformers causal LM or LanguageModel
        The original; never modified.
    forget_texts, retain_texts : sequence of str
        Training strings of the forget and retain rows.
    seed : int
        Seeds the batch order.
    config : UnlearnConfig, optional
        Steps, learning rate, beta, retain weight.
    tokenizer : PreTrainedTokenizerFast, optional
        Required when ``model`` is a bare transformers model.

    Returns
    -------
    transformers causal LM
        The unlearned copy.

    Raises
    ------
    ValueError
        When ``method`` is not in :data:`METHODS`, or ``model`` is a bare transformers model
        and ``tokenizer`` is None.

    Examples
    --------
    >>> from audit.lm.tokenizer import build_tokenizer
    >>> from audit.lm.train import LMConfig, train_lm
    >>> texts = ["Bako was born in 1967 .", "Tiru was born in 1980 ."]
    >>> tok = build_tokenizer(texts)
    >>> m = train_lm(tok, texts, LMConfig(n_embd=16, n_layer=1, n_head=1, epochs=2, batch_size=2), seed=0)
    >>> u = unlearn("npo", m, texts[:1], texts[1:], seed=0, tokenizer=tok, config=UnlearnConfig(steps=2))
    >>> u is m, bool(torch.equal(m.lm_head.weight, u.lm_head.weight))
    (False, False)
    """
    if method not in METHODS:
        raise ValueError(f"unknown LM unlearning method {method!r}; available: {sorted(METHODS)}")
    cfg = config or UnlearnConfig()
    base, tok = _unwrap(model, tokenizer)
    loss_fn, uses_retain, uses_ref = METHODS[method]
    ref = copy.deepcopy(base).eval() if uses_ref else None
    student = copy.deepcopy(base).train()
    f_ids, f_mask = encode_batch(tok, forget_texts, cfg.max_len)
    r_ids, r_mask = encode_batch(tok, retain_texts, cfg.max_len) if uses_retain else (f_ids, f_mask)
    gen = torch.Generator().manual_seed(int(seed))
    f_iter, r_iter = _batches(len(f_ids), cfg.batch_size, gen), _batches(len(r_ids), cfg.batch_size, gen)
    opt = torch.optim.Adam(student.parameters(), lr=cfg.lr)
    for _ in range(int(cfg.steps)):
        fi = next(f_iter)
        ri = next(r_iter) if uses_retain else fi
        loss = loss_fn(student, ref, (f_ids[fi], f_mask[fi]), (r_ids[ri], r_mask[ri]), cfg)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt.step()
    return student.eval()


def _named(method: str) -> Callable[..., Any]:
    def run(model: Any, forget_texts: Sequence[str], retain_texts: Sequence[str], *, seed: int,
            config: UnlearnConfig | None = None, tokenizer: Any = None) -> Any:
        return unlearn(method, model, forget_texts, retain_texts, seed=seed, config=config, tokenizer=tokenizer)

    run.__name__ = run.__qualname__ = method
    run.__doc__ = f"""``unlearn({method!r}, ...)``: the interface's per-method form (see :func:`unlearn`).

    Parameters
    ----------
    model : transformers causal LM or LanguageModel
        The original; never modified.
    forget_texts, retain_texts : sequence of str
        Training strings of the forget and retain rows.
    seed : int
        Seeds the batch order.
    config : UnlearnConfig, optional
        Steps, learning rate, beta, retain weight.
    tokenizer : PreTrainedTokenizerFast, optional
        Required when ``model`` is a bare transformers model.

    Returns
    -------
    transformers causal LM
        The unlearned copy, in eval mode.

    Raises
    ------
    ValueError
        When ``model`` is a bare transformers model and ``tokenizer`` is None.
    """
    return run


gradient_ascent = _named("gradient_ascent")
gradient_difference = _named("gradient_difference")
npo = _named("npo")
npo_retain = _named("npo_retain")
