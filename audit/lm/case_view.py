"""A language-model case's models and text columns, as the checks read them from ``ctx.cache``.

:class:`CaseView` is the input side of :class:`audit.lm.cache.TokenCache` (its base class):
the roles, the loaded models (for checks that generate), the split's texts, questions,
answers, wrong answers and token ids, each read from the case in row order. What the models
output on them is the cache's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from audit.lm.case import LanguageModelCase
    from audit.lm.loader import LanguageModel

__all__ = ["CaseView"]


class CaseView:
    """The models and text columns of a :class:`audit.lm.case.LanguageModelCase`, by role and split.

    Parameters
    ----------
    case : LanguageModelCase
        Its models (roles ``original``, ``unlearned``, ``retrained:i``), token ids and columns.

    Examples
    --------
    >>> import types
    >>> case = types.SimpleNamespace(models={"original": "O", "retrained:0": "R"},
    ...                              tokens=lambda split: [np.array([1, 2, 3])])
    >>> view = CaseView(case)
    >>> view.roles, view.reference_roles, view.lm("retrained:0"), view.token_ids("test")[0].tolist()
    (['original', 'retrained:0'], ['retrained:0'], 'R', [1, 2, 3])
    """

    def __init__(self, case: LanguageModelCase) -> None:
        self.case = case
        self._models = dict(case.models)

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
