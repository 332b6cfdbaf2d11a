"""The decision kernel: one rule, used by every check, that turns values into a status.

Every check asks *does the candidate look like what a fresh retrain would look like?*
It hands the kernel an :class:`Evidence`: the candidate's value of a statistic and its
row resamples (the same resampled rows for every model), each retrained reference scored
*as the candidate* (against the other references when the statistic is relative to them),
the original's value, the policy's floor margin and a comparator.

The null is the retrain distribution of ``delta = value - mean(references)``
(:class:`audit.core.null.Null`: the row bootstrap of the references' own deltas plus the
seed spread beyond it, Welch-Satterthwaite degrees of freedom). With ``c`` =
``retrain_coverage`` and ``m`` gated metrics in the check:

* ``pass`` — ``|delta|`` within ``max(floor, t(1 - (1 - c)/(2m)) * tau)``: the band that
  holds the share ``c`` of fresh retrains on all ``m`` metrics of the check at once;
* ``fail`` — beyond ``max(floor, t(1 - f/(2m)) * tau)``, ``f`` = ``fail_level``: a fresh
  retrain is failed by the check with probability at most ``f``; ``at_least`` /
  ``at_most`` comparators (harm checks) fail only on the harmful side;
* ``inconclusive`` — in between, with the references (``k_to_settle``) or rows
  (``n_to_settle``) at which the same delta would be a decided fail; also with too few
  rows (``min_rows``) or references (two; three for a relative statistic).

The same rule scores every reference against the others (the **negative control**: a
calibrated check passes its own references) and the original (the **positive control**:
its power to detect a no-op). The row interval of delta (``delta_ci``) is reported for
reading; it does not decide. See ``docs/decisions/0002-decision-kernel.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from audit.core.null import Null, leave_one_out_row_se, pooled_ratios, settle
from audit.core.results import Metric, worst_status

__all__ = [
    "ModelStat",
    "Evidence",
    "Settings",
    "Outcome",
    "decide",
    "decide_all",
    "check_controls",
    "row_mean_stats",
]


@dataclass(frozen=True)
class ModelStat:
    """One model's value of a statistic and its paired row-bootstrap replicates.

    Parameters
    ----------
    value : float
        The statistic on the rows.
    reps : ndarray
        Its paired bootstrap replicates.

    Examples
    --------
    >>> s = ModelStat(0.5, np.array([0.49, 0.51]))
    >>> s.value
    0.5
    """

    value: float
    reps: np.ndarray


@dataclass
class Evidence:
    """What a check measured for one metric, ready for :func:`decide`.

    ``references[j]`` is reference ``j`` scored *as the candidate* (against the other
    references when the statistic is relative to them); ``source`` says where the
    reference values came from, in words, for the report.

    Parameters
    ----------
    name, split : str
        The metric.
    candidate : ModelStat
        U (or whichever model is audited).
    references : list of ModelStat
        Each reference scored as the candidate.
    original : ModelStat or None
        O scored as the candidate (the positive control).
    comparator : str
        ``two_sided``, ``at_most`` or ``at_least``.
    floor : float or None
        Margin floor.
    n : int or None
        Rows behind the statistic.
    source : str
        Where the reference values came from.
    note : str, optional
        Shown with the metric.
    n_min_side : int, optional
        Rows of the smaller side (attacks).
    relative : bool
        Statistic relative to the references.
    """

    name: str
    split: str
    candidate: ModelStat
    references: list[ModelStat]
    original: ModelStat | None
    comparator: str
    floor: float | None
    n: int | None
    source: str
    note: str | None = None
    n_min_side: int | None = None
    relative: bool = False


@dataclass(frozen=True)
class Settings:
    """Kernel settings from the policy's ``[general]`` section.

    Parameters
    ----------
    alpha : float
        Level of the intervals.
    retrain_coverage : float
        Share of fresh retrains the pass band holds.
    min_rows, min_references : int
        Least rows and references to decide.
    fail_level : float
        A genuine retrain fails with at most this probability.

    Examples
    --------
    >>> Settings.from_policy({"alpha": 0.05, "retrain_coverage": 0.99, "min_rows": 20}).alpha
    0.05
    """

    alpha: float = 0.05
    retrain_coverage: float = 0.995
    min_rows: int = 20
    min_references: int = 2
    fail_level: float = 0.001

    @classmethod
    def from_policy(cls, general: dict[str, Any]) -> Settings:
        return cls(alpha=float(general["alpha"]),
                   retrain_coverage=float(general.get("retrain_coverage", 0.995)),
                   min_rows=int(general.get("min_rows", 20)),
                   fail_level=float(general.get("fail_level", 0.001)))


@dataclass
class Outcome:
    """A decision of one candidate on one metric (internal to the kernel).

    Parameters
    ----------
    status : str
        ``pass``, ``fail`` or ``inconclusive``.
    delta, delta_ci, margin
        The candidate's difference from the references, its interval, the band.
    n_to_settle, k_to_settle : int, optional
        Rows / references that would settle an inconclusive.
    why : str, optional
        The reason, in words.
    extra : dict
        Kernel details.
    """

    status: str
    delta: float | None = None
    delta_ci: tuple[float, float] | None = None
    margin: float | None = None
    n_to_settle: int | None = None
    k_to_settle: int | None = None
    why: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _interval(reps: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(reps, [tail, 1.0 - tail])
    return float(lo), float(hi)


def _status(delta: float, pass_margin: float, fail_margin: float, comparator: str) -> str:
    if comparator == "two_sided":
        harm = abs(delta)
    elif comparator == "at_most":  # larger is harmful
        harm = delta
    elif comparator == "at_least":  # smaller is harmful
        harm = -delta
    else:
        raise ValueError(f"unknown comparator {comparator!r}")
    if harm <= pass_margin:
        return "pass"
    if harm > fail_margin:
        return "fail"
    return "inconclusive"


def _effect(delta: float, pass_margin: float, fail_margin: float, comparator: str, status: str) -> str | None:
    """Which side a decided shift lies on: ``"harm"``, ``"improvement"`` or ``None``.

    A one-sided (harm) comparator fails only the harmful side; the other side is an
    *improvement* when it lies as far beyond the retrain distribution as a fail would
    (the two-sided rule would fail it). It is reported, never blocks.

    >>> _effect(-0.2, 0.05, 0.1, "at_least", "fail"), _effect(0.2, 0.05, 0.1, "at_least", "pass")
    ('harm', 'improvement')
    >>> _effect(0.2, 0.05, 0.1, "two_sided", "fail"), _effect(0.01, 0.05, 0.1, "at_most", "pass")
    (None, None)
    """
    if comparator not in ("at_least", "at_most"):
        return None
    if status == "fail":
        return "harm"
    benefit = delta if comparator == "at_least" else -delta
    return "improvement" if benefit > fail_margin else None


def _score(cand: ModelStat, refs: list[ModelStat], comparator: str, floor: float | None,
           settings: Settings, m: int, null: Null | None = None,
           pooled: tuple[float, float] | None = None, relative: bool = False) -> Outcome:
    """Score one candidate against a set of references.

    ``null`` overrides their spread; ``pooled`` = (seed/row variance ratio, its degrees of
    freedom) estimated over a family of metrics (see :func:`decide_all`).
    """
    vals = np.array([r.value for r in refs], dtype=np.float64)
    k = vals.size
    need = settings.min_references + (1 if relative else 0)
    if null is None and k < need:
        what = "a statistic measured against the references" if relative else "the retrain-to-retrain spread"
        return Outcome("inconclusive", why=f"needs >= {need} retrained references to measure the spread of "
                       f"{what} (has {k})", k_to_settle=need)
    if not (math.isfinite(cand.value) and np.all(np.isfinite(vals))):
        return Outcome("inconclusive", why="a value is not finite")
    if null is None:
        shrink = (k - 1) / (k - 2) if relative else 1.0  # undo the shared pairs of leave-one-out values
        row_se, sd = leave_one_out_row_se(cand, refs) * shrink, float(vals.std(ddof=1)) * shrink
        null = Null.pooled(sd, row_se, k, *pooled) if pooled is not None and row_se > 0 else \
            Null.from_parts(sd, row_se, k)
    delta = float(cand.value - vals.mean())
    pass_tail = (1.0 - settings.retrain_coverage) / (2.0 * max(m, 1))
    fail_tail = settings.fail_level / (2.0 * max(m, 1))
    fl = float(floor or 0.0)
    pass_margin = max(fl, null.quantile(1 - pass_tail) * null.tau)
    fail_margin = max(fl, null.quantile(1 - fail_tail) * null.tau, pass_margin)
    ci = None
    if np.size(cand.reps):
        d_reps = np.asarray(cand.reps, dtype=np.float64) - np.mean([r.reps for r in refs], axis=0)
        d_reps = d_reps[np.isfinite(d_reps)]
        ci = _interval(d_reps, 1.0 - 2.0 * settings.alpha) if d_reps.size else None
    status = _status(delta, pass_margin, fail_margin, comparator)
    out = Outcome(status, delta, ci, pass_margin,
                  extra={"seed_sd": null.seed_sd, "row_se": null.row_se, "tau": null.tau, "df": null.df,
                         "k": k, "fail_margin": fail_margin,
                         "effect": _effect(delta, pass_margin, fail_margin, comparator, status)})
    if status == "inconclusive":
        out.k_to_settle, factor = settle(delta, null, fail_tail, fl)
        out.extra["rows_factor"] = factor
    return out


def _negative_control(ev: Evidence, settings: Settings, m: int, full: Null | None) -> list[str]:
    """Each reference scored as the candidate against the others.

    When the others are too few to have a spread of their own (two references; three for
    a relative statistic), the null of the full set is used.
    """
    statuses = []
    k = len(ev.references)
    for j in range(k):
        others = [r for i, r in enumerate(ev.references) if i != j]
        use = None if k - 1 >= settings.min_references + (1 if ev.relative else 0) else full
        o = _score(ev.references[j], others, ev.comparator, ev.floor, settings, m, use, relative=ev.relative)
        statuses.append(o.status)
    return statuses


def decide(ev: Evidence, settings: Settings, m: int = 1, pooled: tuple[float, float] | None = None) -> Metric:
    """Decide one metric: the candidate, the negative and the positive control.

    Parameters
    ----------
    ev : Evidence
        The metric's values and row resamples.
    settings : Settings
        alpha, retrain coverage, minimum rows and references.
    m : int
        Gated metrics in the check (Bonferroni for the fail band).
    pooled : (float, float), optional
        The seed-to-row variance ratio and its degrees of freedom, pooled over a family.

    Returns
    -------
    Metric
        With ``status``, ``delta_ci``, the margin, the controls and where the
        reference came from.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> def stat(v): return ModelStat(v, v + rng.normal(0, 0.005, 500))
    >>> refs = [stat(v) for v in (0.50, 0.52, 0.49, 0.51)]
    >>> ev = Evidence("auc", "forget_vs_test", stat(0.505), refs, stat(0.80),
    ...               "two_sided", 0.02, 400, "mean of the references' AUCs")
    >>> m = decide(ev, Settings())
    >>> m.status, m.controls["original"]["status"], m.controls["negative"]["passed"]
    ('pass', 'fail', 4)
    """
    vals = [r.value for r in ev.references]
    ref_value = float(np.mean(vals)) if vals else None
    small = ev.n is not None and min(ev.n, ev.n_min_side or ev.n) < settings.min_rows
    if small:
        side = min(ev.n, ev.n_min_side or ev.n)
        out = Outcome("inconclusive", why=f"{side} rows < min_rows = {settings.min_rows}",
                      n_to_settle=settings.min_rows)
        orig = Outcome("inconclusive")
        neg: list[str] = []
    else:
        out = _score(ev.candidate, ev.references, ev.comparator, ev.floor, settings, m, pooled=pooled,
                     relative=ev.relative)
        orig = (_score(ev.original, ev.references, ev.comparator, ev.floor, settings, m, pooled=pooled,
                       relative=ev.relative)
                if ev.original is not None else Outcome("inconclusive", why="no original"))
        full = None
        if "tau" in out.extra:
            full = Null(out.extra["tau"], out.extra["df"], out.extra["seed_sd"], out.extra["row_se"], len(vals))
        neg = _negative_control(ev, settings, m, full) if len(vals) >= 2 else []
        factor = out.extra.get("rows_factor")
        if out.status == "inconclusive" and factor is not None and ev.n:
            out.n_to_settle = int(math.ceil(ev.n * factor))
    return _metric(ev, out, orig, neg, ref_value)


def _metric(ev: Evidence, out: Outcome, orig: Outcome, neg: list[str], ref_value: float | None) -> Metric:
    ref_reps = np.mean([r.reps for r in ev.references], axis=0) if ev.references else None
    notes = [x for x in (ev.note, out.why) if x]
    controls = {
        "negative": {"passed": sum(s == "pass" for s in neg), "failed": sum(s == "fail" for s in neg),
                     "total": len(neg), "statuses": neg},
        "original": {"value": ev.original.value if ev.original else None, "delta": orig.delta,
                     "delta_ci": list(orig.delta_ci) if orig.delta_ci else None, "status": orig.status},
    }
    return Metric(
        name=ev.name, split=ev.split, value=float(ev.candidate.value),
        ci=_interval(ev.candidate.reps, 0.9) if np.size(ev.candidate.reps) else None,
        reference=ref_value,
        reference_ci=_interval(ref_reps, 0.9) if ref_reps is not None and np.size(ref_reps) else None,
        delta=out.delta, delta_ci=out.delta_ci, margin=out.margin, comparator=ev.comparator,  # type: ignore[arg-type]
        n=ev.n, status=out.status, n_to_settle=out.n_to_settle, note="; ".join(notes) or None,
        fail_margin=out.extra.get("fail_margin"), k_to_settle=out.k_to_settle,
        reference_values=[float(v) for v in (r.value for r in ev.references)],
        reference_source=ev.source, seed_sd=out.extra.get("seed_sd"), row_se=out.extra.get("row_se"),
        null_sd=out.extra.get("tau"), null_df=out.extra.get("df"), controls=controls,
        effect=out.extra.get("effect"),
    )


def decide_all(evidence: list[Evidence], settings: Settings, pool_by: str | None = None) -> list[Metric]:
    """Decide every gated metric of a check with Bonferroni ``m = len(evidence)`` for fails.

    ``pool_by`` (a callable name key, ``"metric"``) pools the seed excess over evidence with
    the same metric name before ``[``: a family of many small groups estimates how much
    the references spread beyond the row bootstrap with ``(k - 1) x groups`` degrees of
    freedom instead of ``k - 1`` each, which keeps Bonferroni over many groups usable.

    Parameters
    ----------
    evidence : list of Evidence
        A check's gated metrics.
    settings : Settings
        Kernel settings.
    pool_by : str, optional
        ``"metric"`` to pool the seed excess by metric name.

    Returns
    -------
    list of Metric

    Examples
    --------
    >>> decide_all([], Settings())
    []
    """
    m = max(len(evidence), 1)
    pools: dict[str, tuple[float, float]] = {}
    if pool_by == "metric":
        pools = pooled_ratios(evidence, settings)
    return [decide(ev, settings, m, pools.get(ev.name.split("[")[0])) for ev in evidence]


def check_controls(metrics: list[Metric]) -> dict[str, Any]:
    """Check-level controls from its gated metrics.

    ``negative``: per reference, the worst status over the gated metrics when that
    reference is the candidate; ``passed`` of ``total``. ``positive``: the original's
    worst status; ``power`` is true when some gated metric fails the original.

    Parameters
    ----------
    metrics : list of Metric
        The check's decided metrics.

    Returns
    -------
    dict
        ``{"negative": ..., "positive": ...}``.

    Examples
    --------
    >>> check_controls([])["positive"]["power"]
    False
    """
    gated = [m for m in metrics if m.status and m.controls]
    k = max((m.controls["negative"]["total"] for m in gated), default=0)
    per_ref = []
    for j in range(k):
        sts = [m.controls["negative"]["statuses"][j] for m in gated
               if len(m.controls["negative"]["statuses"]) > j]
        per_ref.append(worst_status(sts) if sts else "inconclusive")
    orig = [m.controls["original"]["status"] for m in gated]
    detected = [f"{m.name}[{m.split}]" for m in gated if m.controls["original"]["status"] == "fail"]
    return {
        "negative": {"passed": sum(s == "pass" for s in per_ref), "failed": sum(s == "fail" for s in per_ref),
                     "total": len(per_ref), "statuses": per_ref},
        "positive": {"status": worst_status(orig) if orig else "inconclusive", "power": bool(detected),
                     "detected_by": detected},
    }


def row_mean_stats(rows: dict[str, np.ndarray], n_boot: int, rng: np.random.Generator) -> dict[str, ModelStat]:
    """Means of per-row values for several models, with paired bootstrap replicates.

    Every model's rows are resampled with the same indices, so differences are paired.

    Parameters
    ----------
    rows : dict of str to ndarray
        Per-row values of each model (same length).
    n_boot : int
        Replicates.
    rng : numpy.random.Generator
        Source of the resampling.

    Returns
    -------
    dict of str to ModelStat

    Examples
    --------
    >>> s = row_mean_stats({"a": np.ones(4), "b": np.zeros(4)}, 3, np.random.default_rng(0))
    >>> s["a"].value, s["a"].reps.shape
    (1.0, (3,))

    >>> rng = np.random.default_rng(0)
    >>> s = row_mean_stats({"a": np.ones(10), "b": np.zeros(10)}, 200, rng)
    >>> s["a"].value, s["b"].reps.shape
    (1.0, (200,))
    """
    from audit.core.stats import bootstrap_means

    names = list(rows)
    mat = np.stack([np.asarray(rows[r], dtype=np.float64) for r in names], axis=1)  # [n, M]
    if mat.shape[0] == 0:
        return {r: ModelStat(float("nan"), np.empty(0)) for r in names}
    reps = bootstrap_means(mat, n_boot, rng)
    return {r: ModelStat(float(mat[:, i].mean()), reps[:, i]) for i, r in enumerate(names)}
