"""Method audit: run unlearning methods x seeds under control, through the one runner and kernel.

For every seed the case's training rows are re-used with a *planted signal* (Izzo 2021's
injected feature, which doubles as an Athena backdoor canary): one extra column is
``inject_value`` on the forget rows and 0 elsewhere, and the forget rows are relabelled
to one target class, so only the forget rows teach "feature on -> target" (decision
record 0008). With ``forget_kind = "class"`` nothing is planted: one class is removed whole
and the retrains, which never saw it, are the reference for what removing it looks like
(:mod:`audit.lab.method_class`, decision record 0017). The method lab trains:

* ``R_0 .. R_{K-1}`` — the recipe on the retain rows only, ``K = max(references, seeds)``,
  shared by every method and seed (the retrain distribution);
* per seed ``s``: ``O_s`` — the recipe on forget + retain (SISA / FedAvg methods train
  their own original of that architecture), shared by the methods that use it;
* per method and seed: ``U_s`` — the method applied to a private copy of ``O_s``.

Every model's outputs go through one :class:`audit.core.cache.OutputCache` (each (model, split)
once). The runner (:func:`audit.engine.runner.run_method_checks`) then runs the registry's
method-mode checks (:mod:`audit.checks.method`) once per method, each gated metric decided
by the one decision kernel with ``O_s`` as the positive control and each ``R_j`` as the
negative control, and :func:`audit.engine.runner.build_results` writes the results. The controls
``retrain`` and ``noop`` are reported, not required. A method is a built-in name or the
user's own ``package.module:function`` (:mod:`audit.lab.methods.user`).
"""

from __future__ import annotations

import copy
import time
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np

from attacks.population import logit_confidence
from audit.checks.method import SeedRun
from audit.core.adapters import WidenedClasses
from audit.core.cache import OutputCache
from audit.core.case import AuditCase
from audit.core.results import CheckResult
from audit.engine.policy import resolve_policy
from audit.lab.canary import canary_two_sample_test
from audit.lab.method_class import class_removal_rows, resolve_method_forget_kind
from audit.lab.method_comparison import method_comparison
from audit.lab.methods.base import run_method
from audit.lab.methods.fedavg import train_fedavg
from audit.lab.methods.sisa import train_sisa
from audit.lab.methods.user import MethodSpec, resolve_methods
from audit.shared.errors import BadInput
from audit.training.recipes import get_recipe
from audit.training.references import model_digest

__all__ = ["run_method_audit", "original_model", "DEFAULT_METHODS", "CONTROLS"]

DEFAULT_METHODS = ["retrain", "noop", "finetune", "gradient_ascent", "random_labels", "sisa"]
CONTROLS = ("retrain", "noop")
_SPLITS = ("forget", "retain", "test")


@dataclass
class _Planted:
    X: dict[str, np.ndarray]
    y: dict[str, np.ndarray]
    target: int
    k: int
    kind: str = "random"


def _class_removal(case: AuditCase, cls: int) -> _Planted:
    """The lab's rows when class ``cls`` is removed whole (:mod:`audit.lab.method_class`)."""
    X, y = class_removal_rows(case, cls)
    return _Planted(X, y, cls, int(case.n_classes), "class")


def _planted(case: AuditCase, value: float, n_queries: int) -> _Planted:
    counts = np.bincount(case.y("retain"), minlength=case.n_classes)
    target = int(np.argmin(counts))
    X = {s: np.c_[case.X(s), np.full(case.n[s], value if s == "forget" else 0.0)].astype(np.float32)
         for s in _SPLITS}
    y = {s: case.y(s).copy() for s in _SPLITS}
    y["forget"][:] = target
    X["forget_zeroed"] = X["forget"].copy()
    X["forget_zeroed"][:, -1] = 0.0
    X["trigger"] = X["test"][:n_queries].copy()
    X["trigger"][:, -1] = value
    y["forget_zeroed"] = y["forget"]
    y["trigger"] = np.full(len(X["trigger"]), target, dtype=y["test"].dtype)
    return _Planted(X, y, target, int(case.n_classes))


def _full_width(model: Any, k: int) -> Any:
    """A model fitted without the removed class (scikit-learn), widened to all ``k`` classes."""
    classes = getattr(model, "classes", None)
    if classes is not None and len(classes) < k:
        return WidenedClasses(model, np.arange(k))
    return model


