"""The decision kernel: one rule, used by every check, that turns values into a status.

The question every check asks is *does the candidate look like what a fresh retrain
would look like?* The kernel answers it from four inputs:

* the candidate's value of a statistic and its row resamples (paired bootstrap: the same
  resampled rows for every model);
* every retrained reference's value of the same statistic, each reference scored as the
  candidate (leave-one-out where the statistic is relative to the references);
* the original model's value (the positive control);
* the policy's floor margin and the comparator.

**The null is the retrain distribution**, with both sources of variance:

* *seeds* — the spread ``s`` of the references' values. A fresh retrain lands within
  ``t_{k-1}(1 - g/2) * s * sqrt(1 + 1/k)`` of the references' mean with probability
  ``1 - g`` (the normal prediction interval for one new draw, ``g`` =
  ``1 - retrain_coverage``; Student's t because ``s`` comes from only ``k`` references).
  That half-width, or the policy's floor when larger, is the **equivalence margin**.
* *rows* — the paired bootstrap of ``delta = value - mean(references)``.

Decision (two one-sided tests against that margin):

* ``pass`` — the ``1 - 2*alpha`` interval of delta lies inside the margin;
* ``fail`` — the ``1 - 2*alpha/m`` interval (Bonferroni over the ``m`` gated metrics of
  the check) lies entirely beyond it; ``at_most`` / ``at_least`` comparators (harm checks)
  only fail on the harmful side;
* ``inconclusive`` otherwise, with the rows (``n_to_settle``) or references
  (``k_to_settle``) that would settle it.

Fewer than two references (no spread) or fewer rows than ``min_rows`` give
``inconclusive`` with what is needed. The same rule scores every reference against the
others (the **negative control**: a calibrated check passes its own references) and the
original (the **positive control**: its power to detect a no-op).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats as sps

from audit.results import Metric, worst_status

__all__ = [
    "ModelStat",
    "Evidence",
    "Settings",
    "Outcome",
    "decide",
    "decide_all",
    "check_controls",
    "row_mean_stats",
    "prediction_margin",
]


@dataclass(frozen=True)
class ModelStat:
    """One model's value of a statistic and its paired row-bootstrap replicates.

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

    Examples
    --------
    >>> Settings.from_policy({"alpha": 0.05, "retrain_coverage": 0.99, "min_rows": 20}).alpha
    0.05
    """

    alpha: float = 0.05
    retrain_coverage: float = 0.99
    min_rows: int = 20
    min_references: int = 2

    @classmethod
    def from_policy(cls, general: dict[str, Any]) -> Settings:
        return cls(alpha=float(general["alpha"]),
                   retrain_coverage=float(general.get("retrain_coverage", 0.99)),
                   min_rows=int(general.get("min_rows", 20)))


@dataclass
class Outcome:
    """A decision of one candidate on one metric (internal to the kernel)."""

    status: str
    delta: float | None = None
    delta_ci: tuple[float, float] | None = None
    fail_ci: tuple[float, float] | None = None
    margin: float | None = None
    n_to_settle: int | None = None
    k_to_settle: int | None = None
    why: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def prediction_margin(values: np.ndarray, coverage: float) -> float | None:
    """Half-width of the ``coverage`` prediction interval for one more draw.

    ``t_{k-1}((1 + coverage)/2) * sd * sqrt(1 + 1/k)`` for ``k`` values; ``None`` below 2.

    >>> round(prediction_margin(np.array([0.0, 1.0, 2.0, 3.0]), 0.99), 3)
    8.431
    """
    v = np.asarray(values, dtype=np.float64)
    k = v.size
    if k < 2:
        return None
    sd = float(v.std(ddof=1))
    q = float(sps.t.ppf(0.5 + coverage / 2.0, k - 1))
    return q * sd * math.sqrt(1.0 + 1.0 / k)


@dataclass(frozen=True)
class Null:
    """The retrain distribution of ``delta``: its SD ``tau`` and degrees of freedom.

    Two estimates of the same retrain-to-retrain variance are combined. The row
    bootstrap of each reference's delta against the others (``row_se``) measures the
    model-by-row variation with many resamples; the spread of the references' values
    (``seed_sd``, ``k - 1`` degrees of freedom) also sees model-level seed effects that
    move every row at once. ``tau**2 = (row_se**2 + max(0, seed_sd**2 - row_se**2)) *
    (1 + 1/k)``: the references add what exceeds the row part, and the Welch-Satterthwaite
    degrees of freedom fall towards ``k - 1`` as that excess dominates.

    Examples
    --------
    >>> n = Null.estimate(np.array([0.50, 0.52, 0.49, 0.51]), row_se=0.02)
    >>> round(n.tau, 4), n.df
    (0.0224, inf)
    """

    tau: float
    df: float
    seed_sd: float
    row_se: float
    k: int

    @classmethod
    def estimate(cls, values: np.ndarray, row_se: float) -> Null:
        """From the references' values (``k >= 2``) and the row-bootstrap SD."""
        return cls.from_parts(float(np.std(values, ddof=1)), row_se, int(np.size(values)))

    @classmethod
    def from_parts(cls, sd: float, row_se: float, k: int) -> Null:
        """From the seed SD, the row SD and the number of references."""
        inflate = 1.0 + 1.0 / k
        excess = max(0.0, sd * sd - row_se * row_se) * inflate
        tau2 = row_se * row_se * inflate + excess
        df = math.inf if excess == 0 else tau2 * tau2 / (excess * excess / (k - 1))
        return cls(math.sqrt(tau2), df, sd, row_se, k)

    @classmethod
    def pooled(cls, sd: float, row_se: float, k: int, ratio: float, df_pool: float) -> Null:
        """With the seed excess estimated jointly over a family of metrics.

        ``ratio`` = the family's pooled ``seed_sd**2 / row_se**2``; its ``df_pool`` degrees of
        freedom replace this metric's own ``k - 1``. The metric's own excess is used when
        larger (a group the forgotten rows shaped may vary more between retrains than most).
        """
        inflate = 1.0 + 1.0 / k
        own = max(0.0, sd * sd - row_se * row_se)
        excess = max(own, max(0.0, ratio - 1.0) * row_se * row_se) * inflate
        tau2 = row_se * row_se * inflate + excess
        df = math.inf if excess == 0 else tau2 * tau2 / (excess * excess / df_pool)
        return cls(math.sqrt(tau2), df, sd, row_se, k)

    def quantile(self, p: float) -> float:
        return float(sps.norm.ppf(p) if not math.isfinite(self.df) or self.df > 1e6 else sps.t.ppf(p, self.df))


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


