"""Stream cases: an ordered list of deletion requests, each audited on top of the previous ones.

A stream case file is an ordinary case file whose ``[models]`` holds the original only and
which adds one ``[[requests]]`` table per request, in the order they were served::

    [[requests]]
    id = "REQ-1"                       # optional (default: request-1, request-2, ...)
    forget = "req-1"                   # a split value marking this request's rows ...
    # forget = ["u-0007", "u-0412"]    # ... or a list of ids of the [data] id column
    unlearned = "u-1.pt"               # the model after serving requests 1..i
    retrained = ["r-1-0.pt", "r-1-1.pt"]  # retrained on the cumulative retain set
                                       # (or none: [references] train = k with a recipe)

The data table is the one table of every case: its ``split`` column marks ``test`` rows
(never trained on), ``retain`` rows (kept at every step) and each request's rows (a split
value of their own, or ``forget`` / ``retain`` rows claimed by id). Step ``i`` is a model
audit of its own (:meth:`StreamCase.step`): **forget = the cumulative forget set**, the rows
of requests ``1..i`` (every row the model after step ``i`` must have forgotten); retain =
every other training row, including the rows of later requests (the step's references
trained on exactly these); unlearned = step ``i``'s model; original = the original.
Everything is validated up front, when the stream is loaded: a bad request is
:class:`~audit.shared.errors.BadInput` naming ``requests[i].<field>`` before any audit runs
(decision record 0016).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from audit.core.case import AuditCase
from audit.core.case_file import case_kwargs, read_case_doc
from audit.core.data import SPLITS, read_table
from audit.shared.errors import BadInput

__all__ = ["Request", "StreamCase", "load_stream_case", "is_stream_file", "deal_requests", "REQUEST_KEYS",
           "MAX_REQUESTS"]

REQUEST_KEYS = frozenset({"id", "forget", "unlearned", "retrained"})
MAX_REQUESTS = 200


@dataclass
class Request:
    """One deletion request of a stream: which rows, and the models after serving it.

    Parameters
    ----------
    forget : str or list
        A value of the split column marking the request's rows, or a list of ids of the
        case's id column.
    unlearned : model spec
        The model after requests ``1..i`` were served (a path, adapter, estimator, ...).
    retrained : list of model specs
        Models retrained from scratch on the cumulative retain set (may be empty when the
        case trains references itself, ``[references] train = k``).
    id : str, optional
        The request's name in the report (default ``request-<i>``).

    Examples
    --------
    >>> Request(forget="req-1", unlearned="u-1.pt", retrained=["r-1.pt"]).id is None
    True
    """

    forget: Any
    unlearned: Any
    retrained: Sequence[Any] = ()
    id: str | None = None


def deal_requests(split: pd.Series | np.ndarray, n_requests: int, seed: int) -> np.ndarray:
    """A split column with the ``forget`` rows dealt at random into requests ``req-01`` … ``req-NN``.

    Every other value is kept; the requests differ in size by at most one row.

    Parameters
    ----------
    split : Series or ndarray
        The split column (``forget``, ``retain``, ``test``, ...); not modified.
    n_requests : int
        Requests to deal the ``forget`` rows into.
    seed : int
        Seeds the random order of the rows.

    Returns
    -------
    ndarray
        An object array: the column with every ``forget`` value replaced by its request's
        ``req-NN`` (two-digit, 1-based).

    Raises
    ------
    BadInput
        ``--stream``: ``n_requests`` is not between 1 and the smaller of :data:`MAX_REQUESTS`
        and the number of forget rows.

    Examples
    --------
    >>> deal_requests(np.array(["forget"] * 4 + ["retain", "test"]), 2, 0).tolist()
    ['req-01', 'req-02', 'req-01', 'req-02', 'retain', 'test']
    """
    out = np.asarray(split, dtype=object).copy()
    forget = np.flatnonzero(out == "forget")
    if not 1 <= int(n_requests) <= min(MAX_REQUESTS, len(forget)):
        raise BadInput("--stream", f"{n_requests} requests: use 1 to {min(MAX_REQUESTS, len(forget))} "
                       f"(the case has {len(forget)} forget rows)")
    order = np.random.default_rng([int(seed), 0x57]).permutation(forget)
    for i, rows in enumerate(np.array_split(order, int(n_requests)), start=1):
        out[rows] = f"req-{i:02d}"
    return out


def is_stream_file(path: str | Path) -> bool:
    """Whether a case file holds ``[[requests]]`` (a stream); unreadable files say no.

    Parameters
    ----------
    path : str or Path
        A case file (TOML).

    Returns
    -------
    bool
        True when the parsed file has a ``requests`` key; False also when it cannot be read
        or parsed.

    Examples
    --------
    >>> is_stream_file("/nonexistent/case.toml")
    False
    """
    try:
        return "requests" in read_case_doc(path)
    except BadInput:
        return False


def _step_error(i: int, exc: BadInput) -> BadInput:
    """A step case's bad input with its model fields as the stream file names them.

    >>> str(_step_error(2, BadInput("models.retrained[1]", "file not found")))
    'requests[2].retrained[1]: file not found'
    >>> str(_step_error(2, BadInput("models", "models.original=2, models.unlearned=3")))
    'requests[2]: models.original=2, requests[2].unlearned=3'
    """
    def rename(text: str) -> str:
        return re.sub(r"\bmodels\.(unlearned|retrained)", rf"requests[{i}].\1", text)

    field = f"requests[{i}]" if exc.field == "models" else rename(exc.field)
    return BadInput(field, rename(exc.message))


class StreamCase:
    """An original, one data table and an ordered list of :class:`Request`, validated up front.

    Parameters
    ----------
    original : model spec
        The model before any request was served.
    requests : sequence of Request
        In the order they were served; each request's rows are removed from then on.
    data : DataFrame or path
        One table; its split column marks ``test``, ``retain`` and the requests' rows.
    **case : Any
        Every other :class:`~audit.core.case.AuditCase` argument (label, split, id, groups,
        recipe, train_references, policy, commitment_key, ...); each step is built with them.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"x": rng.normal(size=90), "label": rng.integers(0, 2, 90),
    ...                    "split": ["req-1"] * 10 + ["req-2"] * 10 + ["retain"] * 40 + ["test"] * 30})
    >>> f = lambda X: np.c_[np.zeros(len(X)), X[:, 0]]
    >>> s = StreamCase(f, [Request("req-1", f, [f]), Request("req-2", f, [f])], df)
    >>> [step.n for step in s.steps]
    [{'forget': 10, 'retain': 50, 'test': 30}, {'forget': 20, 'retain': 40, 'test': 30}]
    """

    def __init__(self, original: Any, requests: Sequence[Request], data: pd.DataFrame | str | Path,
                 **case: Any) -> None:
        if not isinstance(requests, Sequence) or isinstance(requests, (str, bytes)) or not requests:
            raise BadInput("requests", "a stream needs at least one [[requests]] table")
        if len(requests) > MAX_REQUESTS:
            raise BadInput("requests", f"{len(requests)} requests; at most {MAX_REQUESTS} are audited in one run")
        base_dir = case.get("base_dir")
        self.original = original
        self.data_path: Path | None = None
        if isinstance(data, (str, Path)):
            p = Path(data)
            self.data_path = p if (base_dir is None or p.is_absolute()) else base_dir / p
            from audit.core.limits import limits_of

            data = read_table(self.data_path, case.get("limits") or limits_of(case.get("policy")))
        if not isinstance(data, pd.DataFrame):
            raise BadInput("data", f"expected a DataFrame or a path, got {type(data).__name__}")
        self.data = data.reset_index(drop=True)
        self.split_col = str(case.get("split", "split"))
        self.id_col = case.get("id")
        self.name = str(case.get("name", "stream of deletion requests"))
        self.request_id = case.get("request_id")
        self.requests = list(requests)
        self.request_ids = [str(r.id) if r.id is not None else f"request-{i + 1}" for i, r in enumerate(requests)]
        for j, rid in enumerate(self.request_ids):
            if rid in self.request_ids[:j]:
                raise BadInput(f"requests[{j + 1}].id", f"request id {rid!r} is used twice")
        self.removed_at = self._removal_steps()
        if case.get("commitment_key") is None and self.id_col is not None:
            from audit.shared.commitment import new_key

            case["commitment_key"] = new_key()  # one key for every step's commitment
            self.commitment_key_generated = True
        else:
            self.commitment_key_generated = False
        self.commitment_key = case.get("commitment_key")
        self.steps: list[AuditCase] = [self._step(i, r, case) for i, r in enumerate(self.requests)]
        self.allow_pickle, self.allow_code = self.steps[0].allow_pickle, self.steps[0].allow_code
        self.models = {"original": self.steps[0].models["original"]}
        for i, step in enumerate(self.steps):
            self.models.update({f"step{i + 1}:{role}": m for role, m in step.models.items() if role != "original"})

    # -- validation --------------------------------------------------------------
    def _rows_of(self, i: int, forget: Any, split: pd.Series) -> np.ndarray:
        """Boolean mask of request ``i``'s rows (1-based ``i`` in messages)."""
        field = f"requests[{i}].forget"
        if isinstance(forget, str):
            rows = (split == forget).to_numpy()
            if forget in ("retain", "test"):
                raise BadInput(field, f"{forget!r} cannot be a request's rows; give the request a split value "
                               "of its own (e.g. 'req-1') or a list of ids")
        elif isinstance(forget, (list, tuple, np.ndarray, pd.Series)):
            if self.id_col is None:
                raise BadInput(field, "a list of ids needs an id column ([data] id)")
            wanted = {str(v) for v in forget}
            ids = self.data[self.id_col].astype(str)
            rows = ids.isin(wanted).to_numpy()
            unknown = wanted - set(ids[rows])
            if unknown:
                raise BadInput(field, f"{len(unknown)} id(s) not in the data, e.g. {sorted(unknown)[0]!r}")
        else:
            raise BadInput(field, f"must be a split value (string) or a list of ids, got {type(forget).__name__}")
        if not rows.any():
            raise BadInput(field, f"{forget!r} marks no rows of the data" if isinstance(forget, str)
                           else "the id list is empty")
        test = int((rows & (split == "test").to_numpy()).sum())
        if test:
            raise BadInput(field, f"{test} of its rows are test rows (never trained on, nothing to forget)")
        return rows

    def _removal_steps(self) -> np.ndarray:
        """Per row: the (1-based) step that removes it, 0 for rows no request removes."""
        if self.split_col not in self.data.columns:
            raise BadInput("data.split", f"column {self.split_col!r} not found")
        split = self.data[self.split_col].astype("string").fillna("")
        at = np.zeros(len(self.data), dtype=np.int64)
        for i, req in enumerate(self.requests, start=1):
            if not isinstance(req, Request):
                raise BadInput(f"requests[{i}]", f"must be a table (Request), got {type(req).__name__}")
            rows = self._rows_of(i, req.forget, split)
            twice = rows & (at > 0)
            if twice.any():
                raise BadInput(f"requests[{i}].forget", f"{int(twice.sum())} of its rows were already removed by "
                               f"requests[{int(at[twice][0])}]")
            at[rows] = i
        own = set(split.unique()) - set(SPLITS) - {""}
        claimed = {r.forget for r in self.requests if isinstance(r.forget, str)}
        stray = sorted(own - claimed)
        if stray:
            raise BadInput("data.split", f"split value(s) {stray[:5]} mark no request's rows; use retain, test "
                           "or a [[requests]] forget value")
        orphan = int(((split == "forget").to_numpy() & (at == 0)).sum())
        if orphan:
            raise BadInput("data.split", f"{orphan} rows are marked forget but no request removes them")
        return at

    def _step(self, i: int, req: Request, case: dict[str, Any]) -> AuditCase:
        split = np.where(self.data[self.split_col].astype("string").fillna("") == "test", "test",
                         np.where((self.removed_at > 0) & (self.removed_at <= i + 1), "forget", "retain"))
        frame = self.data.assign(**{self.split_col: split.astype(object)})
        retrained = req.retrained
        if isinstance(retrained, (str, Path)) or not isinstance(retrained, Sequence):
            retrained = [retrained]
        if not retrained and not case.get("train_references"):
            raise BadInput(f"requests[{i + 1}].retrained", "missing: give models retrained on the cumulative "
                           "retain set, or [references] train = k with a [training] recipe")
        kw = {**case, "original": self.original}
        kw["request_id"] = self.request_ids[i]
        kw["name"] = f"{self.name}: step {i + 1} of {len(self.requests)} ({self.request_ids[i]})"
        try:
            step = AuditCase(unlearned=req.unlearned, retrained=list(retrained), data=frame, **kw)
        except BadInput as exc:
            raise _step_error(i + 1, exc) from exc
        step.data_path = self.data_path  # the step's data is the stream's file, re-split
        return step

    # -- accessors ---------------------------------------------------------------
    def step(self, i: int) -> AuditCase:
        """The model audit of step ``i`` (1-based): forget = the rows of requests ``1..i``.

        Parameters
        ----------
        i : int
            The step, from 1 to ``len(self)``.

        Returns
        -------
        AuditCase
            The step's case: unlearned = request ``i``'s model, retain = every other training
            row (later requests' rows included).
        """
        return self.steps[i - 1]

    def own_rows(self, i: int) -> int:
        """Rows request ``i`` (1-based) removes itself.

        Parameters
        ----------
        i : int
            The request, from 1 to ``len(self)``.

        Returns
        -------
        int
            Rows whose removal step is ``i`` (not the cumulative forget set).
        """
        return int((self.removed_at == i).sum())

    def __len__(self) -> int:
        return len(self.steps)


