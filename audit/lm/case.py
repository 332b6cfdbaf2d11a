"""The language-model audit case: causal-LM directories + a text table, validated up front.

:class:`LanguageModelCase` is an :class:`audit.core.case.AuditCase` (same accessors: ``n``,
``mask``, ``frame``, ``reference_roles``, ``data_sha256``, the forget-id commitment), built
from model directories (:func:`audit.lm.loader.load_causal_lm`) and a text table
(:func:`audit.lm.text_data.validate_text_table`). Every text is tokenized once here, with the
tokenizer all models must share (the same vocabulary, token for token: per-token
log-probabilities and divergences compare like with like), and cut to ``max_tokens`` — the
shortest position limit of the models — which is recorded (results.json ``data.text``).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from audit.core.case import AuditCase, _check_recipe_code, _trusted_types
from audit.core.data import read_table
from audit.core.forget_kind import validate_forget_kind
from audit.core.limits import limits_of
from audit.core.task import TaskInfo
from audit.lm.loader import LanguageModel, load_causal_lm
from audit.lm.text_data import TextColumns, validate_text_table
from audit.shared.errors import BadInput

__all__ = ["LanguageModelCase", "DEFAULT_MAX_TOKENS", "from_case_file"]

DEFAULT_MAX_TOKENS = 1024
"""Token limit per text when no model states a position limit (``n_positions``)."""


def _vocab_digest(tok: Any) -> str:
    import hashlib

    items = sorted(tok.get_vocab().items())
    return hashlib.sha256(repr(items).encode()).hexdigest()


class LanguageModelCase(AuditCase):
    """Models (causal-LM directories or :class:`LanguageModel`) and a text table, validated.

    Parameters
    ----------
    original, unlearned : path or LanguageModel
        Model directories (relative to ``base_dir``) or loaded models.
    retrained : sequence of path or LanguageModel
        One or more references retrained from scratch on the retain texts only.
    data : DataFrame or path
        The text table (:mod:`audit.lm.text_data`).
    text, question, answer, perturbed : str, optional
        The ``[data]`` column names.
    split, groups, id : str, list of str, str
        As in every case.
    **kwargs
        ``name``, ``request_id``, ``description``, ``operator``, ``allow_pickle``,
        ``allow_code``, ``base_dir``, ``policy``, ``limits``, ``forget_kind``,
        ``commitment_key``, ``task`` (only ``"language_model"``), as for :class:`AuditCase`.

    Examples
    --------
    >>> LanguageModelCase("o", "u", [], pd.DataFrame({"text": ["a"], "split": ["forget"]}))
    Traceback (most recent call last):
    ...
    audit.shared.errors.BadInput: models.retrained: at least one retrained reference model is needed
    """

    def __init__(self, original: Any, unlearned: Any, retrained: Sequence[Any], data: pd.DataFrame | str | Path,
                 text: str = "text", question: str | None = None, answer: str | None = None,
                 perturbed: str | None = None, split: str = "split", groups: Sequence[str] | None = None,
                 id: str | None = None, **kwargs: Any) -> None:  # noqa: A002 - mirrors the case-file key
        self._metadata(kwargs)
        if isinstance(retrained, (str, Path, LanguageModel)) or not isinstance(retrained, Sequence):
            retrained = [retrained]
        if len(retrained) == 0:
            raise BadInput("models.retrained", "at least one retrained reference model is needed")
        limits = kwargs.get("limits") or limits_of(self.policy_overrides)
        self.data_path = None
        if isinstance(data, (str, Path)):
            p = Path(data)
            self.data_path = p if (self.base_dir is None or p.is_absolute()) else self.base_dir / p
            data = read_table(self.data_path, limits)
        if not isinstance(data, pd.DataFrame):
            raise BadInput("data", f"expected a DataFrame or a path, got {type(data).__name__}")
        self.columns = TextColumns(text, question, answer, perturbed)
        self.split_col, self.groups, self.id_col = split, list(groups or []), id
        self.label = text  # the target of a language model is its text (the next token)
        self.data = validate_text_table(data, self.columns, split, self.groups, id, limits)
        specs = {"original": original, "unlearned": unlearned,
                 **{f"retrained:{i}": r for i, r in enumerate(retrained)}}
        self.models: dict[str, LanguageModel] = {role: self._load(role, s) for role, s in specs.items()}
        self._check_models()
        self.features, self.feature_source, self._reserved = [], "data", {split}
        self.n_classes, self.classes = self.models["original"].vocab_size, None
        self.task_info = TaskInfo("language_model", self.declared_task, "language_model",
                                  ("declared in the case file, and " if self.declared_task else "")
                                  + "every model is a causal language model directory")
        self._tokenize()

    def _metadata(self, kw: dict[str, Any]) -> None:
        """The metadata every case has (name, request, trust flags, policy, commitment key)."""
        key = kw.get("commitment_key")
        if key is not None and len(key) != 32:
            raise BadInput("commitment_key", "a 32-byte key is required")
        self.commitment_key, self.commitment_key_generated = key, False
        self.forget_kind = validate_forget_kind(kw.get("forget_kind"))
        if self.forget_kind in ("class", "feature"):
            raise BadInput("case.forget_kind", f'"{self.forget_kind}" needs class labels or features; a '
                           'language-model case forgets texts ("random") or a group ("group")')
        task = kw.get("task")
        if task not in (None, "language_model"):
            raise BadInput("case.task", f'the models are language model directories; declared {task!r}')
        self.declared_task = task
        self.name = str(kw.get("name", "language-model unlearning audit"))
        for attr in ("request_id", "operator"):
            value = kw.get(attr)
            setattr(self, attr, None if value is None else str(value))
        self.description = kw.get("description")
        self.allow_pickle, self.allow_code = bool(kw.get("allow_pickle")), bool(kw.get("allow_code"))
        _check_recipe_code(kw.get("recipe"), self.allow_code)
        if kw.get("recipe") or kw.get("train_references"):
            raise BadInput("training.recipe", "a language-model case trains no models itself: give the "
                           "retrained references as model directories")
        self.recipe, self.recipe_params, self.train_references, self.reference_seed = None, {}, 0, 0
        self.base_dir = kw.get("base_dir")
        self.policy_overrides = dict(kw.get("policy") or {})
        self.trusted_types = _trusted_types(kw.get("trusted_types"))

    def _load(self, role: str, spec: Any) -> LanguageModel:
        if isinstance(spec, LanguageModel):
            return spec
        field = self.field_of(role)
        if isinstance(spec, dict):
            extra = set(spec) - {"path"}
            if extra:
                raise BadInput(field, f"a language model entry takes only a path, got {sorted(extra)}")
            spec = spec.get("path")
        if not isinstance(spec, (str, Path)):
            raise BadInput(field, f"expected a model directory, got {type(spec).__name__}")
        path = Path(spec)
        if self.base_dir is not None and not path.is_absolute():
            path = Path(self.base_dir) / path
        return load_causal_lm(path, role=role, allow_pickle=self.allow_pickle)

    def _check_models(self) -> None:
        """Every model shares the original's tokenizer and vocabulary size."""
        first = self.models["original"]
        digest = _vocab_digest(first.tokenizer)
        for role, lm in self.models.items():
            if lm.vocab_size != first.vocab_size:
                raise BadInput(self.field_of(role), f"vocabulary of {lm.vocab_size} tokens differs from "
                               f"models.original's {first.vocab_size}")
            if role != "original" and _vocab_digest(lm.tokenizer) != digest:
                raise BadInput(self.field_of(role), "its tokenizer differs from models.original's: per-token "
                               "log-probabilities of different tokenizations cannot be compared")

    @cached_property
    def max_tokens(self) -> int:
        """Tokens kept per text: the shortest position limit among the models."""
        limits = [lm.max_positions for lm in self.models.values() if lm.max_positions]
        return min(limits) if limits else DEFAULT_MAX_TOKENS

    def _tokenize(self) -> None:
        tok = self.models["original"].tokenizer
        texts = self.data[self.columns.text].tolist()
        ids = tok(texts, add_special_tokens=True)["input_ids"]
        lengths = np.array([len(x) for x in ids])
        short = np.flatnonzero(lengths < 2)
        if short.size:
            raise BadInput("data.text", f"{short.size} text(s) have fewer than 2 tokens, so no token is "
                           f"predicted from a context (first at row {int(short[0])})")
        self.token_ids = [np.asarray(x[: self.max_tokens], dtype=np.int64) for x in ids]
        self.truncated = {s: int(((lengths > self.max_tokens) & self.mask(s)).sum())
                          for s in ("forget", "retain", "test")}

    # -- accessors -------------------------------------------------------------
    def tokens(self, split: str) -> list[np.ndarray]:
        """The token ids of a split's texts (cut to :attr:`max_tokens`).

        Parameters
        ----------
        split : str
            ``"forget"``, ``"retain"`` or ``"test"``.

        Returns
        -------
        list of ndarray
            One int64 array per text of the split, in row order.
        """
        return [self.token_ids[i] for i in np.flatnonzero(self.mask(split))]

    def column(self, name: str | None, split: str) -> list[Any]:
        """A split's values of a data column (``None`` column: ``[]``).

        Parameters
        ----------
        name : str or None
            The column's name in the text table; ``None`` for a column the case does not have.
        split : str
            ``"forget"``, ``"retain"`` or ``"test"``.

        Returns
        -------
        list
            The column's values on the split's rows, in row order.
        """
        if name is None:
            return []
        return self.data.loc[self.mask(split), name].tolist()

    def inputs(self, split: str) -> Any:
        """The split's texts (what the models are fed).

        Parameters
        ----------
        split : str
            ``"forget"``, ``"retain"`` or ``"test"``.

        Returns
        -------
        list of str
            The ``text`` column on the split's rows.
        """
        return self.column(self.columns.text, split)

    def y(self, split: str) -> np.ndarray:
        """Not available: a language-model case has no labels (per-token outputs are in the TokenCache).

        Parameters
        ----------
        split : str
            ``"forget"``, ``"retain"`` or ``"test"``.

        Returns
        -------
        ndarray
            Never returns.

        Raises
        ------
        TypeError
            Always.
        """
        raise TypeError("a language-model case has no labels; read the TokenCache")

    def output_cache(self, batch_size: int) -> Any:
        """The case's output cache: a :class:`audit.lm.cache.TokenCache`.

        Parameters
        ----------
        batch_size : int
            Ignored (kept for :meth:`audit.core.case.AuditCase.output_cache`'s signature): the
            TokenCache sizes its batches by bytes, see :data:`audit.lm.cache.MAX_BATCH_BYTES`.

        Returns
        -------
        TokenCache
            A new cache over this case's models and texts (nothing computed yet).
        """
        from audit.lm.cache import TokenCache

        return TokenCache(self)

    def data_extra(self) -> dict[str, Any]:
        """results.json ``data.text``: columns, token limit and how many texts were cut to it.

        Returns
        -------
        dict
            ``{"text": {"columns", "max_tokens", "truncated", "tokens"}}``: the named columns,
            :attr:`max_tokens`, texts cut per split and token totals per split.
        """
        return {"text": {"columns": {k: v for k, v in vars(self.columns).items() if v},
                         "max_tokens": int(self.max_tokens), "truncated": dict(self.truncated),
                         "tokens": {s: int(sum(len(t) for t in self.tokens(s))) for s in ("forget", "retain", "test")}}}


