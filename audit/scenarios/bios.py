"""The ``bios`` scenario: synthetic biographies and a small GPT-2 trained on this CPU.

Data (:mod:`audit.lm.bios`): fictitious people with five facts each; one row per (person,
fact) with a template sentence (``text``), a question, its answer and four wrong answers
(``perturbed``). Forget = 10 % of the training people (all their rows), test = held-out
people never trained on. Models (:mod:`audit.lm.train`, Hugging Face directories with
``model.safetensors`` and ``tokenizer.json``):

* ``original/`` — trained on forget + retain (texts and QA strings);
* ``unlearned/`` — the original after NPO with a retain term (Zhang et al. 2024), the
  scenario's candidate;
* ``retrained-0/`` ... ``retrained-2/`` — trained from scratch on retain only (three seeds);
* ``extra/`` — the candidates of the method comparison (:mod:`audit.lm.compare`):
  ``retrained-other-seed`` (a fourth retrain: pointed at as ``unlearned`` it must pass),
  ``gradient-ascent`` (driven to collapse), ``gradient-difference``, ``npo``.

``size = "tiny"`` builds the same case with 50 people and a smaller model, for the tests. (A
one-layer "micro" size was tried for the fast tests and dropped: its retrains differ so much
by seed on the retained texts that the verbatim check's negative control failed — the kernel
then reports a mis-calibrated check as inconclusive, and the no-op was not failed.)
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from audit.lm.bios import BiosConfig, make_bios, training_strings
from audit.lm.tokenizer import build_tokenizer
from audit.lm.train import SCENARIO, TINY, LMConfig, save_lm, train_lm
from audit.lm.unlearn import UnlearnConfig, unlearn

__all__ = ["SIZES", "BiosSize", "CANDIDATES", "build_bios", "case_toml"]


@dataclass(frozen=True)
class BiosSize:
    """People, model and unlearning schedules of one scenario size.

    Attributes
    ----------
    people : BiosConfig
        How many training and held-out people, and the forget share.
    model : LMConfig
        Architecture and training schedule of the original and of every retrain.
    n_references : int
        Retrained references in the case (``retrained-0`` ...); one more retrain is written
        as the ``extra/retrained-other-seed`` candidate.
    methods : dict of str to (str, UnlearnConfig)
        ``{model directory: (method of audit.lm.unlearn.METHODS, schedule)}``: the unlearned
        models derived from the original.
    """

    people: BiosConfig
    model: LMConfig
    n_references: int
    methods: dict[str, tuple[str, UnlearnConfig]]


def _methods(steps: int, lr: float, collapse_steps: int) -> dict[str, tuple[str, UnlearnConfig]]:
    """Schedules: NPO / GD with ``steps`` at ``lr``; gradient ascent ``collapse_steps`` at 1e-3 (collapses)."""
    return {
        "unlearned": ("npo_retain", UnlearnConfig(steps=steps, lr=lr, beta=0.1)),
        "extra/gradient-ascent": ("gradient_ascent", UnlearnConfig(steps=collapse_steps, lr=1e-3)),
        "extra/gradient-difference": ("gradient_difference", UnlearnConfig(steps=steps, lr=lr)),
        "extra/npo": ("npo", UnlearnConfig(steps=steps, lr=lr, beta=0.1)),
    }


SIZES: dict[str, BiosSize] = {
    "full": BiosSize(BiosConfig(n_train=150, n_test=30, forget_fraction=0.1), SCENARIO, 3, _methods(30, 5e-4, 150)),
    "tiny": BiosSize(BiosConfig(n_train=40, n_test=10, forget_fraction=0.125), TINY, 3, _methods(15, 5e-4, 100)),
}

#: method-comparison candidates: name -> model directory (relative to the case directory)
CANDIDATES = {"retrain": "extra/retrained-other-seed", "noop": "original",
              "gradient_ascent": "extra/gradient-ascent", "gradient_difference": "extra/gradient-difference",
              "npo": "extra/npo", "npo_retain": "unlearned"}


def case_toml(n_references: int, name: str = "bios") -> str:
    """The case file of a bios directory (the format of ``[case] task = "language_model"``).

    Parameters
    ----------
    n_references : int
        Retrained references listed under ``[models] retrained`` (``retrained-0`` ...
        ``retrained-<n_references - 1>``).
    name : str
        The ``[case] name``.

    Returns
    -------
    str
        The TOML text: ``original`` / ``unlearned`` model directories, the references, and the
        ``[data]`` table pointing at ``data.parquet`` and its columns.

    Examples
    --------
    >>> import tomllib
    >>> tomllib.loads(case_toml(3))["models"]["retrained"]
    ['retrained-0', 'retrained-1', 'retrained-2']
    """
    refs = ", ".join(f'"retrained-{i}"' for i in range(n_references))
    return (f'[case]\nname = "{name}"\ntask = "language_model"\n\n'
            f'[models]\noriginal = "original"\nunlearned = "unlearned"\nretrained = [{refs}]\n\n'
            '[data]\npath = "data.parquet"\ntext = "text"\nquestion = "question"\nanswer = "answer"\n'
            'perturbed = "perturbed"\nsplit = "split"\nid = "id"\n')


def build_bios(out_dir: Path, seed: int = 0, size: str = "full") -> Path:
    """Write the bios case (data.parquet, model directories, case.toml); return case.toml.

    Parameters
    ----------
    out_dir : Path
        Directory to write into (created by :func:`audit.scenarios.build_scenario`).
    seed : int
        Seeds the people (``seed``) and, with ``base = 1000 * seed``, the original (``base``),
        the retrains (``base + 1 + i``, the last one the ``extra/retrained-other-seed``
        candidate) and the unlearning runs' batch order (``base``).
    size : str
        ``"full"`` (the scenario: 0.13 M-parameter models, 3-4 minutes each on the loaded two-core
        build machine) or ``"tiny"`` (tests).

    Returns
    -------
    Path
        The ``case.toml``.

    Examples
    --------
    >>> import tempfile
    >>> p = build_bios(Path(tempfile.mkdtemp()), size="tiny")   # doctest: +SKIP
    """
    spec = SIZES[size]
    out = Path(out_dir)
    df = make_bios(seed, spec.people)
    tok = build_tokenizer([*df["text"], *df["question"], *df["answer"], *itertools.chain(*df["perturbed"])])
    train_all, retain = training_strings(df, ("forget", "retain")), training_strings(df, ("retain",))
    forget = training_strings(df, ("forget",))
    base = int(seed) * 1000
    meta = {"scenario": "bios", "size": size, "config": spec.model}
    original = train_lm(tok, train_all, spec.model, base)
    save_lm(original, tok, out / "original", {**meta, "seed": base, "trained_on": ["forget", "retain"]})
    for i in range(spec.n_references + 1):
        where = out / (f"retrained-{i}" if i < spec.n_references else "extra/retrained-other-seed")
        model = train_lm(tok, retain, spec.model, base + 1 + i)
        save_lm(model, tok, where, {**meta, "seed": base + 1 + i, "trained_on": ["retain"]})
    for where, (method, cfg) in spec.methods.items():
        model = unlearn(method, original, forget, retain, seed=base, config=cfg, tokenizer=tok)
        save_lm(model, tok, out / where, {**meta, "unlearned_with": method, "from": "original",
                                          "steps": cfg.steps, "lr": cfg.lr})
    _table(df).to_parquet(out / "data.parquet", index=False)
    (out / "case.toml").write_text(case_toml(spec.n_references))
    return out / "case.toml"


def _table(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out["perturbed"] = [list(p) for p in out["perturbed"]]
    return out