def _request_of(i: int, table: Any) -> Request:
    if not isinstance(table, dict):
        raise BadInput(f"requests[{i}]", "must be a table ([[requests]])")
    extra = sorted(set(table) - REQUEST_KEYS)
    if extra:
        raise BadInput(f"requests[{i}].{extra[0]}", f"unknown key; allowed: {sorted(REQUEST_KEYS)}")
    for key in ("forget", "unlearned"):
        if key not in table:
            raise BadInput(f"requests[{i}].{key}", "missing")
    rid = table.get("id")
    if rid is not None and not isinstance(rid, str):
        raise BadInput(f"requests[{i}].id", f"must be a string, got {type(rid).__name__}")
    retrained = table.get("retrained", [])
    if isinstance(retrained, str):
        retrained = [retrained]
    if not isinstance(retrained, list):
        raise BadInput(f"requests[{i}].retrained", "must be a list of model files")
    return Request(forget=table["forget"], unlearned=table["unlearned"], retrained=retrained, id=rid)


def load_stream_case(path: str | Path, allow_pickle: bool = False, allow_code: bool = False,
                     gate: dict[str, Any] | None = None, commitment_key: bytes | None = None) -> StreamCase:
    """Read a stream case file (``[[requests]]``) and build a validated :class:`StreamCase`.

    Every request is checked (its rows, its models, its references) before this returns;
    a bad one is :class:`~audit.shared.errors.BadInput` naming ``requests[i].<field>`` (1-based).

    Parameters
    ----------
    path : str or Path
        The case file; its ``[models]`` holds the original only.
    allow_pickle, allow_code : bool
        Trust flags, as for :func:`audit.core.case_file.load_case`.
    gate : dict, optional
        The ``--policy`` file's tables (for the data limits).
    commitment_key : bytes, optional
        The forget-id commitment key; without one (and with an id column) a key is
        generated, shared by every step.

    Returns
    -------
    StreamCase
        The stream, every step's case built.

    Raises
    ------
    BadInput
        The file is missing or unreadable, has no ``[[requests]]`` tables, or a request (its
        keys, rows, models or references) or another section is invalid.

    Examples
    --------
    >>> load_stream_case("/nonexistent/case.toml")
    Traceback (most recent call last):
    ...
    audit.shared.errors.BadInput: case: case file not found: /nonexistent/case.toml
    """
    path = Path(path)
    doc = read_case_doc(path)
    raw = doc.pop("requests", None)
    if not isinstance(raw, list) or not raw:
        raise BadInput("requests", "a stream case needs one or more [[requests]] tables")
    requests = [_request_of(i, t) for i, t in enumerate(raw, start=1)]
    kw = case_kwargs(doc, path, allow_pickle=allow_pickle, allow_code=allow_code, gate=gate,
                     commitment_key=commitment_key, stream=True)
    original, data = kw.pop("original"), kw.pop("data")
    return StreamCase(original, requests, data, **kw)
