"""Class removal as a forget kind of method mode: which class, and the lab's rows for it.

A method audit's default forget set is random rows with a planted signal (decision record
0008). With ``forget_kind = "class"`` the lab instead removes one class ``K`` whole
(decision record 0017): every training row (the case's forget + retain rows) labelled
``K`` is the forget set, the other training rows are the retain set; the originals learn
from both, the references only from the retain rows, so what a retrain does with a class
it never saw (no accuracy on ``K``, every other class unchanged) comes from the references
themselves. No column is planted.

Splits of the lab (:func:`class_removal_rows`): ``forget`` (training rows of ``K``),
``retain`` (the other training rows), ``test`` (test rows of the kept classes: utility) and
``test_dropped`` (test rows of ``K``: never trained on by anyone, the non-members a
membership question about the forgotten class is matched on).
"""

from __future__ import annotations

import numpy as np

from audit.core.case import AuditCase
from audit.shared.errors import BadInput

__all__ = ["METHOD_FORGET_KINDS", "resolve_method_forget_kind", "class_removal_rows"]

METHOD_FORGET_KINDS = ("random", "class")


def _whole_classes(case: AuditCase) -> list[int]:
    """Labels whose training rows are all in the case's forget set."""
    f, r = case.y("forget"), case.y("retain")
    return sorted(int(c) for c in np.unique(f) if not np.any(r == c))


def resolve_method_forget_kind(case: AuditCase, forget_kind: str | None = None,
                               forget_class: int | None = None) -> tuple[str, int | None]:
    """``(kind, class)`` of a method audit: declared here, else the case's ``[case] forget_kind``.

    Parameters
    ----------
    case : AuditCase
        The case; its declared ``forget_kind`` is the default.
    forget_kind : str, optional
        ``"random"`` (planted signal) or ``"class"`` (one class removed whole).
    forget_class : int, optional
        The class to remove; default (class kind only): the one class whose training rows
        are all in the case's forget set.

    Returns
    -------
    tuple of (str, int or None)
        The kind and, for ``class``, the label removed.

    Examples
    --------
    >>> import pandas as pd
    >>> from audit.core.adapters import CallableModel
    >>> m = CallableModel(lambda X: np.zeros((len(X), 3)), "m")
    >>> df = pd.DataFrame({"x": range(9), "label": [0, 1, 2] * 3,
    ...                    "split": ["forget", "retain", "retain", "forget", "retain", "test"] + ["test"] * 3})
    >>> case = AuditCase(original=m, unlearned=m, retrained=[m], data=df)
    >>> resolve_method_forget_kind(case, "class", 2)
    ('class', 2)
    >>> resolve_method_forget_kind(case, "class")
    ('class', 0)
    >>> declared = AuditCase(original=m, unlearned=m, retrained=[m], data=df, forget_kind="class")
    >>> resolve_method_forget_kind(declared), resolve_method_forget_kind(case)
    (('class', 0), ('random', None))
    """
    kind = forget_kind if forget_kind is not None else (getattr(case, "forget_kind", None) or "random")
    field = "--forget-kind" if forget_kind is not None else "case.forget_kind"
    if kind not in METHOD_FORGET_KINDS:
        raise BadInput(field, f"method mode supports {list(METHOD_FORGET_KINDS)} forget sets, got {kind!r} "
                              "(group and feature removal are audited in model mode)")
    if kind == "random":
        if forget_class is not None:
            raise BadInput("--forget-class", "only with --forget-kind class")
        return kind, None
    if getattr(case, "task", "classification") == "regression":
        raise BadInput(field, '"class" needs class labels; this case is a regression')
    if forget_class is None:
        whole = _whole_classes(case)
        if len(whole) != 1:
            found = f"classes {whole} are" if whole else "no class is"
            raise BadInput("--forget-class", f"name the class to remove: {found} forgotten whole in the "
                                             "case's own split")
        return kind, whole[0]
    labels = set(np.unique(np.concatenate([case.y(s) for s in ("forget", "retain", "test")])).tolist())
    if int(forget_class) not in labels:
        raise BadInput("--forget-class", f"class {forget_class} is not a label of this case ({sorted(labels)})")
    return kind, int(forget_class)


def class_removal_rows(case: AuditCase, cls: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Features and labels of the class-removal lab's splits (see the module docstring).

    Parameters
    ----------
    case : AuditCase
        A classification case; its forget and retain rows together are the training rows, its
        test rows the test rows.
    cls : int
        The class removed whole.

    Returns
    -------
    tuple of (dict, dict)
        ``X`` (float32 features) and ``y`` (labels) per split: ``forget`` (training rows of
        ``cls``), ``retain`` (the other training rows), ``test`` (test rows of the other
        classes) and ``test_dropped`` (test rows of ``cls``).

    Raises
    ------
    BadInput
        ``--forget-class``: one of the four splits would be empty.

    Examples
    --------
    >>> import pandas as pd
    >>> from audit.core.adapters import CallableModel
    >>> m = CallableModel(lambda X: np.zeros((len(X), 2)), "m")
    >>> df = pd.DataFrame({"x": range(8), "label": [0, 1] * 4, "split": ["forget", "retain"] * 2 + ["test"] * 4})
    >>> X, y = class_removal_rows(AuditCase(original=m, unlearned=m, retrained=[m], data=df), 1)
    >>> {s: len(v) for s, v in y.items()}
    {'forget': 2, 'retain': 2, 'test': 2, 'test_dropped': 2}
    """
    Xtr = np.concatenate([case.X("forget"), case.X("retain")]).astype(np.float32)
    ytr = np.concatenate([case.y("forget"), case.y("retain")])
    Xte, yte = case.X("test").astype(np.float32), case.y("test")
    parts = {"forget": (Xtr, ytr, ytr == cls), "retain": (Xtr, ytr, ytr != cls),
             "test": (Xte, yte, yte != cls), "test_dropped": (Xte, yte, yte == cls)}
    for split, (_, _, mask) in parts.items():
        if not mask.any():
            raise BadInput("--forget-class", f"class {cls} leaves the {split} rows empty: the lab needs "
                                             "training and test rows of the class and of the others")
    X = {s: v[m] for s, (v, _, m) in parts.items()}
    y = {s: lab[m].copy() for s, (_, lab, m) in parts.items()}
    return X, y
