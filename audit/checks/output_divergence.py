"""``output_divergence``: how far U's predictive distribution is from the references'.

Per row x and reference R_i: KL(R_i(x) || U(x)) (Golatkar et al. 2020 use the KL
between the scrubbed and the retrained model's outputs), Jensen-Shannon divergence,
total variation and top-1 disagreement. The value is the mean over references and
rows; the noise floor is the same quantity between pairs of references (two
retrains differ too). With ``auto`` margins, U passes when its divergence is at most
``1 + factor`` times the noise floor (never less than ``*_min_margin`` above it), on
every split, with the CI showing it.
"""

from __future__ import annotations

import itertools

import numpy as np

from audit.checks._paired import paired_metric, resolve_margin
from audit.checks.base import CheckContext, CheckSpec
from audit.checks.options import SPLITS, Option, switches
from audit.results import CheckResult, Figure, Metric, worst_status

__all__ = ["SPEC", "run", "row_divergences"]

_DIVERGENCES = ("kl", "js", "tv", "disagreement")


def row_divergences(logp_ref: np.ndarray, logp: np.ndarray) -> dict[str, np.ndarray]:
    """Per-row KL(ref||other), JS, total variation and top-1 disagreement (nats)."""
    p, q = np.exp(logp_ref), np.exp(logp)
    kl = np.sum(p * (logp_ref - logp), axis=1)
    m = 0.5 * (p + q)
    logm = np.log(np.clip(m, 1e-300, None))
    js = 0.5 * np.sum(p * (logp_ref - logm), axis=1) + 0.5 * np.sum(q * (logp - logm), axis=1)
    tv = 0.5 * np.abs(p - q).sum(axis=1)
    dis = (logp_ref.argmax(1) != logp.argmax(1)).astype(np.float64)
    return {"kl": np.maximum(kl, 0.0), "js": np.maximum(js, 0.0), "tv": tv, "disagreement": dis}


def _split_rows(ctx: CheckContext, split: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray] | None]:
    cache = ctx.cache
    refs = [cache.logprobs(r, split) for r in cache.reference_roles]
    u = cache.logprobs("unlearned", split)
    per_ref = [row_divergences(r, u) for r in refs]
    u_rows = {d: np.mean([x[d] for x in per_ref], axis=0) for d in _DIVERGENCES}
    if len(refs) < 2:
        return u_rows, None
    pairs = [row_divergences(refs[i], refs[j]) for i, j in itertools.permutations(range(len(refs)), 2)]
    r_rows = {d: np.mean([x[d] for x in pairs], axis=0) for d in _DIVERGENCES}
    return u_rows, r_rows


def _histogram(u: np.ndarray, r: np.ndarray | None, split: str) -> Figure:
    lu = np.log10(u + 1e-8)
    lr = None if r is None else np.log10(r + 1e-8)
    lo = float(min(lu.min(), lr.min() if lr is not None else lu.min()))
    hi = float(max(lu.max(), lr.max() if lr is not None else lu.max()))
    edges = np.linspace(lo, hi if hi > lo else lo + 1.0, 31)
    series = [{"label": "KL(R || U)", "bin_edges": edges, "counts": np.histogram(lu, edges)[0]}]
    if lr is not None:
        series.append({"label": "KL(R || R') noise floor", "bin_edges": edges,
                       "counts": np.histogram(lr, edges)[0]})
    return Figure("histogram", f"Per-row KL divergence on the {split} split",
                  {"series": series, "xlabel": "log10 KL per row (nats)"})


