"""``unlearn-audit init``: inspect models and data, write a commented case.toml that runs.

The model format is read from each file's extension (as the loader does); the data table
is read with :func:`audit.core.data.read_table` and its label, split and id columns are guessed
unless given. Nothing is written unless every file and column checks out, and an existing
case file is never overwritten (exit 2).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from audit.shared.errors import BadInput

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CaseDraft", "draft_case", "render_case", "guess_label", "guess_split", "register",
           "LABEL_NAMES", "SPLIT_VALUES"]

LABEL_NAMES = ("label", "y", "target")
SPLIT_VALUES = frozenset({"forget", "retain", "test"})
_ID_NAMES = ("id", "row_id", "sample_id")


@dataclass
class CaseDraft:
    """What ``init`` found: model formats, the data's columns and the guesses made.

    Parameters
    ----------
    name : str
        The case's name.
    models : dict of str to list of (Path, str)
        Files and formats per role.
    data : Path
        The data file.
    label, split : str
        Column roles.
    groups : list of str
        Group columns.
    id : str or None
        Row-id column.
    features : list of str
        Feature columns.
    counts : dict of str to int
        Rows per split.
    guessed : list of str
        What was guessed rather than given.
    """

    name: str
    models: dict[str, list[tuple[Path, str]]]
    data: Path
    label: str
    split: str
    groups: list[str]
    id: str | None
    features: list[str]
    counts: dict[str, int]
    guessed: list[str] = field(default_factory=list)


def _model(path: Path, field_name: str) -> tuple[Path, str]:
    from audit.core.adapters import _format_from_suffix

    if not path.is_file():
        raise BadInput(field_name, f"file not found: {path}")
    fmt = _format_from_suffix(path, None)
    if fmt not in ("onnx", "skops", "torchscript", "pickle"):
        raise BadInput(field_name, f"{path.name}: unknown model format; use .onnx, .skops, .pt/.pth/"
                       ".torchscript/.ts or (with --allow-pickle) .pkl/.joblib")
    return path, fmt


def guess_label(columns: list[str]) -> str | None:
    """The first column named like a label (``label``, ``y``, ``target``; any case).

    Parameters
    ----------
    columns : list of str
        The data's columns.

    Returns
    -------
    str or None

    Examples
    --------
    >>> guess_label(["f0", "Target", "split"])
    'Target'
    >>> guess_label(["f0"]) is None
    True
    """
    lower = {c.lower(): c for c in columns}
    return next((lower[n] for n in LABEL_NAMES if n in lower), None)


def guess_split(df: pd.DataFrame) -> str | None:
    """The first column whose values are forget / retain / test and include ``forget``.

    Parameters
    ----------
    df : DataFrame
        The data.

    Returns
    -------
    str or None

    Examples
    --------
    >>> import pandas as pd
    >>> guess_split(pd.DataFrame({"a": [1, 2], "part": ["forget", "test"]}))
    'part'
    """
    import pandas as pd

    for col in df.columns:
        if df[col].dtype == object or isinstance(df[col].dtype, pd.StringDtype):
            values = set(df[col].dropna().astype(str).unique())
            if values and values <= SPLIT_VALUES and "forget" in values:
                return str(col)
    return None


def _guess_id(df: pd.DataFrame, taken: set[str]) -> str | None:
    import pandas as pd

    for col in map(str, df.columns):
        named = col.lower() in _ID_NAMES or col.lower().endswith("_id")
        if named and col not in taken and df[col].is_unique and not pd.api.types.is_float_dtype(df[col]):
            return col
    return None


def _column(df: pd.DataFrame, given: str | None, guess: str | None, option: str, what: str) -> str:
    if given is not None:
        if given not in df.columns:
            raise BadInput(option, f"no column {given!r} in the data; columns: {list(map(str, df.columns))}")
        return given
    if guess is None:
        raise BadInput(option, f"cannot guess the {what} column; pass {option} "
                       f"(columns: {list(map(str, df.columns))})")
    return guess


def draft_case(original: Path, unlearned: Path, retrained: list[Path], data: Path, *,
               label: str | None = None, split: str | None = None, groups: list[str] | None = None,
               id_col: str | None = None, name: str | None = None) -> CaseDraft:
    """Inspect the files and decide the case; :class:`BadInput` names the option at fault.

    Parameters
    ----------
    original, unlearned : Path
        Model files.
    retrained : list of Path
        Retrained reference files.
    data : Path
        The data file.
    label, split, groups, id_col, name
        Column roles and the case name (guessed when not given).

    Returns
    -------
    CaseDraft
    """
    from audit.core.data import read_table

    if not retrained:
        raise BadInput("--retrained", "give at least one retrained reference model")
    models = {"original": [_model(original, "--original")], "unlearned": [_model(unlearned, "--unlearned")],
              "retrained": [_model(p, "--retrained") for p in retrained]}
    df = read_table(data)
    guessed = [opt for opt, v in (("--label", label), ("--split", split)) if v is None]
    label = _column(df, label, guess_label(list(map(str, df.columns))), "--label", "label")
    split = _column(df, split, guess_split(df), "--split", "split")
    bad = sorted(set(df[split].dropna().astype(str)) - SPLIT_VALUES)
    if bad or "forget" not in set(df[split].astype(str)):
        raise BadInput("--split", f"column {split!r} must hold forget / retain / test (and some forget rows); "
                       f"found {bad or 'no forget row'}")
    groups = list(groups or [])
    for g in groups:
        _column(df, g, None, "--groups", "group")
    if id_col is None:
        id_col = _guess_id(df, {label, split, *groups})
        guessed += ["--id"] if id_col else []
    else:
        _column(df, id_col, None, "--id", "id")
    named = {label, split, *groups, *([id_col] if id_col else [])}
    counts = {str(k): int(v) for k, v in df[split].astype(str).value_counts().items()}
    return CaseDraft(name=name or data.resolve().parent.name or "case", models=models, data=data,
                     label=label, split=split, groups=groups, id=id_col,
                     features=[str(c) for c in df.columns if str(c) not in named], counts=counts,
                     guessed=guessed)


def _q(text: str) -> str:
    """A TOML basic string (JSON escapes are valid TOML)."""
    return json.dumps(text, ensure_ascii=False)


def _rel(path: Path, base: Path) -> str:
    try:
        return os.path.relpath(path.resolve(), base.resolve())
    except ValueError:  # another drive (Windows)
        return str(path.resolve())


def render_case(draft: CaseDraft, case_dir: Path) -> str:
    """The commented case.toml text of ``draft``, with paths relative to ``case_dir``.

    Parameters
    ----------
    draft : CaseDraft
        What ``init`` found.
    case_dir : Path
        Where case.toml goes.

    Returns
    -------
    str

    Examples
    --------
    >>> d = CaseDraft("demo", {"original": [(Path("o.skops"), "skops")],
    ...     "unlearned": [(Path("u.skops"), "skops")], "retrained": [(Path("r.skops"), "skops")]},
    ...     Path("d.csv"), "label", "split", [], None, ["f0"], {"forget": 2, "retain": 5, "test": 3})
    >>> import tomllib; tomllib.loads(render_case(d, Path(".")))["models"]["retrained"]
    ['r.skops']
    """
    m = {role: [(_rel(p, case_dir), fmt) for p, fmt in entries] for role, entries in draft.models.items()}
    fmts = sorted({fmt for entries in m.values() for _, fmt in entries})
    rows = ", ".join(f"{k} {v}" for k, v in sorted(draft.counts.items()))
    lines = [
        "# Written by `unlearn-audit init`; run it with: unlearn-audit run case.toml --out pack",
        "# Every path is relative to this file. Reference: README.md, 'Case file reference'.",
        "", "[case]", f"name = {_q(draft.name)}",
        '# request_id = "REQ-..."          # optional: the erasure request this audit answers',
        '# operator = "Data Protection Office"   # optional: shown in the report',
        "", f"[models]                          # formats read from the extensions: {', '.join(fmts)}",
        f"original = {_q(m['original'][0][0])}     # trained with the forget rows",
        f"unlearned = {_q(m['unlearned'][0][0])}    # the model under audit",
        "retrained = [" + ", ".join(_q(p) for p, _ in m["retrained"]) + "]",
        f"#   {len(m['retrained'])} retrained reference(s) without the forget rows; "
        "4 or more recommended",
    ]
    if "pickle" in fmts:
        lines.append("# pickle/joblib models load only with: unlearn-audit run ... --allow-pickle")
    lines += [
        "", "[data]", f"path = {_q(_rel(draft.data, case_dir))}",
        f"label = {_q(draft.label)}" + ("                 # guessed; check it" if "--label" in draft.guessed else ""),
        f"split = {_q(draft.split)}" + ("                 # guessed; " if "--split" in draft.guessed else "  # ")
        + f"rows: {rows}",
        ("groups = [" + ", ".join(_q(g) for g in draft.groups) + "]   # subgroup columns (not features)")
        if draft.groups else "# groups = [\"...\"]               # optional: subgroup columns (not features)",
        (f"id = {_q(draft.id)}" + ("                 # guessed; only salted hashes reach the pack"
                                    if "--id" in draft.guessed else ""))
        if draft.id else "# id = \"...\"                     # optional: a unique row id column",
        "# features: the models' own input names, else every other column by position:",
        "#   " + ", ".join(draft.features[:20]) + (", ..." if len(draft.features) > 20 else ""),
        "", "# [policy.utility]                # optional: same tables as a --policy file",
        "# accuracy_margin = 0.03", "",
    ]
    return "\n".join(lines)


def init_command(
    original: Annotated[Path, typer.Option("--original", help="Model trained with the forget rows.")],
    unlearned: Annotated[Path, typer.Option("--unlearned", help="The unlearned model under audit.")],
    retrained: Annotated[list[Path], typer.Option("--retrained", help="Retrained reference (repeat).")],
    data: Annotated[Path, typer.Option("--data", help="Data table: .parquet, .csv or .npz.")],
    label: Annotated[str | None, typer.Option(help="Label column (default: label / y / target).")] = None,
    split: Annotated[str | None, typer.Option(help="Split column (default: the forget/retain/test one).")] = None,
    groups: Annotated[list[str] | None, typer.Option("--groups", help="Subgroup column (repeat).")] = None,
    id: Annotated[str | None, typer.Option("--id", help="Row id column (default: guessed).")] = None,  # noqa: A002
    name: Annotated[str | None, typer.Option(help="Case name (default: the data's directory).")] = None,
    out: Annotated[Path, typer.Option("--out", help="Case file to write (never overwritten).")] = Path("case.toml"),
) -> None:
    """Inspect models and data and write a commented case.toml that runs as is."""
    if out.exists() or out.is_symlink():
        raise BadInput("--out", f"{out} already exists; refusing to overwrite it")
    if not out.parent.is_dir():
        raise BadInput("--out", f"{out.parent} is not a directory")
    draft = draft_case(original, unlearned, list(retrained), data, label=label, split=split,
                       groups=groups, id_col=id, name=name)
    text = render_case(draft, out.parent)
    try:
        with open(out, "x", encoding="utf-8") as f:
            f.write(text)
    except FileExistsError:
        raise BadInput("--out", f"{out} already exists; refusing to overwrite it") from None
    except OSError as exc:
        raise BadInput("--out", f"cannot write {out}: {exc.strerror or exc}") from exc
    typer.echo(str(out))
    if draft.guessed:
        typer.echo(f"guessed {', '.join(draft.guessed)}: check the commented lines of {out}", err=True)


def register(app: typer.Typer) -> None:
    """Add the ``init`` command to ``app``.

    Parameters
    ----------
    app : typer.Typer
        The CLI.

    Returns
    -------
    None
    """
    app.command("init")(init_command)