class _SeedView:
    """One (method, seed) seen as a model audit: ``unlearned`` / ``original`` mapped to its roles."""

    def __init__(self, cache: OutputCache, original: str, unlearned: str) -> None:
        self._c, self._alias = cache, {"original": original, "unlearned": unlearned}

    @property
    def reference_roles(self) -> list[str]:
        return self._c.reference_roles

    def labels(self, split: str) -> np.ndarray:
        return self._c.labels(split)

    def logprobs(self, role: str, split: str) -> np.ndarray:
        return self._c.logprobs(self._alias.get(role, role), split)

    def losses(self, role: str, split: str) -> np.ndarray:
        return self._c.losses(self._alias.get(role, role), split)

    def predictions(self, role: str, split: str) -> np.ndarray:
        return self._c.predictions(self._alias.get(role, role), split)

    def correct(self, role: str, split: str) -> np.ndarray:
        return self._c.correct(self._alias.get(role, role), split)

    def phi(self, role: str) -> np.ndarray:
        """Logit-scaled confidence on the forget rows (U-LiRA / challenge statistic)."""
        return logit_confidence(self.logprobs(role, "forget"), self.labels("forget"))


def original_model(name: str, forget: tuple[np.ndarray, np.ndarray], retain: tuple[np.ndarray, np.ndarray],
                   n_classes: int, recipe: Any, seed: int, pol: dict[str, Any]) -> tuple[str, Any]:
    """``(kind, O)``: the original a method starts from, trained on forget + retain.

    SISA trains its own sharded ensemble and FedAvg its federation (the forget rows are one
    client); every other method starts from the recipe's model. SISA and FedAvg take the
    recipe's ``hidden``, ``lr`` and ``epochs`` parameters (defaults ``(64,)``, ``1e-3``, 30).

    Parameters
    ----------
    name : str
        The method: ``"sisa"``, a name starting with ``"fedavg"``, or any other.
    forget, retain : (X, y)
        The forget and retain rows (float32 features, integer labels).
    n_classes : int
        Number of classes.
    recipe : Recipe
        The training recipe (:func:`audit.training.recipes.get_recipe`).
    seed : int
        The training seed.
    pol : dict
        The policy's ``[method]`` table (``sisa_shards``, ``sisa_slices``, ``fed_clients``;
        unused by a recipe original).

    Returns
    -------
    kind : str
        ``"sisa"``, ``"fedavg"`` or ``"recipe"``.
    O : adapter
        The trained original.

    Examples
    --------
    >>> from audit.training.recipes import get_recipe
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 3)).astype("float32"); y = (X[:, 0] > 0).astype(int)
    >>> original_model("finetune", (X[:5], y[:5]), (X[5:], y[5:]), 2, get_recipe("torch-mlp", {"epochs": 1}),
    ...                0, {})[0]
    'recipe'
    """
    Xtr, ytr = np.concatenate([forget[0], retain[0]]), np.concatenate([forget[1], retain[1]])
    p = dict(recipe.params)
    hidden = tuple(p.get("hidden", (64,)))
    lr, epochs = float(p.get("lr", 1e-3)), int(p.get("epochs", 30))
    if name == "sisa":
        return "sisa", train_sisa(Xtr, ytr, n_classes, seed, n_shards=pol["sisa_shards"], n_slices=pol["sisa_slices"],
                                  hidden=hidden, lr=lr, epochs_per_slice=max(1, epochs // pol["sisa_slices"]))
    if name.startswith("fedavg"):
        parts = np.array_split(np.arange(len(retain[1])), pol["fed_clients"] - 1)
        clients = [forget] + [(retain[0][i], retain[1][i]) for i in parts]
        return "fedavg", train_fedavg(clients, n_classes, seed, rounds=10, local_epochs=max(1, epochs // 10), lr=lr,
                                      hidden=hidden)
    return "recipe", recipe.fit(Xtr, ytr, n_classes, seed)


def _original(name: str, d: _Planted, recipe: Any, seed: int, pol: dict[str, Any]) -> tuple[str, Any]:
    """``(kind, O)`` on the planted data (:func:`original_model`)."""
    return original_model(name, (d.X["forget"], d.y["forget"]), (d.X["retain"], d.y["retain"]), d.k, recipe,
                          seed, pol)


class _Lab:
    """The models of one method audit, in one output cache."""

    def __init__(self, d: _Planted, recipe: Any, seeds: list[int], pol: dict[str, Any], batch_size: int) -> None:
        self.d, self.recipe, self.seeds, self.pol = d, recipe, seeds, pol
        self.models: dict[str, Any] = {}
        self.ref_seconds: list[float] = []
        for j in range(max(int(pol["references"]), len(seeds))):
            t0 = time.perf_counter()  # recipe.fit, exactly as the `retrain` method trains
            ref = _full_width(recipe.fit(d.X["retain"], d.y["retain"], d.k, 10_000 + j), d.k)
            self.ref_seconds.append(time.perf_counter() - t0)
            ref.sha256 = model_digest(ref, recipe, 10_000 + j, d.X["retain"])
            ref.provenance = {"source": "trained", "seed": 10_000 + j, "recipe": recipe.name, "trained_on": "retain"}
            self.models[f"retrained:{j}"] = ref
        self._originals: dict[tuple[str, int], str] = {}
        self.cache = OutputCache(self.models, lambda s: d.X[s], lambda s: d.y[s], batch_size=batch_size)

    def _add(self, role: str, model: Any) -> None:
        self.models[role] = model
        self.cache.add_model(role, model)

    def original(self, name: str, seed: int) -> str:
        kind = "sisa" if name == "sisa" else "fedavg" if name.startswith("fedavg") else "recipe"
        if (kind, seed) not in self._originals:
            kind, model = _original(name, self.d, self.recipe, 1000 + seed, self.pol)
            role = f"original:{kind}:{seed}"
            self._add(role, model)
            self._originals[(kind, seed)] = role
        return self._originals[(kind, seed)]

    def seed_run(self, method: MethodSpec, i: int, seed: int) -> SeedRun:
        o_role = self.original(method.name, seed)
        original = self.models[o_role]
        forget, retain = (self.d.X["forget"], self.d.y["forget"]), (self.d.X["retain"], self.d.y["retain"])
        res = run_method(method.fn, method.name, copy.deepcopy(original), forget, retain, self.recipe,
                         2000 + seed)
        u_role = f"unlearned:{method.name}:{seed}"
        self._add(u_role, _full_width(res.model, self.d.k))
        view = _SeedView(self.cache, o_role, u_role)
        canary = None  # class removal plants no canary
        if self.d.kind == "random":
            n_q = len(self.d.y["trigger"])
            hits = {r: int((view.predictions(r, "trigger") == self.d.target).sum())
                    for r in ("unlearned", "original", f"retrained:{i}")}
            canary = canary_two_sample_test(hits["unlearned"], n_q, hits[f"retrained:{i}"], n_q,
                                            float(self.pol["canary_alpha"]), p=hits["original"] / n_q)
        storage = res.storage_bytes or int(getattr(res.model, "storage_bytes", 0) or 0)
        return SeedRun(seed, view, canary, res.seconds, self.ref_seconds[i], storage, res.extra)


def _subject(lab: _Lab, method: MethodSpec, target: int) -> dict[str, Any] | CheckResult:
    """The method's check context extras, or a skipped / error result when it cannot run."""
    cid, title = f"method_{method.key}", f"Method: {method.name}"
    try:
        runs = [lab.seed_run(method, i, s) for i, s in enumerate(lab.seeds)]
    except BadInput as exc:
        if exc.field == "--method":  # the user's callable broke its protocol: bad input, exit 2
            raise
        return CheckResult(cid, "skipped", f"{method.name} does not apply to this recipe: {exc.message}",
                           title=title, missing=[exc.message], required=False)
    except Exception as exc:  # noqa: BLE001 - a method that crashes is an error of that method
        why = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return CheckResult(cid, "error", f"{method.name} raised while unlearning: {why}", title=title,
                           notes=[why], required=method.name not in CONTROLS)
    return {"method": method.name, "key": method.key, "seeds": runs, "target": target, "forget_kind": lab.d.kind,
            "required": method.name not in CONTROLS}


def run_method_audit(
    case: AuditCase, methods: list[str | MethodSpec] | None = None, seeds: list[int] | None = None, seed: int = 0,
    recipe: Any = None, policy: dict[str, Any] | None = None, allow_code: bool | None = None,
    forget_kind: str | None = None, forget_class: int | None = None,
) -> dict[str, Any]:
    """Run ``methods`` x ``seeds`` on ``case`` and return its results (mode ``method``).

    Parameters
    ----------
    case : AuditCase
        The data (its forget / retain / test split) and the ``[training]`` recipe.
    methods : list of str or MethodSpec, optional
        Built-in names (:data:`audit.lab.methods.METHODS`) and / or the user's own
        ``"package.module:function"`` (protocol: :mod:`audit.lab.methods.user`), or specs already
        resolved by :func:`audit.lab.methods.user.resolve_methods`. Default :data:`DEFAULT_METHODS`.
    seeds : list of int, optional
        Training seeds (default ``[0, 1, 2]``); each seed trains its own original and U.
    seed : int
        Seeds every bootstrap.
    recipe : Recipe, optional
        Overrides the case's recipe (e.g. fewer epochs).
    policy : dict, optional
        A gate policy, as for :func:`audit.engine.runner.run_audit`; method options live in its
        ``[method]`` table (:mod:`audit.checks.method`).
    allow_code : bool, optional
        Trust user methods outside the installed packages; default: the case's
        ``--allow-code``.
    forget_kind : {"random", "class"}, optional
        ``random``: the case's forget rows with a planted signal (decision record 0008);
        ``class``: class ``forget_class`` removed whole, judged against retrains that never saw
        it (decision record 0017). Default: the case's ``[case] forget_kind``, else random.
    forget_class : int, optional
        The class a class removal drops (default: the one the case's own split forgets whole).

    Returns
    -------
    dict
        The results (``results.json``), with ``method_comparison`` first.

    Examples
    --------
    >>> from audit.core.case_file import load_case                                   # doctest: +SKIP
    >>> res = run_method_audit(load_case("digits/case.toml"), ["retrain", "noop"], [0, 1])  # doctest: +SKIP
    >>> {c["id"]: c["status"] for c in res["checks"]}                      # doctest: +SKIP
    {'method_comparison': 'skipped', 'method_retrain': 'pass', 'method_noop': 'fail'}
    """
    allow = case.allow_code if allow_code is None else bool(allow_code)
    specs = resolve_methods(list(methods or DEFAULT_METHODS), allow_code=allow, base_dir=case.base_dir)
    seeds = list(seeds if seeds is not None else [0, 1, 2])
    if not seeds:
        raise BadInput("seeds", "need at least one seed")
    if len(set(seeds)) != len(seeds):
        raise BadInput("seeds", f"seeds must differ, got {seeds}")
    pol, sources = resolve_policy(case, policy)
    if recipe is None:
        if not case.recipe:
            raise BadInput("training.recipe", "a method audit needs a training recipe ([training] in the case)")
        recipe = get_recipe(case.recipe, case.recipe_params, original=case.models["original"])
    from audit.engine.runner import _model_entry, _now, build_results, run_method_checks

    started, clock = _now(), time.perf_counter()
    mp = pol["method"]
    kind, cls = resolve_method_forget_kind(case, forget_kind, forget_class)
    d = (_class_removal(case, cls) if kind == "class" else  # type: ignore[arg-type]
         _planted(case, float(mp["inject_value"]), min(int(mp["n_queries"]), case.n["test"])))
    lab = _Lab(d, recipe, seeds, mp, int(pol["general"]["batch_size"]))
    try:  # like run_audit: the lab's memory-mapped outputs go on every exit, not at garbage collection
        subjects, fixed = {}, {}
        for m in specs:
            s = _subject(lab, m, d.target)
            (subjects if isinstance(s, dict) else fixed)[m.key] = s
        checks, meters, kinds = run_method_checks(case, pol, seed, subjects)
    finally:
        lab.cache.close()
    by_id = {c["id"]: c for c in checks}
    ordered = [by_id.get(f"method_{m.key}") or fixed[m.key].to_dict() for m in specs]
    kinds.update({f"method_{n}": "forgetting" for n in fixed})
    model = {"sha256": None, "format": f"method-audit:{recipe.name}", "file": None, "source": "trained"}
    refs = [_model_entry(lab.models[r]) for r in lab.cache.reference_roles]
    record = {"methods": [m.record() for m in specs], "seeds": seeds, "references": len(lab.ref_seconds),
              "recipe": recipe.name, "target_class": d.target, "allow_code": allow, "forget_kind": kind,
              "forget_class": cls}
    table = method_comparison([m.name for m in specs], ordered, case.name, seeds, d.target, kind)
    return build_results(case, pol, sources, seed, "method", [table, *ordered],
                         kinds, meters, time.perf_counter() - clock, started,
                         models={"original": model, "unlearned": model, "retrained": refs},
                         extra={"method_audit": record})