def _row_se(cand: ModelStat, refs: list[ModelStat]) -> float:
    """Row-bootstrap SD of ``delta`` for each reference scored against the others (RMS)."""
    if not np.size(cand.reps) or len(refs) < 2:
        return 0.0
    reps = np.stack([r.reps for r in refs])
    k = len(refs)
    loo = reps - (reps.sum(axis=0, keepdims=True) - reps) / (k - 1)
    return float(np.sqrt(np.mean(np.var(loo, axis=1))))


def _settle(delta: float, null: Null, fail_tail: float, floor: float) -> tuple[int | None, int | None]:
    """References (``k``) or a row-noise shrink factor at which ``delta`` would be a decided fail."""
    target = abs(delta)
    if target <= floor:
        return None, None
    k_need = None
    for kk in range(null.k + 1, 201):
        more = Null.from_parts(null.seed_sd, null.row_se, kk)
        if more.quantile(1 - fail_tail) * more.tau < target:
            k_need = kk
            break
    rows_factor = None
    q = null.quantile(1 - fail_tail)
    inflate = 1 + 1 / null.k
    seed_part = max(0.0, null.seed_sd ** 2 - null.row_se ** 2) * inflate
    room = (target / q) ** 2 - seed_part
    if null.row_se > 0 and room > 0:
        rows_factor = null.row_se ** 2 * inflate / room  # rows must grow by this factor
    return k_need, (None if rows_factor is None else rows_factor)


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
        row_se, sd = _row_se(cand, refs) * shrink, float(vals.std(ddof=1)) * shrink
        null = Null.pooled(sd, row_se, k, *pooled) if pooled is not None and row_se > 0 else \
            Null.from_parts(sd, row_se, k)
    delta = float(cand.value - vals.mean())
    pass_tail = (1.0 - settings.retrain_coverage) / 2.0
    fail_tail = pass_tail / max(m, 1)
    fl = float(floor or 0.0)
    pass_margin = max(fl, null.quantile(1 - pass_tail) * null.tau)
    fail_margin = max(fl, null.quantile(1 - fail_tail) * null.tau, pass_margin)
    ci = None
    if np.size(cand.reps):
        d_reps = np.asarray(cand.reps, dtype=np.float64) - np.mean([r.reps for r in refs], axis=0)
        d_reps = d_reps[np.isfinite(d_reps)]
        ci = _interval(d_reps, 1.0 - 2.0 * settings.alpha) if d_reps.size else None
    status = _status(delta, pass_margin, fail_margin, comparator)
    out = Outcome(status, delta, ci, (-fail_margin, fail_margin), pass_margin,
                  extra={"seed_sd": null.seed_sd, "row_se": null.row_se, "tau": null.tau, "df": null.df,
                         "k": k, "fail_margin": fail_margin})
    if status == "inconclusive":
        out.k_to_settle, factor = _settle(delta, null, fail_tail, fl)
        out.extra["rows_factor"] = factor
    return out