def from_case_file(doc: dict[str, Any], path: Path, allow_pickle: bool, allow_code: bool,
                         gate: dict[str, Any] | None, commitment_key: bytes | None) -> LanguageModelCase:
    """A parsed case file (``doc``) whose models are causal-LM directories, as a :class:`LanguageModelCase`.

    Called by :func:`audit.core.case_file.load_case`, which has checked the sections and their keys.

    Parameters
    ----------
    doc : dict
        The parsed case file (``models``, ``data``, optional ``case``, ``policy``).
    path : Path
        The case file; model and data paths are relative to its directory, and its stem is
        the default case name.
    allow_pickle, allow_code : bool
        The trust flags passed on to :class:`LanguageModelCase`.
    gate : dict, optional
        The ``--policy`` file's tables (for the data limits, :func:`audit.core.limits.limits_of`).
    commitment_key : bytes, optional
        The 32-byte forget-id commitment key.

    Returns
    -------
    LanguageModelCase
        The loaded and validated case (models loaded, texts tokenized).

    Raises
    ------
    BadInput
        A ``[data]`` column name that is not a string, a ``label`` or ``features`` key, a
        ``[training]`` or ``[references]`` section, ``data.groups`` not a list of names, or
        anything :class:`LanguageModelCase` refuses.

    Examples
    --------
    >>> doc = {"models": {"original": "o", "unlearned": "u", "retrained": ["r"]},
    ...        "data": {"path": "t.jsonl", "label": "y"}}
    >>> from_case_file(doc, Path("case.toml"), False, False, None, None)
    Traceback (most recent call last):
    ...
    audit.shared.errors.BadInput: data.label: a language-model case has no labels or features; name the text column with data.text
    """
    models, data, meta = doc["models"], doc["data"], doc.get("case", {})
    for key in ("text", "question", "answer", "perturbed"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise BadInput(f"data.{key}", f"must be a column name, got {type(data[key]).__name__}")
    for key in ("label", "features"):
        if key in data:
            raise BadInput(f"data.{key}", "a language-model case has no labels or features; "
                           "name the text column with data.text")
    if doc.get("training") or doc.get("references"):
        raise BadInput("training" if doc.get("training") else "references",
                       "a language-model case trains no models itself: give the retrained references "
                       "as model directories")
    groups = data.get("groups", [])
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise BadInput("data.groups", "must be a list of column names")
    retrained = models["retrained"] if isinstance(models["retrained"], list) else [models["retrained"]]
    return LanguageModelCase(
        models["original"], models["unlearned"], retrained, data["path"],
        text=data.get("text", "text"), question=data.get("question"), answer=data.get("answer"),
        perturbed=data.get("perturbed"), split=data.get("split", "split"), groups=groups, id=data.get("id"),
        name=meta.get("name", path.stem), request_id=meta.get("request_id"),
        description=meta.get("description"), operator=meta.get("operator"),
        forget_kind=meta.get("forget_kind"), task=meta.get("task"), allow_pickle=allow_pickle,
        allow_code=allow_code, base_dir=path.parent, policy=doc.get("policy"),
        limits=limits_of(doc.get("policy"), gate), trusted_types=models.get("trusted_types"),
        commitment_key=commitment_key)
