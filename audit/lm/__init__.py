"""Auditing unlearning in causal language models (issue 16).

A language-model case (``[case] task = "language_model"``, or models that are Hugging Face
model directories) goes through the same engine as a tabular one: the case loader, the runner,
the decision kernel, the results builder and the evidence pack. This package holds what is
particular to text: loading model directories offline (:mod:`audit.lm.loader`), the text table
(:mod:`audit.lm.text_data`), the case (:mod:`audit.lm.case`) and the per-token output cache
(:mod:`audit.lm.cache`; its forward sweeps :mod:`audit.lm.sweep`, its ragged rows
:mod:`audit.lm.ragged`, its view of the case :mod:`audit.lm.case_view`); and the ``bios``
scenario's pieces: synthetic biographies (:mod:`audit.lm.bios`), their tokenizer
(:mod:`audit.lm.tokenizer`), seeded GPT-2 training (:mod:`audit.lm.train`), the unlearning
baselines (:mod:`audit.lm.unlearn`), greedy continuations (:mod:`audit.lm.generate`), the
field's point scores (:mod:`audit.lm.point_scores`) and the method comparison
(:mod:`audit.lm.compare`). Names are imported lazily (``audit.core.case``
imports the loader).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["LanguageModel", "load_causal_lm", "LanguageModelCase", "TokenCache", "Ragged", "TextColumns"]

_HOMES = {"LanguageModel": "loader", "load_causal_lm": "loader", "LanguageModelCase": "case",
          "TokenCache": "cache", "Ragged": "ragged", "TextColumns": "text_data"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(f"audit.lm.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'audit.lm' has no attribute {name!r}")
