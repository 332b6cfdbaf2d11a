"""The ``method`` check's evidence when the forget set is a whole class (decision record 0017).

Per seed, every gated metric through the kernel (candidate ``U_s``, each ``R_j`` against the
others, ``O_s`` as the no-op), the retrains' behaviour on a class they never saw being the
reference — never an absolute number:

* ``accuracy`` on the retain rows and on the kept classes' test rows (harm, ``at_least``);
* ``forget_accuracy`` — accuracy on the forgotten class's training rows (two-sided: a retrain
  scores ~0; a method that keeps the class fails, one cannot do "better" than the retrains'
  band without the kernel saying so);
* ``dropped_class_mass`` — mean probability of the forgotten class on its rows (two-sided):
  the softer form of the same question, which an argmax hides (accuracy 0 with 40 % mass on
  the class is not a retrain);
* ``kept_class_agreement`` — where the forgotten rows go: per row, does the model's most
  likely *kept* class (argmax over the classes other than ``K``) agree with each retrain's?
  Leave-one-out against the references, ``at_least``. Bounded in [0, 1], unlike KL(R || U),
  whose log-ratio on a class a retrain gives ~1e-5 is heavy-tailed.

Not gated (``info``): the membership loss-attack AUC matched on the class (forget rows vs
test rows of ``K``; under a retrain both are rows of a class it never saw, so the losses are
governed by the dropped-class mass, which is gated), accuracy on the test rows of ``K`` and
KL(R || U).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from attacks.metrics import auc
from audit.checks._paired import leave_one_out_rows, model_roles, row_evidence
from audit.checks.base import CheckContext
from audit.core.decision import Evidence
from audit.core.results import Metric

__all__ = ["class_seed_evidence", "class_info", "kept_argmax"]


def kept_argmax(logprobs: np.ndarray, dropped: int) -> np.ndarray:
    """Most likely class among those other than ``dropped``, per row.

    Parameters
    ----------
    logprobs : ndarray
        ``(rows, classes)`` log-probabilities (not modified: a copy is masked).
    dropped : int
        Index of the class to exclude from the argmax.

    Returns
    -------
    ndarray
        Per row, the index of the class with the highest log-probability other than ``dropped``.

    Examples
    --------
    >>> kept_argmax(np.log(np.array([[0.1, 0.7, 0.2], [0.5, 0.1, 0.4]])), 1).tolist()
    [2, 0]
    """
    lp = np.array(logprobs, dtype=np.float64, copy=True)
    lp[:, int(dropped)] = -np.inf
    return lp.argmax(axis=1)


def class_seed_evidence(ctx: CheckContext, tag: str) -> tuple[list[Evidence], list[str]]:
    """Gated evidence of one seed of a class removal (see the module docstring).

    Four row-level metrics through :func:`audit.checks._paired.row_evidence`: ``accuracy`` on
    ``retain`` and ``test`` (``at_least``, ``accuracy_margin``), ``forget_accuracy`` (two-sided,
    ``class_accuracy_margin``), ``dropped_class_mass`` (two-sided, ``class_mass_margin``) and
    ``kept_class_agreement`` (leave-one-out against the references, ``at_least``, relative,
    ``agreement_margin``).

    Parameters
    ----------
    ctx : CheckContext
        The ``method`` check's context for one seed: ``cache`` holds that seed's ``unlearned``,
        ``original`` and ``retrained:*`` outputs, ``extras["target"]`` is the removed class and
        ``policy`` holds the margins named above.
    tag : str
        Suffix appended to every metric name, e.g. ``"[seed=0]"``.

    Returns
    -------
    tuple of (list of Evidence, list of str)
        The evidence for the kernel, and notes (always empty here: a class removal has no
        planted column or canary that could be missing; the tuple matches the planted-row
        evidence function it replaces).
    """
    pol, c, k = ctx.policy, ctx.cache, int(ctx.extras["target"])
    refs, roles = model_roles(ctx)
    src = "each retrained reference's {} on the same rows"
    ev = [row_evidence(ctx, f"accuracy{tag}", s, {r: c.correct(r, s) for r in roles}, "at_least",
                       float(pol["accuracy_margin"]), src.format("accuracy"),
                       note="test = the kept classes' test rows" if s == "test" else None)
          for s in ("retain", "test")]
    ev.append(row_evidence(ctx, f"forget_accuracy{tag}", "forget", {r: c.correct(r, "forget") for r in roles},
                           "two_sided", float(pol["class_accuracy_margin"]), src.format("accuracy"),
                           note=f"accuracy on the training rows of the removed class {k}"))
    mass = {r: np.exp(c.logprobs(r, "forget")[:, k]) for r in roles}
    ev.append(row_evidence(ctx, f"dropped_class_mass{tag}", "forget", mass, "two_sided",
                           float(pol["class_mass_margin"]), src.format("probability of the removed class"),
                           note=f"mean probability of the removed class {k} on its training rows"))
    top = {r: kept_argmax(c.logprobs(r, "forget"), k) for r in roles}
    agree = leave_one_out_rows(ctx, lambda r, m: (top[r] == top[m]).astype(float))
    ev.append(row_evidence(ctx, f"kept_class_agreement{tag}", "forget", agree, "at_least",
                           float(pol["agreement_margin"]), "each retrained reference's agreement with the others",
                           note="share of the removed class's rows whose most likely kept class agrees with a "
                                "retrain's (mean over the references other than the model)", relative=True))
    return ev, []


def _auc(cache: Any, role: str) -> float:
    f, t = cache.losses(role, "forget"), cache.losses(role, "test_dropped")
    return auc(-np.r_[f, t], np.r_[np.ones(len(f)), np.zeros(len(t))])


def class_info(runs: list[Any]) -> list[Metric]:
    """Reported, no status: the class-matched loss attack and accuracy on the class's test rows.

    Parameters
    ----------
    runs : list of SeedRun
        One :class:`audit.checks.method.SeedRun` per seed; each ``cache`` has the split
        ``test_dropped`` (test rows of the removed class). The references are read from the
        first seed's cache.

    Returns
    -------
    list of Metric
        Two ``comparator="info"`` metrics: ``loss_attack_auc`` on ``forget_vs_test_dropped``
        (loss attack AUC of forget rows against the class's test rows) and ``accuracy`` on
        ``test_dropped``; each the mean of ``U`` over seeds with the mean over the references
        as ``reference``.
    """
    refs = list(runs[0].cache.reference_roles)
    u = [_auc(r.cache, "unlearned") for r in runs]
    ref = [_auc(runs[0].cache, j) for j in refs]
    acc_u = [float(r.cache.correct("unlearned", "test_dropped").mean()) for r in runs]
    acc_r = [float(runs[0].cache.correct(j, "test_dropped").mean()) for j in refs]
    return [
        Metric("loss_attack_auc", "forget_vs_test_dropped", float(np.mean(u)), reference=float(np.mean(ref)),
               delta=float(np.mean(u) - np.mean(ref)), comparator="info", n=len(runs),
               note="loss attack AUC, training vs test rows of the removed class (matched on the class), mean "
                    "over seeds; reference = mean over the references; context: under a retrain both sides "
                    "are rows of a class it never saw (dropped_class_mass is the gated form)"),
        Metric("accuracy", "test_dropped", float(np.mean(acc_u)), reference=float(np.mean(acc_r)),
               delta=float(np.mean(acc_u) - np.mean(acc_r)), comparator="info", n=len(runs),
               note="accuracy on the removed class's test rows, mean over seeds (context)"),
    ]
