"""The audit case: models + data + groups + request metadata, validated up front."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from audit.core.adapters import load_model
from audit.core.data import check_feature_values, frame_sha256, read_table, validate_table
from audit.core.features import resolve_features
from audit.core.forget_kind import validate_forget_kind
from audit.core.limits import limits_of
from audit.core.split_table import SplitTable
from audit.core.task import TaskInfo, decide_task, encode_targets, validate_task
from audit.shared.errors import BadInput, one_line
from audit.training.references import validate_reference_request

__all__ = ["AuditCase"]

_PROBE_ROWS = 8


class AuditCase(SplitTable):
    """Models, data and metadata of one audit, validated when constructed.

    Its table is read by split through the base class (:class:`audit.core.split_table.SplitTable`:
    ``mask``, ``X``, ``inputs``, ``y``, ``frame``, ``n``, ...).

    Parameters
    ----------
    original, unlearned : model spec
        A path, a case-file table, an adapter, a fitted scikit-learn classifier, a
        ``torch.nn.Module`` or a callable returning logits.
    retrained : sequence of model specs
        One or more models retrained from scratch on the retain split only.
    data : DataFrame or path
        One table; column ``split`` marks rows ``forget``, ``retain`` or ``test``.
    label, split : str
        Column names of the class label (integer class index or a value of the
        models' ``classes_``) and of the split.
    groups : list of str, optional
        Subgroup columns (not model features unless listed in ``features``).
    id : str, optional
        Row id column; only a keyed commitment to the forget ids reaches the evidence pack
        (:mod:`audit.shared.commitment`).
    features : list of str, optional
        Feature columns fed by position to models that know no input names; models that
        do (``feature_names_in_``, ONNX inputs, a declared list) get their own columns by
        name (:mod:`audit.core.features`). Default: the named models' columns, else every
        column that is not label, split, id or group.
    recipe, recipe_params : str, dict, optional
        The ``[training]`` recipe (see :func:`audit.training.recipes.get_recipe`) and its parameters.
    train_references : int
        Extra references (0..64) to train with ``recipe`` on the retain rows; they become
        roles ``retrained:<i>`` after the given ones (see :mod:`audit.training.references`).
    reference_seed : int
        Base seed the extra references' seeds are derived from.
    allow_pickle : bool
        Trust pickle / joblib model files (``--allow-pickle``).
    allow_code : bool
        Trust code the case names by import path (``--allow-code``): an ``architecture``
        module in the case directory or outside the installed packages, and a
        ``"package.module:function"`` recipe (see :mod:`audit.core.code_import`).
    limits : dict, optional
        Data limits (:func:`audit.core.limits.limits_of`); default: from ``policy``'s ``[general]``.
    forget_kind : str, optional
        ``"random"``, ``"class"``, ``"group"`` or ``"feature"`` (``[case] forget_kind``);
        default: detected (:func:`audit.core.forget_kind.detect_forget_kind`).
    trusted_types : list of str, optional
        Reviewed types to trust in ``.skops`` models (``[models] trusted_types``).
    task : str, optional
        ``"classification"`` or ``"regression"`` (``[case] task``); default: detected from the
        models (:func:`audit.core.task.decide_task`: every model returns one value per row, e.g.
        scikit-learn regressors). A declared task the models contradict is bad input.
    commitment_key : bytes, optional
        The data controller's 32-byte key for the forget-set commitment; without it a fresh
        key is generated when the commitment is first computed (``commitment_key_generated``
        is then true, and :func:`audit.engine.runner.write_evidence` hands it over beside the pack).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"x": rng.normal(size=60), "label": rng.integers(0, 2, 60),
    ...                    "split": ["forget"] * 10 + ["retain"] * 30 + ["test"] * 20})
    >>> f = lambda X: np.c_[np.zeros(len(X)), X[:, 0]]
    >>> case = AuditCase(original=f, unlearned=f, retrained=[f], data=df,
    ...                  label="label", split="split")
    >>> case.n
    {'forget': 10, 'retain': 30, 'test': 20}
    >>> case.X("forget").shape, case.y("test").shape, case.frame("retain").shape
    ((10, 1), (20,), (30, 3))
    >>> case.features, case.forget_set_commitment() is None   # no id column: no commitment
    (['x'], True)
    """

    def __init__(
        self,
        original: Any,
        unlearned: Any,
        retrained: Sequence[Any],
        data: pd.DataFrame | str | Path,
        label: str = "label",
        split: str = "split",
        groups: Sequence[str] | None = None,
        id: str | None = None,  # noqa: A002 - mirrors the case-file key
        features: Sequence[str] | None = None,
        name: str = "unlearning audit",
        request_id: str | None = None,
        description: str | None = None,
        operator: str | None = None,
        recipe: str | None = None,
        recipe_params: dict[str, Any] | None = None,
        allow_pickle: bool = False,
        allow_code: bool = False,
        base_dir: Path | None = None,
        policy: dict[str, Any] | None = None,
        train_references: int = 0,
        reference_seed: int = 0,
        forget_kind: str | None = None,
        limits: dict[str, int] | None = None,
        trusted_types: Sequence[str] | None = None,
        commitment_key: bytes | None = None,
        task: str | None = None,
    ) -> None:
        if commitment_key is not None and len(commitment_key) != 32:
            raise BadInput("commitment_key", "a 32-byte key is required")
        self.commitment_key = commitment_key
        self.commitment_key_generated = False
        self.forget_kind = validate_forget_kind(forget_kind)
        self.declared_task = validate_task(task)
        if self.declared_task == "language_model":
            raise BadInput("case.task", 'declared "language_model": build an audit.lm.LanguageModelCase '
                           "(or a case file whose models are model directories with a config.json)")
        self.train_references, self.reference_seed = validate_reference_request(
            train_references, reference_seed, recipe)
        self.name = str(name)
        self.request_id = None if request_id is None else str(request_id)
        self.description = description
        self.operator = None if operator is None else str(operator)
        self.allow_pickle = bool(allow_pickle)
        self.allow_code = bool(allow_code)
        _check_recipe_code(recipe, self.allow_code)
        self.base_dir = base_dir
        self.recipe = recipe
        if recipe_params is not None and not isinstance(recipe_params, dict):
            raise BadInput("training.params", f"must be a table of recipe parameters, got {type(recipe_params).__name__}")
        self.recipe_params = dict(recipe_params or {})
        self.policy_overrides = dict(policy or {})
        limits = limits or limits_of(self.policy_overrides)
        self.data_path: Path | None = None
        if isinstance(data, (str, Path)):
            p = Path(data)
            self.data_path = p if (base_dir is None or p.is_absolute()) else base_dir / p
            data = read_table(self.data_path, limits)
        if not isinstance(data, pd.DataFrame):
            raise BadInput("data", f"expected a DataFrame or a path, got {type(data).__name__}")
        self.label, self.split_col = label, split
        self.groups = list(groups or [])
        self.id_col = id
        declared = None if features is None else list(features)
        candidates = validate_table(data, label, split, self.groups, id, declared, limits=limits)
        self.data = data.reset_index(drop=True)
        self.trusted_types = _trusted_types(trusted_types)
        if isinstance(retrained, (str, Path)) or not isinstance(retrained, Sequence):
            retrained = [retrained]
        if len(retrained) == 0 and not self.train_references:
            raise BadInput("models.retrained", "at least one retrained reference model is needed "
                           "(or [references] train = k with a [training] recipe)")
        trust = (base_dir, allow_pickle, allow_code, self.trusted_types)
        self.models: dict[str, Any] = {
            "original": load_model(original, "models.original", *trust),
            "unlearned": load_model(unlearned, "models.unlearned", *trust),
        }
        for i, r in enumerate(retrained):
            self.models[f"retrained:{i}"] = load_model(r, f"models.retrained[{i}]", *trust)
        self._reserved = {label, split} | ({id} if id else set())
        self.features, self.feature_source, self.models = resolve_features(
            self.data, self.models, candidates, declared, self._reserved)
        check_feature_values(self.data, self.features)
        self.n_classes, self.classes = self._probe_models()
        if self.task == "regression" and self.forget_kind == "class":
            raise BadInput("case.forget_kind", '"class" needs class labels; a regression case forgets '
                           "random rows, a group or a feature")
        self._y = (encode_targets(self.data[self.label]) if self.task == "regression"
                   else self._encode_labels())
        self._add_trained_references()

    # -- validation ------------------------------------------------------------
    @staticmethod
    def field_of(role: str) -> str:
        from audit.core.outputs import field_of_role

        return field_of_role(role)

    def _widen_class_removal(self) -> None:
        """Widen a model that lacks some of the original's classes (a class-removal retrain)."""
        from audit.core.adapters import WidenedClasses

        full = getattr(self.models["original"], "classes", None)
        if full is None:
            return
        full_set = {v.item() if hasattr(v, "item") else v for v in np.asarray(full)}
        for role, model in self.models.items():
            mine = getattr(model, "classes", None)
            if mine is None or len(mine) >= len(full):
                continue
            if {v.item() if hasattr(v, "item") else v for v in np.asarray(mine)} < full_set:
                self.models[role] = WidenedClasses(model, np.asarray(full))

    def _probe_models(self) -> tuple[int, np.ndarray | None]:
        self._widen_class_removal()  # only models with classes_ (never a regressor)
        X = self.inputs_of(np.arange(min(_PROBE_ROWS, len(self.data))))
        outs: dict[str, np.ndarray] = {}
        classes: dict[str, np.ndarray] = {}
        for role, model in self.models.items():
            try:
                outs[role] = np.asarray(model.predict_logits(X))
            except BadInput:
                raise
            except Exception as exc:  # noqa: BLE001 - report the model, not a traceback
                raise BadInput(
                    self.field_of(role),
                    f"fails on the data's {len(self.features)} feature columns: {one_line(exc)}",
                ) from exc
        self.task_info: TaskInfo = decide_task(self.models, outs, len(X), self.declared_task,
                                               self.data[self.label], self.field_of)
        if self.task == "regression":
            return 1, None
        n_classes: dict[str, int] = {}
        for role, model in self.models.items():
            out = outs[role]
            if out.ndim != 2 or out.shape[0] != len(X) or out.shape[1] < 2:
                raise BadInput(self.field_of(role), f"output shape {out.shape} is not [rows, classes>=2]")
            n_classes[role] = out.shape[1]
            if getattr(model, "classes", None) is not None:
                classes[role] = np.asarray(model.classes)
        if len(set(n_classes.values())) > 1:
            detail = ", ".join(f"{self.field_of(r)}={c}" for r, c in n_classes.items())
            raise BadInput("models", f"models disagree on the number of classes: {detail}")
        first = next(iter(classes.values()), None)
        for role, c in classes.items():
            if first is not None and not np.array_equal(c, first):
                raise BadInput(self.field_of(role), f"classes {c.tolist()} differ from {first.tolist()}")
        return next(iter(n_classes.values())), first

    def _encode_labels(self) -> np.ndarray:
        raw = self.data[self.label].to_numpy()
        if self.classes is not None:
            lookup = {v.item() if hasattr(v, "item") else v: i for i, v in enumerate(self.classes)}
            out = np.array([lookup.get(v.item() if hasattr(v, "item") else v, -1) for v in raw])
            bad = out < 0
            if bad.any():
                raise BadInput("data.label", f"{int(bad.sum())} label(s) not among the models' classes "
                               f"{self.classes.tolist()}, e.g. {_plain(raw[bad][0])!r}")
            return out.astype(np.int64)
        if not pd.api.types.is_integer_dtype(self.data[self.label]):
            as_float = pd.to_numeric(self.data[self.label], errors="coerce").to_numpy(dtype=float)
            if np.isnan(as_float).any() or not np.all(as_float == np.round(as_float)):
                raise BadInput("data.label", "labels must be integer class indices 0..classes-1")
            raw = as_float.astype(np.int64)
        raw = raw.astype(np.int64)
        bad = (raw < 0) | (raw >= self.n_classes)
        if bad.any():
            raise BadInput("data.label", f"{int(bad.sum())} label(s) outside the models' classes "
                           f"0..{self.n_classes - 1}, e.g. {int(raw[bad][0])}")
        return raw

    def _add_trained_references(self) -> None:
        if not self.train_references:
            return
        from audit.training.recipes import get_recipe
        from audit.training.references import reference_seeds, train_references

        if self.task == "regression" and self.recipe == "torch-mlp":
            raise BadInput("training.recipe", '"torch-mlp" trains a classifier; a regression case needs '
                           '"sklearn" (a clone of the original regressor) or "package.module:function"')
        recipe = get_recipe(self.recipe, self.recipe_params, original=self.models["original"])
        seeds = reference_seeds(self.reference_seed, self.train_references)
        first = len(self.reference_roles)
        trained = {f"retrained:{first + i}": model for i, model in enumerate(
            train_references(recipe, self.inputs("retain"), self.y("retain"), self.n_classes, seeds))}
        # bound like the given models: by name if the recipe kept names, else by position
        self.models.update(resolve_features(self.data, trained, self.features, self.features,
                                            self._reserved)[2])
        self._probe_models()  # a reference missing a class the others have is bad input

    # -- accessors -------------------------------------------------------------
    def output_cache(self, batch_size: int) -> Any:
        """The cache every (model, split) goes through once.

        Parameters
        ----------
        batch_size : int
            Rows per forward call.

        Returns
        -------
        OutputCache
            A new :class:`audit.core.cache.OutputCache` over :attr:`models`, fed
            :meth:`inputs` and :meth:`y`, with the case's :attr:`task` (nothing computed yet).
        """
        from audit.core.cache import OutputCache

        return OutputCache(self.models, self.inputs, self.y, batch_size=batch_size, task=self.task)

    def data_extra(self) -> dict[str, Any]:
        """Extra fields of results.json ``data`` for this kind of case.

        Returns
        -------
        dict
            Empty for a table of features (a language-model case adds ``text``).
        """
        return {}

    @property
    def task(self) -> str:
        """``"classification"`` or ``"regression"`` (declared or detected, see ``task_info``)."""
        return self.task_info.task

    @property
    def reference_roles(self) -> list[str]:
        return [r for r in self.models if r.startswith("retrained:")]

    @cached_property
    def data_sha256(self) -> str:
        if self.data_path is not None:
            from audit.shared.digest import file_sha256

            return file_sha256(self.data_path)
        return frame_sha256(self.data)

    def forget_set_commitment(self) -> str | None:
        """Keyed commitment (``hmac-sha256-v1``) to the forget ids (:mod:`audit.shared.commitment`).

        Without a ``commitment_key`` the first call generates one and sets
        ``commitment_key_generated``; later calls reuse it.

        Returns
        -------
        str or None
            The commitment, or ``None`` when the case has no id column.
        """
        if self.id_col is None:
            return None
        from audit.shared.commitment import commit_ids, new_key

        if self.commitment_key is None:
            self.commitment_key, self.commitment_key_generated = new_key(), True
        ids = self.data.loc[self.mask("forget"), self.id_col].astype(str)
        return commit_ids(ids, self.commitment_key)


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value a user wrote (``5``, not ``np.int64(5)``)."""
    return value.item() if hasattr(value, "item") else value


def _check_recipe_code(recipe: Any, allow_code: bool) -> None:
    """A ``package.module:function`` recipe is arbitrary code: only with ``--allow-code``."""
    if isinstance(recipe, str) and ":" in recipe and not allow_code:
        raise BadInput("training.recipe", f"{recipe!r} names a Python function, which would run "
                       "when models are trained; pass --allow-code to trust it")


def _trusted_types(value: Any) -> list[str]:
    """Validate ``[models] trusted_types``: a list of dotted type names."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(t, str) and "." in t for t in value):
        raise BadInput("models.trusted_types", 'must be a list of dotted type names, e.g. '
                       '["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]')
    return sorted(set(value))