def run(ctx: CheckContext) -> CheckResult:
    """Compare U-vs-R divergences with the R-vs-R noise floor on every split."""
    pol = ctx.policy
    metrics: list[Metric] = []
    figures: list[Figure] = []
    missing: list[str] = []
    for split in pol["splits"]:
        if ctx.case.n.get(split, 0) == 0:
            continue
        u_rows, r_rows = _split_rows(ctx, split)
        for d in _DIVERGENCES:
            gate = d in pol["gate_on"]
            setting = pol[f"{d}_margin"]
            floor = None if r_rows is None else float(r_rows[d].mean())
            margin = resolve_margin(setting, floor, pol["auto_factor"])
            if margin is not None and setting == "auto":
                margin = max(margin, float(pol[f"{d}_min_margin"]))
            if r_rows is None:
                ref_rows = np.zeros_like(u_rows[d]) if setting != "auto" else np.full_like(u_rows[d], np.nan)
            else:
                ref_rows = r_rows[d]
            if r_rows is None and setting == "auto":
                m = Metric(d, split, float(u_rows[d].mean()), comparator="at_most" if gate else "info",
                           n=len(u_rows[d]), status="inconclusive" if gate else None,
                           note="auto margin needs >= 2 retrained references (noise floor)")
                missing_msg = "a second retrained reference (to measure the retrain noise floor)"
                if missing_msg not in missing:
                    missing.append(missing_msg)
            else:
                m = paired_metric(ctx, d, split, u_rows[d], ref_rows, margin if gate else None,
                                  "at_most" if gate else "info",
                                  note="reference = same divergence between pairs of retrained models")
            metrics.append(m)
        if split == "forget":
            figures.append(_histogram(u_rows["kl"], None if r_rows is None else r_rows["kl"], split))
    status = worst_status([m.status for m in metrics if m.status])
    return CheckResult(id="output_divergence", title=SPEC.title, status=status,
                       summary=_summary(status, metrics), metrics=metrics, figures=figures,
                       missing=missing)


def _summary(status: str, metrics: list[Metric]) -> str:
    forget_kl = next((m for m in metrics if m.name == "kl" and m.split == "forget"), None)
    tail = ""
    if forget_kl is not None and forget_kl.value is not None and forget_kl.reference:
        tail = (f" On the forget rows KL(R||U) = {forget_kl.value:.4g} against a retrain-to-retrain "
                f"noise floor of {forget_kl.reference:.4g}.")
    if status == "pass":
        return "U's predictions are as close to the retrained models as retrains are to each other." + tail
    if status == "fail":
        return "U's predictions differ from the retrained models by more than retrains differ." + tail
    return "The data cannot yet show U's predictions to be as close to retrains as retrains are." + tail


SPEC = CheckSpec(
    id="output_divergence",
    title="Output divergence from retrained models",
    run=run,
    order=20,
    options={
        **switches(required=True),
        "splits": Option(list, ["forget", "retain", "test"], "splits on which U is compared with R",
                         items=Option(str, choices=SPLITS), min_items=1, tighter="superset"),
        "gate_on": Option(list, ["kl"], "divergences that decide the status (the others are reported)",
                          items=Option(str, choices=_DIVERGENCES), min_items=1, tighter="superset"),
        "auto_factor": Option(float, 2.0, '"auto" margin = auto_factor x the R-R spread',
                              minimum=0, exclusive_minimum=True, tighter="lower"),
        "kl_margin": Option(float, "auto", "KL margin", minimum=0, allow_auto=True, tighter="lower"),
        "js_margin": Option(float, "auto", "Jensen-Shannon margin", minimum=0, allow_auto=True,
                            tighter="lower"),
        "tv_margin": Option(float, "auto", "total-variation margin", minimum=0, maximum=1,
                            allow_auto=True, tighter="lower"),
        "disagreement_margin": Option(float, "auto", "top-1 disagreement margin", minimum=0, maximum=1,
                                      allow_auto=True, tighter="lower"),
        # auto margins never go below these (two retrains can agree perfectly on a split)
        "kl_min_margin": Option(float, 0.001, "floor of the auto KL margin", minimum=0, tighter="lower"),
        "js_min_margin": Option(float, 0.0005, "floor of the auto JS margin", minimum=0, tighter="lower"),
        "tv_min_margin": Option(float, 0.01, "floor of the auto TV margin", minimum=0, maximum=1,
                                tighter="lower"),
        "disagreement_min_margin": Option(float, 0.02, "floor of the auto disagreement margin",
                                          minimum=0, maximum=1, tighter="lower"),
    },
)
