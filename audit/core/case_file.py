"""Reading a case file: the TOML's tables validated, then an :class:`~audit.core.case.AuditCase`.

A tabular case is built here; a language-model case (model directories, or
``[case] task = "language_model"``) by :func:`audit.lm.case.from_case_file`; a file with
``[[requests]]`` is a stream (:func:`audit.engine.stream.load_stream_case`, which reads its
tables through :func:`case_kwargs` too).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from audit.core.case import AuditCase
from audit.core.limits import limits_of
from audit.lm.loader import is_model_directory
from audit.shared.errors import BadInput

__all__ = ["load_case", "read_case_doc", "read_toml", "case_kwargs", "CASE_KEYS"]

CASE_KEYS: dict[str, set[str]] = {
    "case": {"name", "request_id", "description", "operator", "forget_kind", "task"},
    "models": {"original", "unlearned", "retrained", "trusted_types"},
    "data": {"path", "label", "split", "groups", "id", "features", "text", "question", "answer", "perturbed"},
    "training": {"recipe", "params"},
    "references": {"train", "seed"},
    "policy": set(),  # validated by audit.engine.policy
}


def read_case_doc(path: str | Path) -> dict[str, Any]:
    """The parsed TOML of a case file; a missing or unreadable file is bad input naming ``case``.

    Parameters
    ----------
    path : path
        The case file.

    Returns
    -------
    dict
        The TOML document, not validated (:func:`case_kwargs` validates it).

    Examples
    --------
    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "case.toml"; _ = f.write_text('case = {name = "demo"}')
    >>> read_case_doc(f)
    {'case': {'name': 'demo'}}
    >>> read_case_doc(f.with_name("absent.toml"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    audit.shared.errors.BadInput: case: case file not found: .../absent.toml
    """
    return read_toml(path, "case")


def read_toml(path: str | Path, field: str) -> dict[str, Any]:
    """A TOML file of ours (a case file, a ``--policy`` gate), parsed; every failure bad input naming ``field``.

    Parameters
    ----------
    path : path
        The file.
    field : str
        What it is, as the message names it (``case``, ``policy``).

    Returns
    -------
    dict
        The TOML document, not validated.

    Examples
    --------
    >>> read_toml("/nonexistent/gate.toml", "policy")
    Traceback (most recent call last):
    ...
    audit.shared.errors.BadInput: policy: policy file not found: /nonexistent/gate.toml
    """
    path = Path(path)
    if not path.is_file():
        raise BadInput(field, f"{field} file not found: {path}")
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(field, f"{path.name} is not valid TOML: {exc}") from exc
    except RecursionError as exc:
        raise BadInput(field, f"{path.name} is too deeply nested to read") from exc


def load_case(path: str | Path, allow_pickle: bool = False, allow_code: bool = False,
              gate: dict[str, Any] | None = None, commitment_key: bytes | None = None) -> AuditCase:
    """Read a TOML case file (see DESIGN.md) and build a validated :class:`AuditCase`.

    ``gate`` (the ``--policy`` tables) bounds the data limits in force while loading.
    ``commitment_key`` is the data controller's key for the forget-id commitment
    (:mod:`audit.shared.commitment`); without it one is generated per run. A file with
    ``[[requests]]`` is a stream (:func:`audit.engine.stream.load_stream_case`): bad input
    naming ``requests`` here.

    Parameters
    ----------
    path : path
        The case file; relative paths in it are read from its directory.
    allow_pickle : bool
        Trust pickle / joblib model files (``--allow-pickle``).
    allow_code : bool
        Trust code the case names by import path (``--allow-code``).
    gate : dict, optional
        The ``--policy`` tables.
    commitment_key : bytes, optional
        32-byte key for the forget-id commitment.

    Returns
    -------
    AuditCase
        The validated case (a :class:`audit.lm.case.LanguageModelCase` for language models).
    """
    path = Path(path)
    doc = read_case_doc(path)
    if "requests" in doc:
        raise BadInput("requests", "this case file is a stream of deletion requests: audit it with "
                       "`unlearn-audit run` or audit.engine.stream.load_stream_case / run_stream")
    kwargs = case_kwargs(doc, path, allow_pickle=allow_pickle, allow_code=allow_code, gate=gate,
                         commitment_key=commitment_key)
    if isinstance(kwargs, AuditCase):  # a language-model case, built by audit.lm.case
        return kwargs
    return AuditCase(**kwargs)


def case_kwargs(doc: dict[str, Any], path: Path, *, allow_pickle: bool = False, allow_code: bool = False,
                gate: dict[str, Any] | None = None, commitment_key: bytes | None = None,
                stream: bool = False) -> dict[str, Any] | AuditCase:
    """Validate a case file's tables and return the :class:`AuditCase` keyword arguments.

    A language-model case (model directories, or ``[case] task = "language_model"``) is
    built whole by :func:`audit.lm.case.from_case_file` and returned as the case itself.

    ``stream``: the file's models come per request (``[[requests]]``), so ``[models]``
    holds the original only and the result has no ``unlearned`` / ``retrained``.

    Parameters
    ----------
    doc : dict
        The parsed case file (:func:`read_case_doc`); an unknown table or key, a missing
        required one or a value of the wrong type is :class:`BadInput` naming it.
    path : Path
        The case file: its directory is ``base_dir``, its stem the default ``name``.
    allow_pickle, allow_code : bool
        Passed on to the case (see :func:`load_case`).
    gate : dict, optional
        The ``--policy`` tables; with the file's ``[policy]`` they set the data ``limits``.
    commitment_key : bytes, optional
        Passed on to the case.
    stream : bool
        Validate the tables of a stream file (see above).

    Returns
    -------
    dict or AuditCase
        Keyword arguments of :class:`AuditCase` (a single ``retrained`` made a list), or the
        language-model case itself. Nothing is loaded for a tabular case.

    Examples
    --------
    >>> doc = {"models": {"original": "o.skops", "unlearned": "u.skops", "retrained": "r.skops"},
    ...        "data": {"path": "d.csv"}}
    >>> kw = case_kwargs(doc, Path("cases/c.toml"))
    >>> kw["retrained"], kw["name"], kw["label"], str(kw["base_dir"])
    (['r.skops'], 'c', 'label', 'cases')
    >>> case_kwargs({**doc, "model": {}}, Path("c.toml"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    audit.shared.errors.BadInput: model: unknown section; allowed: [...]
    """
    for key, value in doc.items():
        if key not in CASE_KEYS:
            raise BadInput(key, f"unknown section; allowed: {sorted(set(CASE_KEYS) | ({'requests'} if stream else set()))}")
        if not isinstance(value, dict):
            raise BadInput(key, "must be a table")
        allowed = CASE_KEYS[key]
        extra = set(value) - allowed if allowed else set()
        if extra:
            raise BadInput(f"{key}.{sorted(extra)[0]}", f"unknown key; allowed: {sorted(allowed)}")
    models, data = doc.get("models"), doc.get("data")
    if not models:
        raise BadInput("models", "section missing")
    if not data:
        raise BadInput("data", "section missing")
    for key in ("original",) if stream else ("original", "unlearned", "retrained"):
        if key not in models:
            raise BadInput(f"models.{key}", "missing")
    for key in ("unlearned", "retrained") if stream else ():
        if key in models:
            raise BadInput(f"models.{key}", "a stream case gives each request's models in its [[requests]] "
                           "table (unlearned = ..., retrained = [...])")
    if "path" not in data:
        raise BadInput("data.path", "missing")
    case_meta, training = doc.get("case", {}), doc.get("training", {})
    for section, keys in (("case", ("name", "request_id", "description", "operator", "forget_kind", "task")),
                          ("data", ("path", "label", "split", "id"))):
        for key in keys:
            value = doc.get(section, {}).get(key)
            if value is not None and not isinstance(value, str):
                raise BadInput(f"{section}.{key}", f"must be a string, got {type(value).__name__}")
    references = doc.get("references", {})
    if case_meta.get("task") == "language_model" or is_model_directory(models["original"], path.parent):
        from audit.lm.case import from_case_file

        if stream:
            raise BadInput("requests", "stream audits of language models are not supported; audit "
                           "each request's model as its own case")
        return from_case_file(doc, path, allow_pickle, allow_code, gate, commitment_key)
    for key in ("text", "question", "answer", "perturbed"):
        if key in data:
            raise BadInput(f"data.{key}", "is a column of a language-model case (models that are model "
                           "directories, or [case] task = \"language_model\")")
    if "references" in doc and not training.get("recipe"):
        raise BadInput("references.train", "needs a [training] recipe to train references with")
    if "references" in doc and "train" not in references:
        raise BadInput("references.train", "missing")
    features = data.get("features")
    if features is not None and (not isinstance(features, list) or not all(isinstance(f, str) for f in features)):
        raise BadInput("data.features", f"features must be a list of column names, got {features!r}")
    groups = data.get("groups", [])
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise BadInput("data.groups", "must be a list of column names")
    kwargs: dict[str, Any] = dict(
        original=models["original"],
        data=data["path"],
        label=data.get("label", "label"),
        split=data.get("split", "split"),
        groups=groups,
        id=data.get("id"),
        features=features,
        name=case_meta.get("name", path.stem),
        request_id=case_meta.get("request_id"),
        description=case_meta.get("description"),
        operator=case_meta.get("operator"),
        forget_kind=case_meta.get("forget_kind"),
        task=case_meta.get("task"),
        recipe=training.get("recipe"),
        recipe_params=training.get("params"),
        allow_pickle=allow_pickle,
        allow_code=allow_code,
        base_dir=path.parent,
        policy=doc.get("policy"),
        limits=limits_of(doc.get("policy"), gate),
        trusted_types=models.get("trusted_types"),
        commitment_key=commitment_key,
        train_references=references.get("train", 0),
        reference_seed=references.get("seed", 0),
    )
    if not stream:
        kwargs["unlearned"] = models["unlearned"]
        kwargs["retrained"] = (models["retrained"] if isinstance(models["retrained"], list)
                               else [models["retrained"]])
    return kwargs