def _negative_control(ev: Evidence, settings: Settings, m: int, full: Null | None) -> list[str]:
    """Each reference scored as the candidate against the others.

    With three or more references the others' own spread sets the margin; with two, the
    remaining reference has no spread, so the null of the full set is used (said so in
    the report).
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
    )


def decide_all(evidence: list[Evidence], settings: Settings, pool_by: str | None = None) -> list[Metric]:
    """Decide every gated metric of a check with Bonferroni ``m = len(evidence)`` for fails.

    ``pool_by`` (a callable name key, ``"metric"``) pools the seed excess over evidence with
    the same metric name before ``[``: a family of many small groups estimates how much
    the references spread beyond the row bootstrap with ``(k - 1) x groups`` degrees of
    freedom instead of ``k - 1`` each, which keeps Bonferroni over many groups usable.

    >>> decide_all([], Settings())
    []
    """
    m = max(len(evidence), 1)
    pools: dict[str, tuple[float, float]] = {}
    if pool_by == "metric":
        pools = _pooled_ratios(evidence, settings)
    return [decide(ev, settings, m, pools.get(ev.name.split("[")[0])) for ev in evidence]


def _pooled_ratios(evidence: list[Evidence], settings: Settings) -> dict[str, tuple[float, float]]:
    """Per metric family: pooled seed variance / pooled row variance, and its df."""
    acc: dict[str, list[tuple[float, float, int]]] = {}
    for ev in evidence:
        k = len(ev.references)
        if k < settings.min_references or (ev.n or 0) < settings.min_rows:
            continue
        vals = np.array([r.value for r in ev.references])
        row = _row_se(ev.candidate, ev.references)
        if np.all(np.isfinite(vals)) and row > 0:
            acc.setdefault(ev.name.split("[")[0], []).append((float(vals.var(ddof=1)), row * row, k - 1))
    out = {}
    for key, items in acc.items():
        seed = sum(s * d for s, _, d in items) / sum(d for *_, d in items)
        row = float(np.mean([r for _, r, _ in items]))
        out[key] = (seed / row, float(sum(d for *_, d in items)))
    return out


def check_controls(metrics: list[Metric]) -> dict[str, Any]:
    """Check-level controls from its gated metrics.

    ``negative``: per reference, the worst status over the gated metrics when that
    reference is the candidate; ``passed`` of ``total``. ``positive``: the original's
    worst status; ``power`` is true when some gated metric fails the original.

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

    >>> rng = np.random.default_rng(0)
    >>> s = row_mean_stats({"a": np.ones(10), "b": np.zeros(10)}, 200, rng)
    >>> s["a"].value, s["b"].reps.shape
    (1.0, (200,))
    """
    from audit.stats import bootstrap_stat

    names = list(rows)
    mat = np.stack([np.asarray(rows[r], dtype=np.float64) for r in names], axis=0)  # [M, n]
    n = mat.shape[1]
    if n == 0:
        return {r: ModelStat(float("nan"), np.empty(0)) for r in names}
    reps = bootstrap_stat(lambda idx: np.stack([c[idx].mean(axis=1) for c in mat], axis=1),
                          n, n_boot, rng, width=len(names))
    return {r: ModelStat(float(mat[i].mean()), reps[:, i]) for i, r in enumerate(names)}
