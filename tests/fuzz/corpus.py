"""Every hostile input of the harness, by family."""

from __future__ import annotations

from tests.fuzz.corpus_case import case_inputs, policy_inputs
from tests.fuzz.corpus_cli import cli_inputs, out_inputs, pack_inputs
from tests.fuzz.corpus_data import data_inputs, model_inputs
from tests.fuzz.spec import Input

__all__ = ["all_inputs"]


def all_inputs() -> list[Input]:
    """The corpus: case files, policies, data, models, CLI arguments, outputs, packs.

    Examples
    --------
    >>> inputs = all_inputs()
    >>> len(inputs) >= 150 and len({i.id for i in inputs}) == len(inputs)
    True
    """
    return [*case_inputs(), *policy_inputs(), *data_inputs(), *model_inputs(), *cli_inputs(),
            *out_inputs(), *pack_inputs()]
