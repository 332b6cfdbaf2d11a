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

The full ``[tokens, vocabulary]`` distributions exist only for the batch being processed (all
models' at once, which is what the divergences need), so memory is bounded by the batch, not
by the split: a batch holds at most ``max_batch_bytes`` of log-probabilities over all models
(at least one text). Texts are cut to the case's ``max_tokens`` (the models' position limit)
when the case is built. ``calls[(role, split)]`` counts full passes of a model over a split
(one, whatever the number of checks reading it) and ``batches`` the batched forward calls;
see ``docs/decisions/0014-lm-divergence-joint-sweep.md``.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from audit.core.cost import tally
from audit.shared.errors import BadInput, one_line

if TYPE_CHECKING:  # pragma: no cover
    from audit.lm.case import LanguageModelCase
    from audit.lm.loader import LanguageModel

__all__ = ["Ragged", "TokenCache", "MAX_BATCH_BYTES"]

MAX_BATCH_BYTES = 256 * 2**20
"""Largest float32 log-probability block (all models of one batch) held at once."""
_MAX_ROWS = 64


@dataclass(frozen=True)
class Ragged:
    """Variable-length rows as one flat float32 array and row offsets.

    Attributes
    ----------
    values : ndarray
        The rows' values, concatenated (float32 when built by :meth:`from_rows`).
    offsets : ndarray
        ``len(rows) + 1`` int64 offsets: row ``i`` is ``values[offsets[i]:offsets[i + 1]]``.

    Examples
    --------
    >>> r = Ragged.from_rows([np.array([1.0, 2.0]), np.array([3.0])])
    >>> len(r), r.row(1).tolist(), r.lengths.tolist(), r.means().tolist()
    (2, [3.0], [2, 1], [1.5, 3.0])
    """

    values: np.ndarray
    offsets: np.ndarray

    @classmethod
    def from_rows(cls, rows: Sequence[np.ndarray]) -> Ragged:
        """Concatenate ``rows`` (cast to float32) and record their offsets; no rows = empty."""
        lengths = np.array([len(r) for r in rows], dtype=np.int64)
        offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64)
        values = np.concatenate(rows).astype(np.float32) if len(rows) else np.zeros(0, np.float32)
        return cls(values, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def row(self, i: int) -> np.ndarray:
        """Row ``i`` (a view into :attr:`values`).

        Parameters
        ----------
        i : int
            Row index, ``0 <= i < len(self)``.

        Returns
        -------
        ndarray
            ``values[offsets[i]:offsets[i + 1]]``.
        """
        return self.values[self.offsets[i]:self.offsets[i + 1]]

    @property
    def lengths(self) -> np.ndarray:
        """Values per row (``np.diff(offsets)``)."""
        return np.diff(self.offsets)

    def sums(self) -> np.ndarray:
        """Per-row sums (float64; 0 for an empty row).

        Returns
        -------
        ndarray
            One float64 sum per row, from a float64 cumulative sum of :attr:`values`.
        """
        cum = np.r_[0.0, np.cumsum(self.values, dtype=np.float64)]
        return cum[self.offsets[1:]] - cum[self.offsets[:-1]]

    def means(self) -> np.ndarray:
        """Per-row means (float64; NaN for an empty row).

        Returns
        -------
        ndarray
            One float64 mean per row: :meth:`sums` over :attr:`lengths`.
        """
        n = self.lengths
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, self.sums() / np.maximum(n, 1), np.nan)


def _digest(*parts: Sequence[str]) -> str:
    h = hashlib.sha256()
    for seq in parts:
        for s in seq:
            h.update(s.encode("utf-8", "surrogatepass") + b"\0")
        h.update(b"\1")
    return h.hexdigest()


