"""Per-token outputs of language models: every (model, split) runs through its model once.

:class:`TokenCache` is a language-model case's ``ctx.cache``. The first read of any split's
outputs runs **every** model over that split's texts in one sweep, batch by batch (right
padding, attention masks, next-token targets shifted by one), and keeps, per predicted token,
float32 values only:

* ``log p(x_t | x_<t)`` under each model (:meth:`TokenCache.token_logprobs`);
* the mean ``mu_t = sum_v p(v) log p(v)`` and standard deviation ``sigma_t`` of ``log p`` under
  the model's own next-token distribution, which Min-K%++ normalises with
  (:meth:`TokenCache.token_moments`);
* for every retrained reference ``R`` and every other model ``c``, ``KL(R || c)`` of the two
  next-token distributions and whether their top-1 tokens disagree (:meth:`TokenCache.kl`).

The sweep (:mod:`audit.lm.sweep`) holds the full ``[tokens, vocabulary]`` distributions only
for the batch being processed (all models' at once, which is what the divergences need), so
memory is bounded by ``max_batch_bytes``, not by the split; values come back as
:class:`audit.lm.ragged.Ragged` rows. Texts are cut to the case's ``max_tokens`` (the models'
position limit) when the case is built. ``calls[(role, split)]`` counts full passes of a model
over a split (one, whatever the number of checks reading it) and ``batches`` the batched
forward calls; see ``docs/decisions/0014-lm-divergence-joint-sweep.md``.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from audit.core.cost import tally
from audit.lm.case_view import CaseView
from audit.lm.ragged import Ragged
from audit.lm.sweep import (
    batch_plan,
    continuation_logprobs,
    join_pairs,
    joint_sweep,
    next_token_logsoftmax,
)

if TYPE_CHECKING:  # pragma: no cover
    from audit.lm.case import LanguageModelCase

__all__ = ["TokenCache", "MAX_BATCH_BYTES"]

MAX_BATCH_BYTES = 256 * 2**20
"""Largest float32 log-probability block (all models of one batch) held at once."""
_MAX_ROWS = 64


def _digest(*parts: Sequence[str]) -> str:
    h = hashlib.sha256()
    for seq in parts:
        for s in seq:
            h.update(s.encode("utf-8", "surrogatepass") + b"\0")
        h.update(b"\1")
    return h.hexdigest()


class TokenCache(CaseView):
    """The per-token output cache of a :class:`audit.lm.case.LanguageModelCase` (module docstring).

    The case's roles, models and text columns are read through the base class
    (:class:`audit.lm.case_view.CaseView`: ``roles``, ``lm``, ``texts``, ``questions``, ...).

    Parameters
    ----------
    case : LanguageModelCase
        Its models (roles ``original``, ``unlearned``, ``retrained:i``), token ids and columns.
    max_batch_bytes : int
        Bound on the log-probabilities of one batch over all models (float32 bytes).
    max_rows : int
        Most texts per batch.

    Examples
    --------
    A stand-in model whose next-token distribution is uniform over 4 tokens:

    >>> import types, torch
    >>> class Uniform(torch.nn.Module):
    ...     def forward(self, input_ids, attention_mask):
    ...         return types.SimpleNamespace(logits=torch.zeros(*input_ids.shape, 4))
    >>> lm = types.SimpleNamespace(model=Uniform(), tokenizer=types.SimpleNamespace(pad_token_id=0), vocab_size=4)
    >>> case = types.SimpleNamespace(models={"unlearned": lm}, field_of=str,
    ...                              tokens=lambda split: [np.array([1, 2, 3]), np.array([2, 1])])
    >>> cache = TokenCache(case)
    >>> cache.token_logprobs("unlearned", "test").means().round(4).tolist()   # log(1/4)
    [-1.3863, -1.3863]
    >>> float(cache.token_moments("unlearned", "test")[1].values.max()), cache.calls[("unlearned", "test")]
    (0.0, 1)
    """

    task = "language_model"

    def __init__(self, case: LanguageModelCase, max_batch_bytes: int = MAX_BATCH_BYTES,
                 max_rows: int = _MAX_ROWS) -> None:
        super().__init__(case)
        self.max_batch_bytes, self.max_rows = int(max_batch_bytes), int(max_rows)
        self._split: dict[str, dict[str, Any]] = {}
        self._cond: dict[tuple[str, str], tuple[str, Ragged]] = {}
        self._memo: dict[tuple[str, str, str], Any] = {}
        self.calls: Counter[tuple[str, str]] = Counter()
        self.batches: Counter[tuple[str, str]] = Counter()
        self._shared: dict[tuple, Any] | None = None

    def share(self, store: dict[tuple, Any]) -> None:
        """Reuse one model's own outputs across caches: ``store`` is kept by the caller.

        A method comparison audits several candidates against the same original and
        references; each candidate's cache would recompute their generations and
        conditional log-probabilities. With a shared ``store``, :meth:`memo` and
        :meth:`conditional_logprobs` look a result up by the model's weight digest
        (``LanguageModel.sha256``), the kind of output and a digest of its input texts or
        tokens, and store what they compute — the same weights on the same inputs give the same
        outputs, so nothing changes but the cost. The joint sweep (every model's per-token
        values and the divergences between them) is not shared: it needs all models at once.
        A role whose model has no digest is never shared.

        Parameters
        ----------
        store : dict
            Outputs by ``(weight digest, kind, inputs digest)``; pass the same dict to each cache.
        """
        self._shared = store

    def _shared_key(self, role: str, *parts: Any) -> tuple | None:
        sha = getattr(self._models[role], "sha256", None)
        if self._shared is None or not isinstance(sha, str) or not sha:
            return None
        return (sha, *parts)

    @property
    def forward_passes(self) -> dict[tuple[str, str], int]:
        """``(role, split or key) -> full passes`` (each should be 1)."""
        return dict(self.calls)

    def close(self) -> None:
        """Forget every output (idempotent)."""
        self._split.clear()
        self._cond.clear()
        self._memo.clear()

    def __enter__(self) -> TokenCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- outputs ---------------------------------------------------------------
    def token_logprobs(self, role: str, split: str) -> Ragged:
        """``log p(x_t | x_<t)`` of every predicted token of each of the split's texts.

        The first read of a split runs every model over it (the sweep); later reads are stored.

        Parameters
        ----------
        role : str
            A role among :attr:`roles`.
        split : str
            ``"forget"``, ``"retain"`` or ``"test"``.

        Returns
        -------
        Ragged
            One row per text, ``len(tokens) - 1`` float32 log-probabilities (nats).

        Raises
        ------
        BadInput
            On the split's first read: a model fails on its texts or gives NaN/inf
            log-probabilities (the field named is the model's).
        """
        return self._outputs(split)["logp"][role]

    def token_moments(self, role: str, split: str) -> tuple[Ragged, Ragged]:
        """``(mu, sigma)`` per predicted token: mean and std of ``log p`` under the model's distribution.

        Parameters
        ----------
        role : str
            A role among :attr:`roles`.
        split : str
            ``"forget"``, ``"retain"`` or ``"test"``.

        Returns
        -------
        tuple of (Ragged, Ragged)
            ``mu_t = sum_v p(v) log p(v)`` and ``sigma_t`` (the square root of the variance, itself
            clamped at 0), laid out as :meth:`token_logprobs`.

        Raises
        ------
        BadInput
            On the split's first read: a model fails on its texts or gives NaN/inf
            log-probabilities (the field named is the model's).
        """
        out = self._outputs(split)
        return out["mu"][role], out["sigma"][role]

    def kl(self, reference: str, role: str, split: str) -> Ragged:
        """Per predicted token, ``KL(reference || role)`` of the next-token distributions (nats).

        Parameters
        ----------
        reference : str
            A ``retrained:i`` role.
        role : str
            Any other role.
        split : str
            ``"forget"``, ``"retain"`` or ``"test"``.

        Returns
        -------
        Ragged
            Laid out as :meth:`token_logprobs`; each value clamped at 0.

        Raises
        ------
        KeyError
            ``reference`` is not a reference role, or is ``role`` itself.
        BadInput
            As for :meth:`token_logprobs` (on the split's first read).
        """
        return self._pair(reference, role, split, "kl")

    def disagreement(self, reference: str, role: str, split: str) -> Ragged:
        """Per predicted token, 1 where the two models' most likely next tokens differ.

        Parameters
        ----------
        reference : str
            A ``retrained:i`` role.
        role : str
            Any other role.
        split : str
            ``"forget"``, ``"retain"`` or ``"test"``.

        Returns
        -------
        Ragged
            Laid out as :meth:`token_logprobs`; values 0.0 or 1.0.

        Raises
        ------
        KeyError
            ``reference`` is not a reference role, or is ``role`` itself.
        BadInput
            As for :meth:`token_logprobs` (on the split's first read).
        """
        return self._pair(reference, role, split, "dis")

    def _pair(self, reference: str, role: str, split: str, what: str) -> Ragged:
        if reference not in self.reference_roles or role == reference:
            raise KeyError(f"no divergence of {role!r} from {reference!r}: the first must be another model's "
                           "reference")
        return self._outputs(split)[what][(reference, role)]

    def memo(self, kind: str, role: str, split: str, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per ``(kind, role, split)`` (e.g. greedy generations), then the stored value.

        Parameters
        ----------
        kind : str
            What is stored (a name chosen by the caller).
        role, split : str
            The model and split it belongs to (part of the key only; nothing is checked).
        compute : callable
            Called with no arguments, only when the key is not yet stored.

        Returns
        -------
        object
            The stored value (cleared by :meth:`close`).
        """
        key = (kind, role, split)
        if key not in self._memo:
            shared = self._shared_key(role, "memo", kind, split, self._tokens_digest(split))
            if shared is not None and shared in self._shared:
                self._memo[key] = self._shared[shared]
            else:
                self._memo[key] = compute()
                if shared is not None:
                    self._shared[shared] = self._memo[key]
        return self._memo[key]

    def _tokens_digest(self, split: str) -> str:
        try:
            seqs = self.case.tokens(split)
        except Exception:  # noqa: BLE001 - a memo key that is not a split: key on its name alone
            return ""
        return _digest([np.asarray(t, dtype=np.int64).tobytes().hex() for t in seqs])

    def count_forward(self, role: str, n_sequences: int, key: str = "generate") -> None:
        """Record one full pass of ``role`` over ``n_sequences`` texts under ``key`` (for cost and tests).

        Parameters
        ----------
        role : str
            The model that ran.
        n_sequences : int
            Texts it ran over (added to the ``rows_forwarded`` cost tally).
        key : str
            What the pass was for; counted in ``calls[(role, key)]``.
        """
        self.calls[(role, key)] += 1
        tally("forward_passes")
        tally("rows_forwarded", int(n_sequences))

    # -- the sweep ---------------------------------------------------------------
    def _outputs(self, split: str) -> dict[str, Any]:
        if split not in self._split:
            self._split[split] = self._sweep(split)
        return self._split[split]

    def _batches(self, seqs: list[np.ndarray], models: int) -> list[np.ndarray]:
        """Index batches of ``seqs`` for ``models`` models within this cache's bounds (:func:`batch_plan`)."""
        vocab = max(lm.vocab_size for lm in self._models.values())
        return batch_plan(seqs, vocab, models, self.max_rows, self.max_batch_bytes)

    def _logsoftmax(self, role: str, where: str, seqs: list[np.ndarray]) -> tuple[Any, Any]:
        """One batched forward call of ``role``'s model (:func:`next_token_logsoftmax`), counted."""
        out = next_token_logsoftmax(self._models[role], seqs, self.case.field_of(role), where)
        self.batches[(role, where)] += 1
        return out

    def _sweep(self, split: str) -> dict[str, Any]:
        """Every model over the split (:func:`joint_sweep`); one full pass of each counted."""
        seqs = self.case.tokens(split)
        started = time.perf_counter()
        out = joint_sweep(seqs, self.roles, self.reference_roles, self._batches(seqs, len(self.roles)),
                          lambda role, batch: self._logsoftmax(role, split, batch))
        for r in self.roles:
            self.calls[(r, split)] += 1
            tally("forward_passes")
            tally("rows_forwarded", len(seqs))
        tally("forward_seconds", time.perf_counter() - started)
        return out

    # -- conditional log-probabilities -------------------------------------------
    def conditional_logprobs(self, role: str, key: str, prompts: Sequence[str],
                             continuations: Sequence[str]) -> Ragged:
        """Per continuation token, ``log p`` given the prompt (and the continuation's earlier tokens).

        Prompt and continuation are tokenized apart and joined, so the boundary is exact; a
        prompt too long for ``case.max_tokens`` loses its first tokens. Computed once per
        ``(role, key)``; asking again under ``key`` for other texts is an error.

        Parameters
        ----------
        role : str
            The model to run.
        key : str
            Names this set of pairs (e.g. the check and what it scores); the result is stored
            under ``(role, key)`` with a digest of the texts.
        prompts : sequence of str
            Prompts, tokenized with the tokenizer's special tokens.
        continuations : sequence of str
            One continuation per prompt, tokenized without special tokens.

        Returns
        -------
        Ragged
            One row per pair: the log-probability of each continuation token (nats).

        Raises
        ------
        ValueError
            The lengths differ, ``key`` was used for other texts, or a pair has an empty prompt
            or continuation or a continuation of at least ``case.max_tokens`` tokens.
        BadInput
            The model fails on the texts or gives NaN/inf log-probabilities.
        """
        if len(prompts) != len(continuations):
            raise ValueError("one continuation per prompt")
        digest = _digest(prompts, continuations)
        cached = self._cond.get((role, key))
        if cached is not None:
            if cached[0] != digest:
                raise ValueError(f"conditional_logprobs key {key!r} was computed for other texts")
            return cached[1]
        shared = self._shared_key(role, "conditional", digest, self.case.max_tokens)
        if shared is not None and shared in self._shared:
            self._cond[(role, key)] = (digest, self._shared[shared])
            return self._shared[shared]
        seqs, starts = join_pairs(self._models[role].tokenizer, prompts, continuations, self.case.max_tokens)
        out = continuation_logprobs(seqs, starts, self._batches(seqs, 1),
                                    lambda batch: self._logsoftmax(role, key, batch))
        self.count_forward(role, len(seqs), key)
        self._cond[(role, key)] = (digest, out)
        if shared is not None:
            self._shared[shared] = out
        return out
