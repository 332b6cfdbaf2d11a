"""Methods in stream mode: how many requests does an unlearning method survive before a retrain is due?

``unlearn-audit methods --stream N`` / :func:`run_method_stream`. The case's forget rows are
dealt at random into ``N`` requests (:func:`audit.engine.stream.deal_requests`). For every method:

* the method's original is trained on every training row (the recipe; SISA trains its own
  sharded ensemble, as in the method lab: :func:`audit.lab.method_audit.original_model`);
* request ``i`` is served by the method applied to the *previous step's* model, with the
  request's own rows as ``forget`` and the cumulative retain set as ``retain``;
* the references of step ``i`` are the method's own training procedure from scratch on the
  cumulative retain set (the recipe, as one batched ensemble for ``torch-mlp``; a SISA
  ensemble for ``sisa``), with seeds the method's models do not use;

and the stream is audited by :func:`audit.engine.runner.run_stream` — every step a model audit
through the one runner and kernel. The answer per method is ``stream.requests_survived``:
the requests served before the first failing step (all of them when none fails). SISA's
exact shard retraining is the natural comparison to an approximate method such as
``finetune``. FedAvg client removal is not a stream of row deletions and is refused.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from audit.core.case import AuditCase
from audit.engine.policy import resolve_policy
from audit.engine.runner import run_stream
from audit.engine.stream import Request, StreamCase, deal_requests
from audit.lab.method_audit import original_model
from audit.lab.methods.base import run_method
from audit.lab.methods.user import MethodSpec, resolve_methods
from audit.shared.errors import BadInput
from audit.training.recipes import get_recipe
from audit.training.references import reference_seeds, train_references

__all__ = ["run_method_stream", "STREAM_METHODS"]

STREAM_METHODS = ["retrain", "noop", "finetune", "sisa"]


def _matrices(case: AuditCase) -> tuple[np.ndarray, np.ndarray]:
    if case.has_text_features:
        raise BadInput("data.features", "stream mode trains models itself and needs numeric features")
    X = case.inputs_of(np.arange(len(case.data)))
    y = np.zeros(len(case.data), dtype=np.int64)
    for s in ("forget", "retain", "test"):
        y[case.mask(s)] = case.y(s)
    return np.asarray(X, dtype=np.float32), y


def _references(kind: str, recipe: Any, X: np.ndarray, y: np.ndarray, k: int, n_classes: int, seed: int,
                pol: dict[str, Any]) -> list[Any]:
    """``k`` models of the method's own training procedure, from scratch on ``(X, y)``."""
    seeds = reference_seeds(seed, k)
    if kind == "recipe":
        return train_references(recipe, X, y, n_classes, seeds)
    empty = (X[:0], y[:0])
    return [original_model("sisa", empty, (X, y), n_classes, recipe, s, pol)[1] for s in seeds]


def _stream_of(case: AuditCase, method: MethodSpec, frame_split: np.ndarray, X: np.ndarray, y: np.ndarray,
               recipe: Any, seed: int, k: int, pol: dict[str, Any]) -> StreamCase:
    tags = sorted({s for s in frame_split if str(s).startswith("req-")})
    train = frame_split != "test"
    kind, model = original_model(method.name, (X[:0], y[:0]), (X[train], y[train]), case.n_classes, recipe,
                                 1000 + seed, pol)
    original, requests = model, []
    for i, tag in enumerate(tags, start=1):
        gone = np.isin(frame_split, tags[:i])
        own = frame_split == tag
        keep = train & ~gone
        model = run_method(method.fn, method.name, copy.deepcopy(model), (X[own], y[own]), (X[keep], y[keep]),
                           recipe, 2000 + seed + i).model
        refs = _references(kind, recipe, X[keep], y[keep], k, case.n_classes, seed + 100 * i, pol)
        requests.append(Request(tag, model, refs, id=f"REQ-{tag[4:]}"))
    frame = case.data.assign(**{case.split_col: frame_split})
    return StreamCase(original, requests, frame, label=case.label, split=case.split_col, id=case.id_col,
                      features=case.features, groups=case.groups, policy=case.policy_overrides,
                      name=f"{case.name}: {method.name} over {len(tags)} requests", task=case.task)


def run_method_stream(case: AuditCase, methods: list[str | MethodSpec] | None = None, n_requests: int = 5,
                      seed: int = 0, recipe: Any = None, policy: dict[str, Any] | None = None,
                      references: int = 4) -> dict[str, dict[str, Any]]:
    """Run every method over a stream of ``n_requests`` deletions; return each stream's results.

    Parameters
    ----------
    case : AuditCase
        Its forget rows become the requests; it needs a ``[training]`` recipe.
    methods : list, optional
        Built-in names or the user's own (:mod:`audit.lab.methods.user`); default
        :data:`STREAM_METHODS`.
    n_requests : int
        Requests the forget rows are dealt into (at random, seeded).
    seed : int
        Seeds the dealing, the models and every bootstrap.
    recipe : Recipe, optional
        Overrides the case's recipe (e.g. fewer epochs).
    policy : dict, optional
        The gate policy every step runs under (split over the steps, decision record 0016).
    references : int
        References per step (at least 2).

    Returns
    -------
    dict
        Method name → its stream's results.json (``["stream"]["requests_survived"]``).

    Examples
    --------
    >>> from audit.core.case_file import load_case                                   # doctest: +SKIP
    >>> out = run_method_stream(load_case("digits/case.toml"), ["finetune", "sisa"], 5)  # doctest: +SKIP
    >>> {m: r["stream"]["requests_survived"] for m, r in out.items()}      # doctest: +SKIP
    """
    if int(references) < 2:
        raise BadInput("--references", "stream mode needs at least 2 references per step")
    specs = resolve_methods(list(methods or STREAM_METHODS), allow_code=case.allow_code, base_dir=case.base_dir)
    for m in specs:
        if m.name.startswith("fedavg"):
            raise BadInput("--method", f"{m.name!r} removes a federated client, not a stream of row deletions")
    pol = resolve_policy(case, policy)[0]  # validated before any training
    if recipe is None:
        if not case.recipe:
            raise BadInput("training.recipe", "stream mode needs a training recipe ([training] in the case)")
        recipe = get_recipe(case.recipe, case.recipe_params, original=case.models["original"])
    split = deal_requests(case.data[case.split_col], n_requests, seed)
    X, y = _matrices(case)
    out = {}
    for m in specs:
        stream = _stream_of(case, m, split, X, y, recipe, seed, int(references), pol["method"])
        out[m.key] = run_stream(stream, policy=policy, seed=seed)
    return out