class TokenCache:
    """The per-token output cache of a :class:`audit.lm.case.LanguageModelCase` (module docstring).

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
        self.case = case
        self._models = dict(case.models)
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

    # -- roles and data ----------------------------------------------------------
    @property
    def roles(self) -> list[str]:
        """Every model's role, in the case's order (``original``, ``unlearned``, ``retrained:i``)."""
        return list(self._models)

    @property
    def reference_roles(self) -> list[str]:
        """The ``retrained:i`` roles."""
        return [r for r in self._models if r.startswith("retrained:")]

    def lm(self, role: str) -> LanguageModel:
        """The loaded model of ``role`` (for checks that generate).

        Parameters
        ----------
        role : str
            A role among :attr:`roles`.

        Returns
        -------
        LanguageModel
            The case's model of that role (``KeyError`` for an unknown role).
        """
        return self._models[role]

    def texts(self, split: str) -> list[str]:
        """The split's texts (the ``text`` column), in row order.

        Parameters
        ----------
        split : str
            ``"forget"``, ``"retain"`` or ``"test"``.

        Returns
        -------
        list
            The column's values on the split's rows, in row order
            (:meth:`audit.lm.case.LanguageModelCase.column`).
        """
        return self.case.column(self.case.columns.text, split)

    def questions(self, split: str) -> list[str | None]:
        """The split's questions (the ``question`` column).

        Parameters
        ----------
        split : str
            ``"forget"``, ``"retain"`` or ``"test"``.

        Returns
        -------
        list
            The column's values on the split's rows, in row order
            (:meth:`audit.lm.case.LanguageModelCase.column`); None or NaN for a row without one;
            ``[]`` when the case has no such column.
        """
        return self.case.column(self.case.columns.question, split)

    def answers(self, split: str) -> list[str | None]:
        """The split's correct answers (the ``answer`` column).

        Parameters
        ----------
        split : str
            ``"forget"``, ``"retain"`` or ``"test"``.

        Returns
        -------
        list
            The column's values on the split's rows, in row order
            (:meth:`audit.lm.case.LanguageModelCase.column`); None or NaN for a row without one;
            ``[]`` when the case has no such column.
        """
        return self.case.column(self.case.columns.answer, split)

    def perturbed(self, split: str) -> list[list[str]]:
        """The split's wrong answers per row (the ``perturbed`` column).

        Parameters
        ----------
        split : str
            ``"forget"``, ``"retain"`` or ``"test"``.

        Returns
        -------
        list
            The column's values on the split's rows, in row order
            (:meth:`audit.lm.case.LanguageModelCase.column`); ``[]`` for a row without;
            ``[]`` when the case has no such column.
        """
        return self.case.column(self.case.columns.perturbed, split)

    def token_ids(self, split: str) -> list[np.ndarray]:
        """The split's token ids (the shared tokenization, cut to ``case.max_tokens``).

        Parameters
        ----------
        split : str
            ``"forget"``, ``"retain"`` or ``"test"``.

        Returns
        -------
        list of ndarray
            One int64 array of token ids per text.
        """
        return self.case.tokens(split)

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
        """Index batches, longest texts first, each within the byte bound (at least one text)."""
        order = np.argsort([-len(s) for s in seqs], kind="stable")
        vocab = max(lm.vocab_size for lm in self._models.values())
        out, start = [], 0
        while start < len(order):
            longest = len(seqs[order[start]])
            rows = max(1, min(self.max_rows, self.max_batch_bytes // max(1, 4 * longest * vocab * (models + 1))))
            out.append(order[start:start + rows])
            start += rows
        return out

    def _logsoftmax(self, role: str, where: str, seqs: list[np.ndarray]) -> tuple[Any, Any]:
        """One batched forward call: log-softmax ``[b, L-1, V]`` of next-token predictions and the
        ``[b, L-1]`` mask of predicted positions (right padding)."""
        import torch

        lm = self._models[role]
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
            raise BadInput(self.case.field_of(role), f"fails on the {where} texts: {one_line(exc)}") from exc
        lsm = torch.log_softmax(logits[:, :-1].float(), dim=-1)
        if not bool(torch.isfinite(lsm[mask[:, 1:].bool()]).all()):
            raise BadInput(self.case.field_of(role), f"NaN/inf next-token log-probabilities on the {where} texts")
        self.batches[(role, where)] += 1
        return lsm, ids

    def _sweep(self, split: str) -> dict[str, Any]:
        """Every model over the split, batch by batch; per-token values and pair divergences."""
        seqs = self.case.tokens(split)
        roles, refs = self.roles, self.reference_roles
        pairs = [(r, c) for r in refs for c in roles if c != r]
        lengths = np.array([max(len(s) - 1, 0) for s in seqs], dtype=np.int64)
        offsets = np.r_[0, np.cumsum(lengths)].astype(np.int64)
        total = int(offsets[-1])
        flat = {(what, r): np.empty(total, np.float32) for what in ("logp", "mu", "sigma") for r in roles}
        flat.update({(what, p): np.empty(total, np.float32) for what in ("kl", "dis") for p in pairs})
        started = time.perf_counter()
        for idx in self._batches(seqs, len(roles)):
            batch = [seqs[i] for i in idx]
            lsm: dict[str, Any] = {}
            for r in roles:
                lsm[r], ids = self._logsoftmax(r, split, batch)
                target = ids[:, 1:].unsqueeze(-1)
                p = lsm[r].exp()
                mu = (p * lsm[r]).sum(-1)
                var = (p * lsm[r].square()).sum(-1) - mu.square()
                self._scatter(flat, ("logp", r), lsm[r].gather(-1, target).squeeze(-1), idx, offsets, lengths)
                self._scatter(flat, ("mu", r), mu, idx, offsets, lengths)
                self._scatter(flat, ("sigma", r), var.clamp_min(0).sqrt(), idx, offsets, lengths)
            for r in refs:
                p_r, top_r = lsm[r].exp(), lsm[r].argmax(-1)
                for c in roles:
                    if c != r:
                        kl = (p_r * (lsm[r] - lsm[c])).sum(-1).clamp_min(0)
                        self._scatter(flat, ("kl", (r, c)), kl, idx, offsets, lengths)
                        self._scatter(flat, ("dis", (r, c)), (top_r != lsm[c].argmax(-1)).float(), idx,
                                      offsets, lengths)
            del lsm
        for r in roles:
            self.calls[(r, split)] += 1
            tally("forward_passes")
            tally("rows_forwarded", len(seqs))
        tally("forward_seconds", time.perf_counter() - started)
        out: dict[str, Any] = {w: {} for w in ("logp", "mu", "sigma", "kl", "dis")}
        for (what, key), values in flat.items():
            out[what][key] = Ragged(values, offsets)
        return out

    @staticmethod
    def _scatter(flat: dict, key: tuple, values: Any, idx: np.ndarray, offsets: np.ndarray,
                 lengths: np.ndarray) -> None:
        arr = values.detach().float().numpy()
        dest = flat[key]
        for j, i in enumerate(idx):
            n = int(lengths[i])
            dest[offsets[i]:offsets[i] + n] = arr[j, :n]

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
        tok = self._models[role].tokenizer
        limit = self.case.max_tokens
        seqs, starts = [], []
        for i, (p, c) in enumerate(zip(prompts, continuations, strict=True)):
            pi = tok(p, add_special_tokens=True)["input_ids"]
            ci = tok(c, add_special_tokens=False)["input_ids"]
            if not pi or not ci or len(ci) >= limit:
                raise ValueError(f"pair {i}: the prompt and the continuation need >= 1 token each and "
                                 f"fit {limit} tokens together")
            pi = pi[max(0, len(pi) + len(ci) - limit):]
            seqs.append(np.asarray(pi + ci, dtype=np.int64))
            starts.append(len(pi))
        rows: list[np.ndarray] = [np.zeros(0, np.float32)] * len(seqs)
        for idx in self._batches(seqs, 1):
            batch = [seqs[i] for i in idx]
            lsm, ids = self._logsoftmax(role, key, batch)
            lp = lsm.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1).numpy()
            for j, i in enumerate(idx):
                rows[i] = lp[j, starts[i] - 1:len(seqs[i]) - 1].astype(np.float32)
        self.count_forward(role, len(seqs), key)
        out = Ragged.from_rows(rows)
        self._cond[(role, key)] = (digest, out)
        if shared is not None:
            self._shared[shared] = out
        return out
